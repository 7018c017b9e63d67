"""The Objects list of a bucket: folders, breadcrumbs, pages, find by prefix; upload, folders, bulk actions."""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.console.actions import Action
from sealbox.console.views.keys import encryption_of, usable_kms_keys
from sealbox.console.context import Console
from sealbox.console.explain import explain
from sealbox.console.policy_context import acting_on
from sealbox.console.uploads import BrowserUpload, EmptyPayload
from sealbox.console.views.common import acting, back, error_message, parent_prefix, principal_of, render
from sealbox.console.web import BadRequest, Request, Response, Router, as_json, redirect, url
from sealbox.core.errors import SealboxError
from sealbox.core.types import SSE_AES256, ObjectVersion
from sealbox.service.identity import Principal
from sealbox.service.objects import WriteParams

PAGE_SIZE = 100
MAX_FOLDER_SCAN = 10_000  # entries of one folder listed for a page: sort, counts and find cover these
SORTS = ("name", "size", "modified")
MAX_SELECTION = 10_000
DEFAULT_TYPE = "binary/octet-stream"
# The encryption an upload may ask for: the form's value -> x-amz-server-side-encryption (None: not asked).
UPLOAD_SSE = {None: None, SSE_AES256: SSE_AES256}


@dataclass(frozen=True)
class Crumb:
    label: str
    prefix: str


@dataclass(frozen=True)
class Folder:
    prefixes: list[str]
    objects: list[ObjectVersion]
    complete: bool  # False: the folder has more than MAX_FOLDER_SCAN entries and these are the first


@dataclass(frozen=True)
class Selection:
    keys: list[str]
    prefixes: list[str]

    @property
    def count(self) -> int:
        return len(self.keys) + len(self.prefixes)

    def values(self) -> list[str]:
        return [f"k:{k}" for k in self.keys] + [f"p:{p}" for p in self.prefixes]


def objects_url(bucket: str, prefix: str = "") -> str:
    return url(f"/buckets/{bucket}", prefix=prefix)


def breadcrumbs(prefix: str) -> list[Crumb]:
    crumbs: list[Crumb] = []
    at = 0
    while (cut := prefix.find("/", at)) >= 0:
        crumbs.append(Crumb(prefix[at:cut] or "/", prefix[: cut + 1]))
        at = cut + 1
    return crumbs


def parse_selection(values: list[str]) -> Selection:
    """Checkbox values: "k:<key>" for an object, "p:<prefix>" for a folder (and all under it)."""
    if len(values) > MAX_SELECTION:
        raise BadRequest(f"Select at most {MAX_SELECTION} objects and folders at once.")
    keys = [v[2:] for v in values if v.startswith("k:") and len(v) > 2]
    prefixes = [v[2:] for v in values if v.startswith("p:") and v.endswith("/")]
    return Selection(sorted(set(keys)), sorted(set(prefixes)))


def register(router: Router, c: Console) -> None:
    services = c.services

    async def list_objects(req: Request) -> Response:
        name = req.params["bucket"]
        prefix, find = req.query("prefix"), req.query("find")
        sort, order = req.query("sort", "name"), req.query("order", "asc")
        if sort not in SORTS or order not in ("asc", "desc"):
            raise BadRequest("Unknown sort order.")
        page_no = int(req.query("page", "1")) if req.query("page", "1").isdigit() else 1
        # The ListObjects requests an S3 client would send for this folder (for s3:prefix/s3:delimiter).
        principal = acting(req, name, query={"prefix": prefix, "delimiter": "/"})
        bucket = services.buckets.get(principal, name, "s3:ListBucket")
        folder = await scan_folder(principal, name, prefix)
        needle = find.casefold()
        folders = [(p, p[len(prefix):]) for p in folder.prefixes if needle in p[len(prefix):].casefold()]
        entries: list[tuple[ObjectVersion, str]] = [
            (v, v.key[len(prefix):]) for v in folder.objects if needle in v.key[len(prefix):].casefold()]
        if sort == "size":
            entries.sort(key=lambda e: (e[0].size, e[1]), reverse=order == "desc")
        elif sort == "modified":
            entries.sort(key=lambda e: (e[0].last_modified, e[1]), reverse=order == "desc")
        elif order == "desc":
            folders.reverse()
            entries.reverse()
        rows: list[tuple[str, str, ObjectVersion | None]] = \
            [(p, label, None) for p, label in folders] + [(v.key, label, v) for v, label in entries]
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page_no = min(page_no, pages)
        shown = rows[(page_no - 1) * PAGE_SIZE: page_no * PAGE_SIZE]

        def page_url(n: int | None = None, **change: str) -> str:
            q = {"prefix": prefix, "find": find, "sort": sort, "order": order, **change}
            return url(f"/buckets/{name}", prefix=q["prefix"], find=q["find"],
                       sort=None if q["sort"] == "name" else q["sort"],
                       order=None if q["order"] == "asc" else q["order"], page=n if n and n > 1 else None)

        sort_urls = {col: page_url(None, sort=col, order="desc" if col == sort and order == "asc" else "asc")
                     for col in SORTS}
        return render(c, req, "objects.html", nav="buckets", bucket=bucket, prefix=prefix, find=find,
                      crumbs=breadcrumbs(prefix), rows=shown, sort=sort, order=order, sort_urls=sort_urls,
                      page_no=page_no, pages=pages,
                      prev_url=page_url(page_no - 1) if page_no > 1 else None,
                      next_url=page_url(page_no + 1) if page_no < pages else None,
                      first_url=page_url(1) if page_no > 1 else None,
                      matched=(len(folders), len(entries), sum(v.size for v, _ in entries)),
                      counts=(len(folder.prefixes), len(folder.objects), sum(v.size for v in folder.objects)),
                      complete=folder.complete, scan_limit=MAX_FOLDER_SCAN,
                      rule=services.buckets.default_encryption(bucket))

    async def scan_folder(principal: Principal, name: str, prefix: str) -> Folder:
        """The folder's direct subfolders and objects, listed as ListObjects pages them, up to
        ``MAX_FOLDER_SCAN`` entries: sorting, counting and finding by substring need them all."""
        prefixes: list[str] = []
        found: list[ObjectVersion] = []
        after = ""
        while True:
            page = await services.objects.run(services.objects.list, principal, name, prefix, "/", after, 1000)
            prefixes += page.common_prefixes
            found += [v for v in page.entries if v.key != prefix]
            if not page.is_truncated or not page.next_marker:
                return Folder(prefixes, found, True)
            if len(prefixes) + len(found) >= MAX_FOLDER_SCAN:
                return Folder(prefixes, found, False)
            after = page.next_marker

    async def upload(req: Request) -> Response:
        """PUT body = the file; ``key`` and the chosen encryption (``sse``: "" for none asked, which
        leaves it to the bucket's default encryption, or "AES256") in the query. Answers JSON for the
        page's script; a refusal is a sentence that says why."""
        name, key = req.params["bucket"], req.query("key")
        sse = req.query("sse") or None
        if sse not in UPLOAD_SSE:
            raise BadRequest("Unknown encryption for the upload.")
        # The PutObject an S3 client would send: with x-amz-server-side-encryption when encrypting,
        # so a policy that denies unencrypted uploads lets this one through.
        headers = {"x-amz-server-side-encryption": sse} if sse else None
        principal = acting_on(principal_of(req), name, key, headers=headers)
        content_type = req.headers.get("content-type", "").strip() or DEFAULT_TYPE
        try:
            if not key:
                raise BadRequest("key is required")
            params = WriteParams(content_headers={"content-type": content_type}, sse=sse)
            version = await services.objects.put(principal, name, key, BrowserUpload(req), params)
        except SealboxError as exc:
            shown = key[len(parent_prefix(key)):] or key
            text = explain(services, principal, exc, f"upload {shown} to {name}", name, key,
                           action="s3:PutObject", encrypting=sse is not None)
            return as_json({"ok": False, "error": text}, 400)
        return as_json({"ok": True, "key": version.key, "size": version.size, "etag": version.etag,
                        "sse": version.sse, "versionId": version.version_id})

    async def create_folder(req: Request) -> Response:
        name = req.params["bucket"]
        prefix = await req.field("prefix")
        folder = (await req.field("folder")).strip()
        here = objects_url(name, prefix)
        if not folder or "/" in folder:
            return back(c, req, here, "error", "A folder name must not be empty or contain \"/\".")
        try:
            await services.objects.put(acting(req, name, f"{prefix}{folder}/"), name, f"{prefix}{folder}/", EmptyPayload(),
                                       WriteParams(content_headers={"content-type": "application/x-directory"}))
        except SealboxError as exc:
            return back(c, req, here, "error", f"Could not create folder: {error_message(exc)}")
        return back(c, req, here, "ok", f"Created folder {folder}/.")

    async def choose_action(req: Request) -> Response:
        """The Actions menu: show the bulk "Edit server-side encryption" or "Delete objects" page."""
        name = req.params["bucket"]
        prefix = await req.field("prefix")
        selection = parse_selection((await req.form()).get("sel", []))
        if not selection.count:
            return back(c, req, objects_url(name, prefix), "error", "Select at least one object or folder first.")
        if await req.field("action") == "share":  # Share with a presigned URL: one object, on its overview
            if len(selection.keys) != 1 or selection.prefixes:
                return back(c, req, objects_url(name, prefix), "error", "Select one object to share.")
            return redirect(url(f"/buckets/{name}/object", key=selection.keys[0]) + "#share")
        bucket = services.buckets.get(acting(req, name), name, "s3:ListBucket")
        action = await req.field("action")
        template = {"delete": "bulk_delete.html", "purge": "purge.html"}.get(action, "edit_encryption.html")
        return render(c, req, template, nav="buckets", bucket=bucket, prefix=prefix, selection=selection,
                      crumbs=breadcrumbs(prefix), obj=None, rule=services.buckets.default_encryption(bucket),
                      kms_keys=usable_kms_keys(services, principal_of(req)), current=None)

    async def start_job(req: Request) -> Response:
        name = req.params["bucket"]
        prefix = await req.field("prefix")
        selection = parse_selection((await req.form()).get("sel", []))
        if not selection.count:
            return back(c, req, objects_url(name, prefix), "error", "Nothing was selected.")
        op = await req.field("op")
        encryption = None
        if op == "delete":
            action = Action.DELETE
        elif op == "purge":
            action = Action.PURGE
        elif op == "encryption":
            encryption = await encryption_of(req)
            action = Action.ENCRYPT if encryption.sse else Action.DECRYPT
        else:
            raise BadRequest("Unknown action.")
        services.buckets.get(acting(req, name), name, "s3:ListBucket")  # NoSuchBucket/AccessDenied up front
        # The job acts later, item by item, with this request's context (sealbox.console.jobs).
        job_id = await c.jobs.start(principal_of(req), name, action, selection.keys, selection.prefixes, encryption)
        return redirect(f"/jobs/{job_id}")

    router.add("GET", "/buckets/{bucket}", list_objects)
    router.add("PUT", "/buckets/{bucket}/upload", upload)
    router.add("POST", "/buckets/{bucket}/folders", create_folder)
    router.add("POST", "/buckets/{bucket}/actions", choose_action)
    router.add("POST", "/buckets/{bucket}/jobs", start_job)

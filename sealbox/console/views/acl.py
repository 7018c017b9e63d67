"""Access control lists in the console: the bucket ACL (Permissions tab) and an object's ACL (its
overview), shown as the AWS console's grants table and edited with its check boxes.

Columns, as AWS's console: for a bucket, Objects (List = READ, Write = WRITE) and Bucket ACL (Read =
READ_ACP, Write = WRITE_ACP); for an object, Object (Read = READ) and Object ACL (Read = READ_ACP,
Write = WRITE_ACP). A grantee with every box of its resource checked is saved as FULL_CONTROL (and
shown so). Grantees: the owner, the Everyone, Authenticated users and (buckets) log delivery groups,
any canonical user the ACL names, and one more by canonical ID (or a user's name as e-mail address,
``BucketService.resolve_email``).

While Object Ownership is BucketOwnerEnforced, ACLs are disabled: shown, never edited — AWS's
console says to use bucket policies then, and the S3 API would answer AccessControlListNotSupported.
Saving is PutBucketAcl / PutObjectAcl (``sealbox.service.permissions``) with explicit grants, so
Block Public Access (BlockPublicAcls) and unknown grantees are refused as the API refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sealbox.console.context import Console
from sealbox.console.views.common import acting, back, principal_of, render
from sealbox.console.views.access_parts import Part, audit_change, failure, read_part, why_denied
from sealbox.console.web import BadRequest, Request, Response, Router, url
from sealbox.core.acl import ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY, Acl, Permission
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service import permissions as perms
from sealbox.service.access import access_denied
from sealbox.service.acl import AclRequest, GranteeSpec, acls_enabled

P = Permission
BUCKET_COLUMNS = (("Objects", (("List", P.READ), ("Write", P.WRITE))),
                  ("Bucket ACL", (("Read", P.READ_ACP), ("Write", P.WRITE_ACP))))
OBJECT_COLUMNS = (("Object", (("Read", P.READ),)), ("Object ACL", (("Read", P.READ_ACP), ("Write", P.WRITE_ACP))))
GROUP_LABELS = {
    ALL_USERS: "Everyone (public access)",
    AUTHENTICATED_USERS: "Authenticated users group (anyone with an access key)",
    LOG_DELIVERY: "S3 log delivery group",
}
ENFORCED = ("This bucket has the bucket owner enforced setting applied for Object Ownership. When bucket owner"
            " enforced is applied, use bucket policies to control access.")
MAX_OTHER_GRANTEES = 100  # AWS: an ACL holds at most 100 grants


def _all(columns: tuple[tuple[str, tuple[tuple[str, Permission], ...]], ...]) -> frozenset[Permission]:
    return frozenset(p for _, boxes in columns for _, p in boxes)


@dataclass
class Row:
    ref: str  # "id:<canonical id>" or "uri:<group URI>"; "" for the row that adds a grantee
    label: str
    detail: str = ""  # the canonical id of a user
    permissions: set[Permission] = field(default_factory=set)
    public: bool = False


@dataclass
class AclView:
    part: Part
    rows: list[Row]
    columns: tuple[tuple[str, tuple[tuple[str, Permission], ...]], ...]
    editable: bool
    reason: str | None  # why it may not be edited


def rows_of(c: Console, acl: Acl, columns: tuple[tuple[str, tuple[tuple[str, Permission], ...]], ...], *,
            for_bucket: bool, with_blank: bool) -> list[Row]:
    """The grants table: owner, the groups, other canonical users (then an empty row for a new one)."""
    every = _all(columns)
    resolve = c.services.buckets.resolve_canonical_id
    owner_name = resolve(acl.owner) or acl.owner
    rows = [Row(f"id:{acl.owner}", f"{owner_name} ({'bucket' if for_bucket else 'object'} owner)", acl.owner)]
    groups = (ALL_USERS, AUTHENTICATED_USERS) + ((LOG_DELIVERY,) if for_bucket else ())
    rows += [Row(f"uri:{g}", GROUP_LABELS[g], public=g != LOG_DELIVERY) for g in groups]
    by_ref = {r.ref: r for r in rows}
    for grant in acl.grants:
        ref = f"{'id' if grant.kind == 'user' else 'uri'}:{grant.grantee}"
        row = by_ref.get(ref)
        if row is None:
            label = GROUP_LABELS.get(grant.grantee, grant.grantee) if grant.kind == "group" \
                else resolve(grant.grantee) or "Unknown user"
            row = by_ref[ref] = Row(ref, label, grant.grantee if grant.kind == "user" else "")
            rows.append(row)
        row.permissions |= set(every) if grant.permission is P.FULL_CONTROL else {grant.permission} & every
    if with_blank:
        rows.append(Row("", ""))
    return rows


def bucket_acl_part(c: Console, req: Request, name: str, with_blank: bool = False) -> AclView:
    buckets = c.services.buckets
    part = read_part(lambda: perms.get_bucket_acl(buckets, acting(req, name, query={"acl": ""}), name),
                     "s3:GetBucketAcl")
    bucket = buckets.existing(acting(req, name), name)
    rows = [] if part.denied else rows_of(c, part.value, BUCKET_COLUMNS, for_bucket=True, with_blank=with_blank)
    enabled = acls_enabled(bucket)
    return AclView(part, rows, BUCKET_COLUMNS, enabled and not part.denied, None if enabled else ENFORCED)


def object_acl_part(c: Console, req: Request, bucket: Bucket, key: str, version_id: str | None,
                    with_blank: bool = False) -> AclView:
    query = {"acl": "", **({"versionId": version_id} if version_id else {})}
    action = "s3:GetObjectVersionAcl" if version_id else "s3:GetObjectAcl"
    part = read_part(lambda: perms.get_object_acl(c.services.buckets, acting(req, bucket.name, key, query),
                                                  bucket.name, key, version_id), action)
    rows = [] if part.denied else rows_of(c, part.value, OBJECT_COLUMNS, for_bucket=False, with_blank=with_blank)
    enabled = acls_enabled(bucket)
    return AclView(part, rows, OBJECT_COLUMNS, enabled and not part.denied, None if enabled else ENFORCED)


def _spec(ref: str) -> GranteeSpec:
    ref = ref.strip()
    if ref.startswith("uri:"):
        return GranteeSpec("uri", ref[4:])
    if ref.startswith("id:"):
        return GranteeSpec("id", ref[3:])
    return GranteeSpec("email" if "@" in ref or len(ref) != 64 else "id", ref)


async def submitted(req: Request, every: frozenset[Permission]) -> AclRequest:
    """The grants the form asks for: per row, its checked boxes (all of them: FULL_CONTROL)."""
    form = await req.form()
    refs = form.get("grantee", [])[: 5 + MAX_OTHER_GRANTEES]
    checked: dict[int, set[Permission]] = {}
    for value in form.get("perm", []):
        index, _, name = value.partition(":")
        permission = Permission.__members__.get(name)
        if not index.isdigit() or permission is None or permission not in every:
            raise BadRequest("Unknown permission in the form.")
        checked.setdefault(int(index), set()).add(permission)
    grants: list[tuple[Permission, GranteeSpec]] = []
    for i, ref in enumerate(refs):
        chosen = checked.get(i, set())
        if not chosen:
            continue
        if not ref.strip():
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Enter the canonical ID of the grantee whose boxes are"
                               " checked")
        spec = _spec(ref)
        if chosen == every:
            grants.append((P.FULL_CONTROL, spec))
        else:
            grants += [(p, spec) for p in sorted(chosen, key=lambda p: p.value)]
    return AclRequest(grants=tuple(grants))


def _failure(c: Console, req: Request, exc: SealboxError, name: str, action: str, key: str | None = None) -> str:
    if exc.code is ErrorCode.ACCESS_DENIED:
        return why_denied(c, acting(req, name, key), name, action, "block_public_acls", key)
    value = exc.extra.get("ArgumentValue")
    text = failure(exc, action)
    return text.replace(" (", f" ({value}) (", 1) if value and exc.code is ErrorCode.INVALID_ARGUMENT else text


def register(router: Router, c: Console) -> None:
    buckets = c.services.buckets

    async def bucket_editor(req: Request) -> Response:
        name = req.params["bucket"]
        view = bucket_acl_part(c, req, name, with_blank=True)
        if view.part.denied:
            raise access_denied()
        return render(c, req, "acl_edit.html", nav="buckets", bucket=buckets.existing(principal_of(req), name),
                      acl=view, obj_key=None, version_id=None, action=url(f"/buckets/{name}/permissions/acl"),
                      back_url=url(f"/buckets/{name}/permissions"))

    async def save_bucket_acl(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/permissions")
        try:
            request = await submitted(req, _all(BUCKET_COLUMNS))
            perms.put_bucket_acl(buckets, acting(req, name, query={"acl": ""}), name, request)
        except SealboxError as exc:
            if exc.code is ErrorCode.NO_SUCH_BUCKET:
                raise
            return back(c, req, url(f"/buckets/{name}/permissions/acl"), "error",
                        f"Not saved: {_failure(c, req, exc, name, 's3:PutBucketAcl')}")
        audit_change(req, "bucket.acl.put", f"PutBucketAcl {name}", name, grants=len(request.grants))
        return back(c, req, here, "ok", "Saved the bucket ACL.")

    async def object_editor(req: Request) -> Response:
        name, key = req.params["bucket"], req.query("key")
        version_id = req.query("versionId") or None
        if not key:
            raise BadRequest("key is required")
        bucket = buckets.existing(acting(req, name), name)
        view = object_acl_part(c, req, bucket, key, version_id, with_blank=True)
        if view.part.denied:
            raise access_denied()
        return render(c, req, "acl_edit.html", nav="buckets", bucket=bucket, acl=view, obj_key=key,
                      version_id=version_id, action=url(f"/buckets/{name}/object/acl"),
                      back_url=url(f"/buckets/{name}/object", key=key, versionId=version_id))

    async def save_object_acl(req: Request) -> Response:
        name, key = req.params["bucket"], await req.field("key")
        version_id = await req.field("versionId") or None
        overview = url(f"/buckets/{name}/object", key=key, versionId=version_id)
        query = {"acl": "", **({"versionId": version_id} if version_id else {})}
        action = "s3:PutObjectVersionAcl" if version_id else "s3:PutObjectAcl"
        try:
            request = await submitted(req, _all(OBJECT_COLUMNS))
            perms.put_object_acl(buckets, acting(req, name, key, query), name, key, version_id, request)
        except SealboxError as exc:
            if exc.code is ErrorCode.NO_SUCH_BUCKET:
                raise
            return back(c, req, url(f"/buckets/{name}/object/acl", key=key, versionId=version_id), "error",
                        f"Not saved: {_failure(c, req, exc, name, action, key)}")
        audit_change(req, "object.acl.put", f"PutObjectAcl {name}/{key}", name, key=key, version_id=version_id,
                     grants=len(request.grants))
        return back(c, req, overview, "ok", f"Saved the ACL of {key}.")

    router.add("GET", "/buckets/{bucket}/permissions/acl", bucket_editor)
    router.add("POST", "/buckets/{bucket}/permissions/acl", save_bucket_acl)
    router.add("GET", "/buckets/{bucket}/object/acl", object_editor)
    router.add("POST", "/buckets/{bucket}/object/acl", save_object_acl)


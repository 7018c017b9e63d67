"""A bucket's lifecycle rules, as AWS's console edits them: a list of rules, and a form per rule (scope
by prefix, tags and object size; the actions: expire current versions, permanently delete noncurrent
versions, delete expired object delete markers, delete incomplete multipart uploads).

The form becomes a ``service.lifecycle.Rule``; the whole configuration is then put through
``service.lifecycle.put_rules``, which validates it as PutBucketLifecycleConfiguration does, so a
refusal reads as AWS's message. A form that does not save is shown again, as entered, with the reason.
Each page acts as the S3 operation it performs (``?lifecycle`` in the policy context).
"""

from __future__ import annotations

from typing import Any

from sealbox.console.context import Console
from sealbox.console.views.common import acting, back, error_message, principal_of, render
from sealbox.console.web import BadRequest, Request, Response, Router, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.ops.logs import audit
from sealbox.service import lifecycle as lc
from sealbox.service.identity import Principal

_QUERY = {"lifecycle": ""}
MAX_TAGS = 10
# A form's fields (all text) and their defaults: what a new rule's form shows.
FIELDS = {"original": "", "id": "", "status": "Enabled", "scope": "all", "prefix": "", "tags": "", "size_gt": "",
          "size_lt": "", "act_current": "", "current_by": "days", "current_days": "", "current_date": "",
          "act_noncurrent": "", "noncurrent_days": "", "newer_noncurrent": "", "act_markers": "",
          "act_abort": "", "abort_days": ""}


class FormError(Exception):
    """A form the console itself can tell is incomplete (before the service validates it)."""


def rules_of(c: Console, principal: Principal, bucket: str) -> list[lc.Rule]:
    try:
        return lc.get_rules(c.services.objects, principal, bucket)
    except SealboxError as exc:
        if exc.code is ErrorCode.NO_SUCH_LIFECYCLE_CONFIG:
            return []
        raise


def scope_text(rule: lc.Rule) -> str:
    f = rule.filter
    if f is None:
        return f"Prefix {rule.prefix}" if rule.prefix else "Entire bucket"
    parts = [f"prefix {f.prefix}"] if f.prefix else []
    parts += [f"tag {k}={v}" for k, v in f.tags]
    if f.size_gt is not None:
        parts.append(f"size > {f.size_gt:,} bytes")
    if f.size_lt is not None:
        parts.append(f"size < {f.size_lt:,} bytes")
    return ", ".join(parts).capitalize() if parts else "Entire bucket"


def actions_text(rule: lc.Rule) -> list[str]:
    out = []
    if rule.expiration_days is not None:
        out.append(f"Expire current versions after {rule.expiration_days} day{'' if rule.expiration_days == 1 else 's'}")
    elif rule.expiration_date is not None:
        out.append(f"Expire current versions on {rule.expiration_date[:10]}")
    if rule.expired_object_delete_marker:
        out.append("Delete expired object delete markers")
    if rule.has_noncurrent:
        newer = f", keeping {rule.newer_noncurrent} newer" if rule.newer_noncurrent is not None else ""
        out.append(f"Permanently delete noncurrent versions {rule.noncurrent_days} days after they become"
                   f" noncurrent{newer}")
    if rule.abort_days is not None:
        out.append(f"Delete incomplete multipart uploads after {rule.abort_days} days")
    return out


def form_of(rule: lc.Rule) -> dict[str, str]:
    """A stored rule as the form shows it."""
    f = rule.filter
    prefix = (f.prefix if f is not None else rule.prefix) or ""
    tags = f.tags if f is not None else ()
    gt = f.size_gt if f is not None else None
    lt = f.size_lt if f is not None else None
    scoped = bool(prefix or tags or gt is not None or lt is not None)
    return {**FIELDS, "original": rule.id, "id": rule.id, "status": rule.status, "scope": "filter" if scoped else "all",
            "prefix": prefix, "tags": "\n".join(f"{k}={v}" for k, v in tags),
            "size_gt": "" if gt is None else str(gt), "size_lt": "" if lt is None else str(lt),
            "act_current": "on" if rule.expiration_days is not None or rule.expiration_date is not None else "",
            "current_by": "date" if rule.expiration_date is not None else "days",
            "current_days": "" if rule.expiration_days is None else str(rule.expiration_days),
            "current_date": (rule.expiration_date or "")[:10],
            "act_noncurrent": "on" if rule.has_noncurrent else "",
            "noncurrent_days": "" if rule.noncurrent_days is None else str(rule.noncurrent_days),
            "newer_noncurrent": "" if rule.newer_noncurrent is None else str(rule.newer_noncurrent),
            "act_markers": "on" if rule.expired_object_delete_marker else "",
            "act_abort": "on" if rule.abort_days is not None else "",
            "abort_days": "" if rule.abort_days is None else str(rule.abort_days)}


def _int(text: str, label: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise FormError(f"{label} must be a whole number.") from None


def _tags(text: str) -> tuple[tuple[str, str], ...]:
    tags = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise FormError(f"Write each tag as key=value on its own line (not {line.strip()!r}).")
        tags.append((key.strip(), value.strip()))
    if len(tags) > MAX_TAGS:
        raise FormError(f"A rule's filter may name at most {MAX_TAGS} tags.")
    if len({k for k, _ in tags}) != len(tags):
        raise FormError("Each tag key may appear only once in a filter.")
    return tuple(tags)


def build_filter(form: dict[str, str]) -> lc.Filter:
    if form["scope"] != "filter":
        return lc.Filter("empty")  # the whole bucket: <Filter/>, as AWS's console writes it
    prefix = form["prefix"]
    tags = _tags(form["tags"])
    gt, lt = _int(form["size_gt"], "Minimum object size"), _int(form["size_lt"], "Maximum object size")
    given = sum([bool(prefix), len(tags), gt is not None, lt is not None])
    if given == 0:
        raise FormError("Limit the rule's scope with a prefix, a tag or an object size, or choose"
                        " “Apply to all objects in the bucket”.")
    if given > 1:
        return lc.Filter("and", prefix=prefix or None, tags=tags, size_gt=gt, size_lt=lt)
    if prefix:
        return lc.Filter("prefix", prefix=prefix)
    if tags:
        return lc.Filter("tag", tags=tags)
    return lc.Filter("gt", size_gt=gt) if gt is not None else lc.Filter("lt", size_lt=lt)


def build_rule(form: dict[str, str]) -> lc.Rule:
    """The form as a rule; the service validates it (days positive, dates at midnight, tags vs actions)."""
    rule_id = form["id"].strip()
    if not rule_id:
        raise FormError("Enter a lifecycle rule name.")
    if form["status"] not in ("Enabled", "Disabled"):
        raise BadRequest("Unknown rule status.")
    current, markers = form["act_current"] == "on", form["act_markers"] == "on"
    if current and markers:
        # AWS's console: expiring current versions already removes the delete markers left behind.
        raise FormError("“Delete expired object delete markers” cannot be chosen with “Expire current versions"
                        " of objects”: choose one.")
    days = date = None
    if current:
        if form["current_by"] == "date":
            if not form["current_date"].strip():
                raise FormError("Enter the date on which current versions expire.")
            date = form["current_date"].strip() + "T00:00:00Z"
        else:
            days = _int(form["current_days"], "Days after object creation")
            if days is None:
                raise FormError("Enter the number of days after object creation.")
    noncurrent = form["act_noncurrent"] == "on"
    abort = form["act_abort"] == "on"
    nc_days = _int(form["noncurrent_days"], "Days after objects become noncurrent") if noncurrent else None
    if noncurrent and nc_days is None:
        raise FormError("Enter the number of days after objects become noncurrent.")
    abort_days = _int(form["abort_days"], "Days after initiation") if abort else None
    if abort and abort_days is None:
        raise FormError("Enter the number of days after which incomplete multipart uploads are deleted.")
    return lc.Rule(id=rule_id, status=form["status"], filter=build_filter(form), expiration_days=days,
                   expiration_date=date, expired_object_delete_marker=True if markers else None,
                   noncurrent_days=nc_days,
                   newer_noncurrent=_int(form["newer_noncurrent"], "Number of newer versions to retain")
                   if noncurrent else None,
                   abort_days=abort_days, has_expiration=current or markers, has_noncurrent=noncurrent)


def service_message(exc: SealboxError) -> str:
    if exc.code is ErrorCode.MALFORMED_XML:
        return "The rule is not complete: choose at least one action, and give each chosen action its value" \
               " (MalformedXML)."
    return f"{error_message(exc)} ({exc.code.value})"


def register(router: Router, c: Console) -> None:
    objects = c.services.objects
    buckets = c.services.buckets

    async def rule_page(req: Request, name: str, form: dict[str, str], error: str | None = None,
                        status: int = 200) -> Response:
        bucket = buckets.get(acting(req, name, query=_QUERY), name, "s3:GetLifecycleConfiguration")
        return render(c, req, "lifecycle_rule.html", status, nav="buckets", bucket=bucket, form=form, error=error)

    async def view(req: Request) -> Response:
        name = req.params["bucket"]
        principal = acting(req, name, query=_QUERY)
        bucket = buckets.get(principal, name, "s3:GetLifecycleConfiguration")
        rules = rules_of(c, principal, name)
        return render(c, req, "lifecycle.html", nav="buckets", bucket=bucket,
                      rules=[(r, scope_text(r), actions_text(r)) for r in rules])

    async def edit(req: Request) -> Response:
        name, rule_id = req.params["bucket"], req.query("id")
        if not rule_id:
            return await rule_page(req, name, dict(FIELDS))
        found = [r for r in rules_of(c, acting(req, name, query=_QUERY), name) if r.id == rule_id]
        if not found:
            return await rule_page(req, name, dict(FIELDS), f"The bucket has no lifecycle rule {rule_id!r} (any"
                                   " more); you can create it.", 404)
        return await rule_page(req, name, form_of(found[0]))

    async def save(req: Request) -> Response:
        name = req.params["bucket"]
        raw = await req.form()
        form = {k: (raw.get(k) or [v])[0] for k, v in FIELDS.items()}
        form = {**form, **{k: "on" if raw.get(k, [""])[0] == "on" else ""
                           for k in ("act_current", "act_noncurrent", "act_markers", "act_abort")}}
        principal = acting(req, name, query=_QUERY)
        try:
            rule = build_rule(form)
            rules = rules_of(c, principal, name)
            original = form["original"]
            if original and any(r.id == original for r in rules):
                rules = [rule if r.id == original else r for r in rules]
            else:
                rules.append(rule)
            await lc.put_rules(objects, principal, name, rules)
        except FormError as exc:
            return await rule_page(req, name, form, f"Not saved: {exc}", 400)
        except SealboxError as exc:
            if exc.code in (ErrorCode.ACCESS_DENIED, ErrorCode.NO_SUCH_BUCKET):
                raise
            return await rule_page(req, name, form, f"Not saved: {service_message(exc)}", 400)
        audit("bucket.lifecycle.put", f"lifecycle rule {rule.id} of {name} saved", principal=principal_of(req).name,
              bucket=name, rule=rule.id, rules=len(rules), via="console")
        return back(c, req, url(f"/buckets/{name}/lifecycle"), "ok", f"Saved lifecycle rule {rule.id!r}.")

    async def delete(req: Request) -> Response:
        name, rule_id = req.params["bucket"], await req.field("id")
        here = url(f"/buckets/{name}/lifecycle")
        principal = acting(req, name, query=_QUERY)
        try:
            rules = [r for r in rules_of(c, principal, name) if r.id != rule_id]
            if rules:
                await lc.put_rules(objects, principal, name, rules)
            else:
                await lc.delete_rules(objects, principal, name)
        except SealboxError as exc:
            return back(c, req, here, "error", f"Could not delete lifecycle rule {rule_id!r}: {error_message(exc)}")
        audit("bucket.lifecycle.put" if rules else "bucket.lifecycle.delete",
              f"lifecycle rule {rule_id} of {name} deleted", principal=principal_of(req).name, bucket=name,
              rule=rule_id, rules=len(rules), via="console")
        return back(c, req, here, "ok", f"Deleted lifecycle rule {rule_id!r}.")

    router.add("GET", "/buckets/{bucket}/lifecycle", view)
    router.add("GET", "/buckets/{bucket}/lifecycle/rule", edit)
    router.add("POST", "/buckets/{bucket}/lifecycle/rule", save)
    router.add("POST", "/buckets/{bucket}/lifecycle/delete", delete)


def summary(c: Console, principal: Principal, bucket: str) -> Any:
    """The Properties page's line: the number of rules, or None (no configuration / not readable)."""
    try:
        return len(rules_of(c, principal, bucket))
    except SealboxError:
        return None

"""A bucket's Permissions tab, as the AWS console has it: Block Public Access (the four flags), the
bucket policy (viewed, edited with the policy parser's own validation and AWS's messages, deleted),
Object Ownership, and the bucket ACL (``sealbox.console.views.acl``).

Each part is read and written through the S3 operation it stands for (GetBucketPolicy,
PutBucketPolicy, GetPublicAccessBlock, PutBucketOwnershipControls… in ``sealbox.service``), as the
signed-in principal with the policy context of the equivalent S3 request; a part the principal may
not read says so instead of its value. Every change is an audit record (``sealbox.audit``) with
``via="console"``, as the S3 API writes for the same operation.
"""

from __future__ import annotations

from sealbox.console.context import Console
from sealbox.console.views.access_parts import FLAGS, audit_change, failure, read_part, why_denied
from sealbox.console.views.acl import bucket_acl_part
from sealbox.console.views.common import acting, back, render
from sealbox.console.web import Request, Response, Router, url
from sealbox.core.acl import Ownership, PublicAccessBlock
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service import permissions as perms
from sealbox.service.access import access_denied, allowed
from sealbox.service.identity import Principal

OWNERSHIP_LABELS = {
    Ownership.BUCKET_OWNER_ENFORCED: "Bucket owner enforced (ACLs disabled)",
    Ownership.BUCKET_OWNER_PREFERRED: "Bucket owner preferred (ACLs enabled)",
    Ownership.OBJECT_WRITER: "Object writer (ACLs enabled)",
}
ACCESS_LABELS = {
    perms.AccessLevel.PUBLIC: "Public",
    perms.AccessLevel.OBJECTS_CAN_BE_PUBLIC: "Objects can be public",
    perms.AccessLevel.NOT_PUBLIC: "Bucket and objects not public",
    perms.AccessLevel.AUTHORIZED_ONLY: "Only authorized users of this account",
}
_POLICY = {"policy": ""}
NO_PERMISSION = "You don't have permission to view this ({action})."


def register(router: Router, c: Console) -> None:
    buckets = c.services.buckets

    def tab(req: Request, name: str) -> Response:
        def principal(query: dict[str, str]) -> Principal:
            return acting(req, name, query=query)

        policy = read_part(lambda: buckets.get_policy(principal(_POLICY), name), "s3:GetBucketPolicy",
                           ErrorCode.NO_SUCH_BUCKET_POLICY, "")
        block = read_part(lambda: perms.get_public_access_block(buckets, principal({"publicAccessBlock": ""}), name),
                          "s3:GetBucketPublicAccessBlock", ErrorCode.NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION,
                          PublicAccessBlock())
        ownership = read_part(lambda: perms.get_ownership(buckets, principal({"ownershipControls": ""}), name),
                              "s3:GetBucketOwnershipControls", ErrorCode.OWNERSHIP_CONTROLS_NOT_FOUND_ERROR,
                              Ownership.OBJECT_WRITER)
        acl = bucket_acl_part(c, req, name)
        if all(p.denied for p in (policy, block, ownership, acl.part)):
            raise access_denied()
        bucket: Bucket = buckets.existing(principal({}), name)
        status = principal({"policyStatus": ""})
        access = ACCESS_LABELS[perms.access_level(bucket)] if allowed(status, "s3:GetBucketPolicyStatus", bucket) \
            else None
        return render(c, req, "bucket_permissions.html", nav="buckets", bucket=bucket, access=access,
                      policy=policy, block=block, flags=FLAGS, ownership=ownership,
                      ownership_labels=OWNERSHIP_LABELS, acl=acl, no_permission=NO_PERMISSION)

    async def view(req: Request) -> Response:
        return tab(req, req.params["bucket"])

    async def policy_editor(req: Request) -> Response:
        name = req.params["bucket"]
        text = read_part(lambda: buckets.get_policy(acting(req, name, query=_POLICY), name), "s3:GetBucketPolicy",
                         ErrorCode.NO_SUCH_BUCKET_POLICY, "")
        if text.denied:
            raise access_denied()
        return editor(req, name, text.value)

    def editor(req: Request, name: str, text: str, error: str | None = None, status: int = 200) -> Response:
        bucket = buckets.existing(acting(req, name), name)
        return render(c, req, "bucket_policy.html", status, nav="buckets", bucket=bucket, text=text, error=error,
                      exists=bucket.policy is not None)

    async def save_policy(req: Request) -> Response:
        name = req.params["bucket"]
        text = await req.field("policy")
        principal = acting(req, name, query=_POLICY)
        if not text.strip():
            return editor(req, name, text, "Enter a policy, or delete the one the bucket has.", 400)
        try:
            buckets.put_policy(principal, name, text)
        except SealboxError as exc:
            if exc.code is ErrorCode.NO_SUCH_BUCKET:
                raise
            if exc.code is ErrorCode.ACCESS_DENIED:
                why = why_denied(c, principal, name, "s3:PutBucketPolicy", "block_public_policy")
                return editor(req, name, text, f"Not saved: {why}", 403)
            return editor(req, name, text, f"Not saved: {failure(exc, 's3:PutBucketPolicy')}", 400)
        audit_change(req, "bucket.policy.put", f"PutBucketPolicy {name}", name)
        return back(c, req, url(f"/buckets/{name}/permissions"), "ok", "Saved the bucket policy.")

    async def delete_policy(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/permissions")
        try:
            buckets.delete_policy(acting(req, name, query=_POLICY), name)
        except SealboxError as exc:
            return back(c, req, here, "error", "Could not delete the bucket policy:"
                        f" {failure(exc, 's3:DeleteBucketPolicy')}")
        audit_change(req, "bucket.policy.delete", f"DeleteBucketPolicy {name}", name)
        return back(c, req, here, "ok", "Deleted the bucket policy.")

    async def save_block(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/permissions")
        form = await req.form()
        chosen = PublicAccessBlock(**{attr: form.get(attr, [""])[0] == "on" for attr, _, _ in FLAGS})
        try:
            perms.put_public_access_block(buckets, acting(req, name, query={"publicAccessBlock": ""}), name, chosen)
        except SealboxError as exc:
            return back(c, req, here, "error", "Could not save Block Public Access:"
                        f" {failure(exc, 's3:PutBucketPublicAccessBlock')}")
        audit_change(req, "bucket.public_access_block.put", f"PutPublicAccessBlock {name}", name,
                     flags=",".join(api for attr, api, _ in FLAGS if getattr(chosen, attr)) or "none")
        on = sum(getattr(chosen, attr) for attr, _, _ in FLAGS)
        text = "Block all public access is on." if on == len(FLAGS) else \
            f"Saved Block Public Access ({on} of {len(FLAGS)} settings on)."
        return back(c, req, here, "ok", text)

    async def save_ownership(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/permissions")
        value = await req.field("ownership")
        try:
            chosen = Ownership(value)
        except ValueError:
            return back(c, req, here, "error", "Choose an Object Ownership setting.")
        try:
            perms.put_ownership(buckets, acting(req, name, query={"ownershipControls": ""}), name, chosen)
        except SealboxError as exc:
            hint = " Remove the bucket ACL's grants to others first." \
                if exc.code is ErrorCode.INVALID_BUCKET_ACL_WITH_OBJECT_OWNERSHIP else ""
            return back(c, req, here, "error", "Could not change Object Ownership:"
                        f" {failure(exc, 's3:PutBucketOwnershipControls')}{hint}")
        audit_change(req, "bucket.ownership.put", f"PutBucketOwnershipControls {name}", name, ownership=chosen.value)
        return back(c, req, here, "ok", f"Object Ownership: {OWNERSHIP_LABELS[chosen]}.")

    router.add("GET", "/buckets/{bucket}/permissions", view)
    router.add("GET", "/buckets/{bucket}/permissions/policy", policy_editor)
    router.add("POST", "/buckets/{bucket}/permissions/policy", save_policy)
    router.add("POST", "/buckets/{bucket}/permissions/policy/delete", delete_policy)
    router.add("POST", "/buckets/{bucket}/permissions/public-access", save_block)
    router.add("POST", "/buckets/{bucket}/permissions/ownership", save_ownership)

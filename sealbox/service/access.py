"""Who may do what: the one check every operation passes through (``authorize``).

The rules, in order:

1. An explicit Deny in the bucket's policy refuses the request — for the owner and root too —
   except GetBucketPolicy/PutBucketPolicy/DeleteBucketPolicy by the owner or root, which always
   succeed so that nobody can lock themselves out of a bucket (as for the root user on AWS).
2. The bucket's owner and root may do anything else.
3. Anyone else — another user, or an anonymous (unsigned) request — may do what the policy Allows
   (unless RestrictPublicBuckets is on and the policy is public: then its Allows serve the owner
   only). The bucket-policy operations stay the owner's: another user allowed them gets 405
   MethodNotAllowed, as a principal from another account does on AWS.
4. Then the ACLs (``service.acl``): the bucket's for bucket actions and writes into it, the
   object's for reads of an object and its ACL — unless ACLs are disabled (BucketOwnerEnforced);
   public grants are skipped under IgnorePublicAcls. The object's ACL is loaded only here, when
   nothing above decided, so an owner's or a policy-allowed request costs no extra lookup.
5. Everything else is AccessDenied.

The resource is ``bucket`` for bucket actions and ``bucket/key`` for object actions. Object actions
name their key; an object action checked without one (e.g. a multipart step's bucket lookup)
concerns the request's own target key — and, without any key, the bucket itself, which an
object-resource statement does not match (so such a check fails closed for non-owners).
"""

from __future__ import annotations

import logging
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.names import MAX_KEY_BYTES
from sealbox.core.types import Bucket
from sealbox.service import policy as pol
from sealbox.service.acl import ObjectAclLoader, acl_permits
from sealbox.service.public_access import restricted
from sealbox.service.identity import Principal, canonical_id
from sealbox.service.policy_conditions import ExtraValues

log = logging.getLogger("sealbox.access")

POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


def access_denied() -> SealboxError:
    return SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")


def require_principal(principal: Principal | None) -> Principal:
    """The signed-in principal; anonymous requests are refused (ListBuckets, CreateBucket, …)."""
    if principal is None or principal.is_anonymous:
        raise access_denied()
    return principal


def authorize(principal: Principal | None, action: str, bucket: Bucket | None, key: str | None = None, *,
              extra: ExtraValues | None = None, load_object: ObjectAclLoader | None = None
              ) -> Principal:
    """Raise AccessDenied unless ``principal`` may perform ``action`` (an s3:Action name) on ``bucket``
    (or on its object ``key``). ``extra`` overrides condition keys the request alone does not carry
    (e.g. the encryption of a multipart upload for UploadPart). Returns the principal, anonymous
    included."""
    if bucket is None:
        return require_principal(principal)
    who = principal if principal is not None else Principal.anonymous()
    privileged = not who.is_anonymous and (who.is_root or bucket.owner == who.name)
    decision = policy_decision(who, action, bucket, key, extra)
    if action in POLICY_ACTIONS:
        if privileged:
            return who
        if decision is pol.Decision.ALLOW:
            raise SealboxError(ErrorCode.METHOD_NOT_ALLOWED, "The specified method is not allowed against"
                               " this resource.", Method=action.removeprefix("s3:"), ResourceType="BUCKET")
        raise access_denied()
    if decision is pol.Decision.DENY:
        raise access_denied()
    if privileged:
        return who
    if decision is pol.Decision.ALLOW and not restricted(bucket):
        return who
    if acl_permits(who, action, bucket, load_object):
        return who
    raise access_denied()


def allowed(principal: Principal | None, action: str, bucket: Bucket, key: str | None = None, *,
            extra: ExtraValues | None = None) -> bool:
    """``authorize`` as a question (e.g. may this requester learn that a key does not exist?)."""
    try:
        authorize(principal, action, bucket, key, extra=extra)
    except SealboxError:
        return False
    return True


def policy_decision(who: Principal, action: str, bucket: Bucket, key: str | None,
                    extra: ExtraValues | None = None) -> pol.Decision:
    """What the bucket's policy says about this request (NONE without a policy)."""
    if not bucket.policy:
        return pol.Decision.NONE
    try:
        document = pol.stored_policy(bucket.policy, bucket.name)
    except SealboxError:
        # A stored policy that no longer parses (hand-edited database?) fails closed for everyone;
        # the owner can still replace it (policy actions are exempt above).
        log.error("the stored policy of bucket %s does not parse; denying", bucket.name)
        return pol.Decision.DENY
    name = None if who.is_anonymous else who.name
    request = pol.AccessRequest(
        principal=name, canonical_id=canonical_id(name) if name else None, action=action,
        resource=_resource(who, action, bucket, key),
        context=pol.condition_values(who.context, name, action, extra))
    return pol.evaluate(document, request)


def _resource(who: Principal, action: str, bucket: Bucket, key: str | None) -> str:
    if not pol.is_object_action(action):
        return bucket.name
    if key is None and who.context.bucket == bucket.name:
        key = who.context.key
    if key is None:
        return bucket.name
    if len(key) > MAX_KEY_BYTES // 4 and len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        # No object can have this key: say so before matching it against every pattern of the policy
        # (KeyTooLongError, as S3 answers any request naming such a key; PUT says the same later).
        raise SealboxError(ErrorCode.KEY_TOO_LONG, "Your key is too long",
                           Size=str(len(key.encode("utf-8", "surrogatepass"))), MaxSizeAllowed=str(MAX_KEY_BYTES))
    return f"{bucket.name}/{key}"

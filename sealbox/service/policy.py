"""Bucket policies: the AWS access-policy language, parsed once, evaluated per request.

Model
    A ``Policy`` is a tuple of ``Statement``; each statement has an effect (Allow/Deny), whom it
    names (``Principal`` or ``NotPrincipal``), what (``Action``/``NotAction``, wildcards, matched
    case-insensitively), where (``Resource``/``NotResource``, S3 ARNs with wildcards and policy
    variables such as ``${aws:username}``, matched case-sensitively) and when (``Condition``).

Principals
    ``"*"`` and ``{"AWS": "*"}`` name everyone, anonymous requests included. Users are named by
    plain name, ``arn:aws:iam::sealbox:user/NAME`` or their canonical id (``{"CanonicalUser": …}``);
    ``arn:aws:iam::sealbox:root`` (or ``root``) names the administrator.

Evaluation (``evaluate``)
    A matching Deny statement decides DENY; otherwise any matching Allow decides ALLOW; otherwise the
    policy says nothing (NONE) and the caller applies ownership (see ``service.access``).

Conditions
    ``policy_conditions``: the condition keys (one table), their values for a request, the
    operators — the rules of the IAM reference, so AWS's classic "deny PutObject without
    ``x-amz-server-side-encryption: AES256``" policy behaves here as there.

Matching
    ``policy_match``: ``*``/``?`` wildcards in linear time for any pattern (no regular expressions).

Validation (``parse_policy``) answers MalformedPolicy with the messages Amazon S3 uses. A document
is at most 20 KiB (as on AWS) and ``MAX_STATEMENTS`` statements (sealbox's own bound: with the size
limit, it bounds what one request's authorization can cost).
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.policy_conditions import (
    OPERATORS,
    Condition,
    Values,
    condition_holds,
    condition_key,
    expand_variables,
    loosen_variables,
)
from sealbox.service.policy_conditions import ROOT_ARN as ROOT_ARN
from sealbox.service.policy_conditions import USER_ARN_PREFIX as USER_ARN_PREFIX
from sealbox.service.policy_conditions import RequestContext as RequestContext
from sealbox.service.policy_conditions import condition_values as condition_values
from sealbox.service.policy_match import BudgetExceeded, can_match_with_prefix, end_budget, start_budget
from sealbox.service.policy_match import wildcard_match as wildcard_match

log = logging.getLogger("sealbox.policy")

MAX_POLICY_SIZE = 20 * 1024
MAX_STATEMENTS = 256
ARN_PREFIX = "arn:aws:s3:::"
VERSIONS = ("2012-10-17", "2008-10-17")

# -- the S3 actions, by the resource they apply to ---------------------------------------------------

_OBJECT_ACTIONS = """AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging
    DeleteObjectVersion DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes
    GetObjectLegalHold GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion
    GetObjectVersionAcl GetObjectVersionAttributes GetObjectVersionTagging GetObjectVersionTorrent
    ListMultipartUploadParts PutObject PutObjectAcl PutObjectLegalHold PutObjectRetention PutObjectTagging
    PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete ReplicateObject ReplicateTags RestoreObject"""
_BUCKET_ACTIONS = """CreateBucket DeleteBucket DeleteBucketPolicy DeleteBucketWebsite
    GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl GetBucketCORS GetBucketLocation GetBucketLogging
    GetBucketNotification
    GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus
    GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite
    GetEncryptionConfiguration GetIntelligentTieringConfiguration GetInventoryConfiguration
    GetLifecycleConfiguration GetMetricsConfiguration GetReplicationConfiguration ListBucket
    ListBucketMultipartUploads ListBucketVersions PutAccelerateConfiguration PutBucketAcl PutBucketCORS
    PutBucketLogging PutBucketNotification PutBucketObjectLockConfiguration PutBucketOwnershipControls
    PutBucketPolicy PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging PutBucketVersioning
    PutBucketWebsite PutEncryptionConfiguration PutLifecycleConfiguration PutReplicationConfiguration"""
# lower-case action name -> True for object actions (resource bucket/key), False for bucket actions
ACTION_KINDS: dict[str, bool] = {
    **{f"s3:{name.lower()}": False for name in _BUCKET_ACTIONS.split()},
    **{f"s3:{name.lower()}": True for name in _OBJECT_ACTIONS.split()},
}
_ACTION_RE = re.compile(r"s3:[A-Za-z0-9*?]+")


def is_object_action(action: str) -> bool:
    return ACTION_KINDS.get(action.lower(), False)


# -- the model -------------------------------------------------------------------------------------------


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny: wins over everything
    NONE = "none"  # the policy says nothing about this request


@dataclass(frozen=True)
class Principals:
    everyone: bool = False
    names: frozenset[str] = frozenset()  # sealbox principal names ("root" for the administrator)
    canonical_ids: frozenset[str] = frozenset()

    def matches(self, name: str | None, canonical_id: str | None) -> bool:
        if self.everyone:
            return True
        return name is not None and (name in self.names or canonical_id in self.canonical_ids)


@dataclass(frozen=True)
class Statement:
    effect: Effect
    principals: Principals
    actions: tuple[str, ...]  # lower-case patterns
    resources: tuple[str, ...]  # patterns without the "arn:aws:s3:::" prefix
    conditions: tuple[Condition, ...] = ()
    not_principal: bool = False
    not_action: bool = False
    not_resource: bool = False
    sid: str | None = None


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class AccessRequest:
    principal: str | None  # None: an anonymous request
    canonical_id: str | None
    action: str  # e.g. "s3:GetObject"
    resource: str  # "bucket" or "bucket/key" (the ARN without "arn:aws:s3:::")
    context: Values  # condition keys, lower-case (policy_conditions.condition_values)


# -- evaluation ------------------------------------------------------------------------------------------


def evaluate(policy: Policy, request: AccessRequest) -> Decision:
    """DENY, ALLOW or NONE; DENY too when matching would cost more than ``policy_match.MATCH_BUDGET``."""
    allowed = False
    token = start_budget()
    try:
        for statement in policy.statements:
            if _statement_matches(statement, request):
                if statement.effect is Effect.DENY:
                    return Decision.DENY
                allowed = True
    except BudgetExceeded:
        log.warning("denied %s on %s: matching it against the bucket policy would cost more than its budget",
                    request.action, request.resource.split("/", 1)[0])
        return Decision.DENY
    finally:
        end_budget(token)
    return Decision.ALLOW if allowed else Decision.NONE


def _statement_matches(st: Statement, req: AccessRequest) -> bool:
    if st.principals.matches(req.principal, req.canonical_id) == st.not_principal:
        return False
    action = req.action.lower()
    if any(wildcard_match(p, action) for p in st.actions) == st.not_action:
        return False
    resource_hit = any(_resource_matches(p, req) for p in st.resources)
    if resource_hit == st.not_resource:
        return False
    return all(condition_holds(c, req.context) for c in st.conditions)


def _resource_matches(pattern: str, req: AccessRequest) -> bool:
    expanded = expand_variables(pattern, req.context)
    return expanded is not None and wildcard_match(expanded, req.resource)


# -- parsing and validation ------------------------------------------------------------------------------

# A reference to a principal ("alice", a user ARN, a canonical id) -> the principal's name, or None.
PrincipalResolver = Callable[[str], str | None]

_POLICY_FIELDS = ("Version", "Id", "Statement")
_STATEMENT_FIELDS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                     "NotResource", "Condition")


def malformed(message: str) -> SealboxError:
    return SealboxError(ErrorCode.MALFORMED_POLICY, message)


_INVALID_JSON = "This policy contains invalid Json"
_FIRST_BYTE = "Policies must be valid JSON and the first byte must be '{'"
_SYNTAX = "Invalid policy syntax."
_BAD_PRINCIPAL = "Invalid principal in policy"
_BAD_ACTION = "Policy has invalid action"
_BAD_RESOURCE = "Policy has invalid resource"


def parse_policy(text: str, bucket: str, resolve: PrincipalResolver | None = None) -> Policy:
    """Validate a PutBucketPolicy document for ``bucket``; MalformedPolicy (AWS's messages) if invalid.

    ``resolve`` checks that named principals exist; None accepts any well-formed name (a stored
    policy, validated when it was put, may name a user removed since: it then matches nobody).
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_SIZE:
        raise malformed("Policy exceeds the maximum allowed document size.")
    if not text.lstrip(" \t\r\n").startswith("{"):
        raise malformed(_FIRST_BYTE)
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except _Duplicate as dup:
        raise malformed(f"Statement/policy already has instance of {dup.name}") from None
    except (ValueError, RecursionError):
        raise malformed(_INVALID_JSON) from None
    if not isinstance(doc, dict):
        raise malformed(_INVALID_JSON)
    for name in doc:
        if name not in _POLICY_FIELDS:
            raise malformed(f"Unknown field {name}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise malformed("The policy must contain a valid version string")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise malformed(_SYNTAX)
    if "Statement" not in doc:
        raise malformed("Missing required field Statement")
    raw = doc["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise malformed("Could not parse the policy: Statement is empty!")
    if len(items) > MAX_STATEMENTS:
        raise malformed(f"Policy has too many statements (sealbox accepts at most {MAX_STATEMENTS}).")
    return Policy(version, tuple(_statement(item, bucket, resolve) for item in items))


@functools.lru_cache(maxsize=512)
def stored_policy(text: str, bucket: str) -> Policy:
    """A policy as stored on a bucket (validated when it was put), parsed once per worker."""
    return parse_policy(text, bucket)


class _Duplicate(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _Duplicate(name)
        result[name] = value
    return result


def _statement(raw: Any, bucket: str, resolve: PrincipalResolver | None) -> Statement:
    if not isinstance(raw, dict):
        raise malformed(_SYNTAX)
    for name in raw:
        if name not in _STATEMENT_FIELDS:
            raise malformed(f"Unknown field {name}")
    for name in ("Principal", "Action", "Resource"):
        if name in raw and f"Not{name}" in raw:
            raise malformed(f"Statement/policy already has instance of {name}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise malformed(_SYNTAX)
    if "Effect" not in raw:
        raise malformed("Missing required field Effect")
    effect_text = raw["Effect"]
    if effect_text not in ("Allow", "Deny"):
        shown = effect_text if isinstance(effect_text, str) else json.dumps(effect_text)
        raise malformed(f"Invalid effect: {shown}")
    if "Principal" not in raw and "NotPrincipal" not in raw:
        raise malformed("Missing required field Principal")
    principals = _principals(raw.get("Principal", raw.get("NotPrincipal")), resolve)
    if "Action" not in raw and "NotAction" not in raw:
        raise malformed("Missing required field Action")
    actions = _actions(raw.get("Action", raw.get("NotAction")))
    if "Resource" not in raw and "NotResource" not in raw:
        raise malformed("Missing required field Resource")
    resources = _resources(raw.get("Resource", raw.get("NotResource")), bucket)
    conditions = _conditions(raw.get("Condition"), actions if "Action" in raw else ())
    if "Action" in raw and "Resource" in raw:
        _check_actions_apply(actions, resources)
    return Statement(effect=Effect(effect_text), principals=principals, actions=actions, resources=resources,
                     conditions=conditions, not_principal="NotPrincipal" in raw,
                     not_action="NotAction" in raw, not_resource="NotResource" in raw, sid=sid)


def _string_list(value: Any, error: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise malformed(error)
    return items


def _principals(value: Any, resolve: PrincipalResolver | None) -> Principals:
    if value == "*":
        return Principals(everyone=True)
    if not isinstance(value, dict) or not value:
        raise malformed(_BAD_PRINCIPAL)
    names: set[str] = set()
    canonical: set[str] = set()
    everyone = False
    for kind, refs in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise malformed(_BAD_PRINCIPAL)
        for ref in _string_list(refs, _BAD_PRINCIPAL):
            if ref == "*":
                everyone = True
            elif kind == "CanonicalUser":
                if not re.fullmatch(r"[0-9a-f]{64}", ref):
                    raise malformed(_BAD_PRINCIPAL)
                if resolve is not None and resolve(ref) is None:
                    raise malformed(_BAD_PRINCIPAL)
                canonical.add(ref)
            elif re.fullmatch(r"[0-9a-f]{64}", ref):  # {"AWS": "<canonical id>"}, as S3 accepts
                if resolve is not None and resolve(ref) is None:
                    raise malformed(_BAD_PRINCIPAL)
                canonical.add(ref)
            else:
                names.add(_user_reference(ref, resolve))
    return Principals(everyone, frozenset(names), frozenset(canonical))


_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")


def _user_reference(ref: str, resolve: PrincipalResolver | None) -> str:
    if ref == ROOT_ARN:
        name = "root"
    elif ref.startswith(USER_ARN_PREFIX):
        name = ref[len(USER_ARN_PREFIX):]
    else:
        name = ref
    if not _NAME_RE.fullmatch(name):
        raise malformed(_BAD_PRINCIPAL)
    if resolve is not None and resolve(name) is None:
        raise malformed(_BAD_PRINCIPAL)
    return name


def _actions(value: Any) -> tuple[str, ...]:
    patterns = []
    for action in _string_list(value, _BAD_ACTION):
        lowered = action.lower()
        if action != "*" and not (_ACTION_RE.fullmatch(action)
                                  and any(wildcard_match(lowered, known) for known in ACTION_KINDS)):
            raise malformed(_BAD_ACTION)
        patterns.append("s3:*" if action == "*" else lowered)
    return tuple(dict.fromkeys(patterns))


def _resources(value: Any, bucket: str) -> tuple[str, ...]:
    patterns = []
    for resource in _string_list(value, _BAD_RESOURCE):
        if resource == "*":
            patterns.append("*")
            continue
        if not resource.startswith(ARN_PREFIX):
            raise malformed(_BAD_RESOURCE)
        path = resource[len(ARN_PREFIX):]
        if not path or path.startswith("/") or not _names_bucket(path, bucket):
            raise malformed(_BAD_RESOURCE)
        patterns.append(path)
    return tuple(dict.fromkeys(patterns))


def _names_bucket(pattern: str, bucket: str) -> bool:
    """A bucket's policy may only name that bucket and its objects: the pattern must be able to match
    the bucket or some ``bucket/key`` (policy variables count as wildcards here)."""
    loose = loosen_variables(pattern)
    return wildcard_match(loose, bucket) or can_match_with_prefix(loose, bucket + "/")


def _check_actions_apply(actions: tuple[str, ...], resources: tuple[str, ...]) -> None:
    """S3 refuses a statement whose action can apply to none of its resources (e.g. ListBucket on bucket/*).

    A resource with "/" names objects, one without names the bucket, and a wildcard without "/" may
    name either.
    """
    kinds: set[bool] = set()
    for r in resources:
        if "/" in r:
            kinds.add(True)
        else:
            kinds.add(False)
            if "*" in r:
                kinds.add(True)
    for pattern in actions:
        matched = {is_obj for name, is_obj in ACTION_KINDS.items() if wildcard_match(pattern, name)}
        if matched and not matched & kinds:
            raise malformed("Action does not apply to any resource(s) in statement")


def _conditions(value: Any, actions: tuple[str, ...]) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise malformed(_SYNTAX)
    conditions: list[Condition] = []
    concrete = [a for a in actions if "*" not in a and "?" not in a]
    for operator_text, block in value.items():
        operator, if_exists, qualifier = _operator(operator_text)
        if not isinstance(block, dict):
            raise malformed(_SYNTAX)
        for key_text, raw_values in block.items():
            key = key_text.lower()
            known = condition_key(key)
            if known is None:
                raise malformed("Policy has an invalid condition key")
            if known.actions and any(a not in known.actions for a in concrete):
                raise malformed("Conditions do not apply to combination of actions and resources in"
                                " statement")
            values = _condition_values(raw_values)
            if key == "aws:sourceip" and not all(_valid_network(v) for v in values):
                raise malformed("Invalid IP address in Conditions")
            conditions.append(Condition(operator, key, values, if_exists, qualifier))
    return tuple(conditions)


def _operator(text: str) -> tuple[str, bool, str | None]:
    qualifier = None
    name = text
    for q in ("ForAnyValue", "ForAllValues"):
        if text.lower().startswith(q.lower() + ":"):
            qualifier, name = q, text[len(q) + 1:]
    lowered = name.lower()
    if_exists = lowered not in OPERATORS and lowered.endswith("ifexists")
    base = OPERATORS.get(lowered[: -len("ifexists")] if if_exists else lowered)
    if base is None or (base == "Null" and (if_exists or qualifier)):
        raise malformed(f"Invalid Condition type : {text}")
    return base, if_exists, qualifier


def _condition_values(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise malformed(_SYNTAX)
    if not out:
        raise malformed(_SYNTAX)
    return tuple(out)


def _valid_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True

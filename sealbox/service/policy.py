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
    Operators String*/Numeric*/Date*/Bool/IpAddress/NotIpAddress/Arn*/BinaryEquals/Null, each with
    ``IfExists`` (not Null) and the ``ForAnyValue:``/``ForAllValues:`` qualifiers. Several operators,
    and several keys under one operator, must all hold; several values for one key are ORed (NORed
    for the negated operators). A key absent from the request makes a positive operator false and a
    negated one true; ``…IfExists`` holds when the key is absent; ``Null: true`` holds exactly when
    the key is absent — the rules of the IAM reference, so AWS's classic "deny PutObject without
    ``x-amz-server-side-encryption: AES256``" policy behaves here as there.

Validation (``parse_policy``) answers MalformedPolicy with the messages Amazon S3 uses.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealbox.core.errors import ErrorCode, SealboxError

MAX_POLICY_SIZE = 20 * 1024
ARN_PREFIX = "arn:aws:s3:::"
ACCOUNT = "sealbox"
USER_ARN_PREFIX = f"arn:aws:iam::{ACCOUNT}:user/"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
VERSIONS = ("2012-10-17", "2008-10-17")

# -- the S3 actions, by the resource they apply to ---------------------------------------------------

_OBJECT_ACTIONS = """AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging
    DeleteObjectVersion DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes
    GetObjectLegalHold GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion
    GetObjectVersionAcl GetObjectVersionAttributes GetObjectVersionTagging GetObjectVersionTorrent
    ListMultipartUploadParts PutObject PutObjectAcl PutObjectLegalHold PutObjectRetention PutObjectTagging
    PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete ReplicateObject ReplicateTags RestoreObject"""
_BUCKET_ACTIONS = """CreateBucket DeleteBucket DeleteBucketPolicy DeleteBucketWebsite
    GetAccelerateConfiguration GetBucketAcl GetBucketCORS GetBucketLocation GetBucketLogging
    GetBucketNotification
    GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus
    GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite
    GetEncryptionConfiguration GetLifecycleConfiguration GetReplicationConfiguration ListBucket
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


# -- condition keys ------------------------------------------------------------------------------------

_LIST_ACTIONS = frozenset({"s3:listbucket", "s3:listbucketversions"})
_VERSION_ACTIONS = frozenset(a for a in ACTION_KINDS if "version" in a and ACTION_KINDS[a])
_ANY: frozenset[str] = frozenset()  # marker: the key applies to every action
# lower-case key -> the actions it may be used with (empty = any)
CONDITION_KEYS: dict[str, frozenset[str]] = {
    "aws:securetransport": _ANY, "aws:sourceip": _ANY, "aws:useragent": _ANY, "aws:referer": _ANY,
    "aws:username": _ANY, "aws:userid": _ANY, "aws:principalarn": _ANY, "aws:principaltype": _ANY,
    "aws:currenttime": _ANY, "aws:epochtime": _ANY,
    "s3:x-amz-server-side-encryption": _ANY, "s3:x-amz-server-side-encryption-aws-kms-key-id": _ANY,
    "s3:x-amz-acl": _ANY, "s3:x-amz-storage-class": _ANY, "s3:x-amz-copy-source": _ANY,
    "s3:x-amz-metadata-directive": _ANY, "s3:x-amz-content-sha256": _ANY, "s3:signatureversion": _ANY,
    "s3:authtype": _ANY, "s3:signatureage": _ANY,
    "s3:prefix": _LIST_ACTIONS, "s3:delimiter": _LIST_ACTIONS, "s3:max-keys": _LIST_ACTIONS,
    "s3:versionid": _VERSION_ACTIONS,
}
# request header -> condition key, for keys that are simply the request header's value
_HEADER_KEYS = {
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl": "s3:x-amz-acl", "x-amz-storage-class": "s3:x-amz-storage-class",
    "x-amz-copy-source": "s3:x-amz-copy-source", "x-amz-metadata-directive": "s3:x-amz-metadata-directive",
    "x-amz-content-sha256": "s3:x-amz-content-sha256", "user-agent": "aws:useragent",
    "referer": "aws:referer",
}
_LIST_QUERY_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}


@dataclass(frozen=True)
class RequestContext:
    """What a policy condition may test about one request. Built once at the HTTP edge; no HTTP types.

    ``bucket``/``key`` are the request's own target; ``headers`` have lower-case names.
    """

    secure: bool = False
    source_ip: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    bucket: str | None = None
    key: str | None = None


def condition_values(ctx: RequestContext, principal: str | None, action: str,
                     extra: Mapping[str, str | None] | None = None) -> dict[str, tuple[str, ...]]:
    """The condition keys of a request (lower-case names); a key absent here is absent in the request."""
    now = time.time()
    values: dict[str, tuple[str, ...]] = {
        "aws:securetransport": ("true" if ctx.secure else "false",),
        "aws:currenttime": (datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now)),),
    }
    if ctx.source_ip:
        values["aws:sourceip"] = (ctx.source_ip,)
    for header, key in _HEADER_KEYS.items():
        if header in ctx.headers:
            values[key] = (ctx.headers[header],)
    if principal is None:
        values["aws:principaltype"] = ("Anonymous",)
    else:
        arn = ROOT_ARN if principal == "root" else USER_ARN_PREFIX + principal
        values.update({"aws:username": (principal,), "aws:userid": (principal,), "aws:principalarn": (arn,),
                       "aws:principaltype": ("Account" if principal == "root" else "User",)})
    if action.lower() in _LIST_ACTIONS:
        for param, key in _LIST_QUERY_KEYS.items():
            if param in ctx.query:  # present only when sent, even empty (as on AWS)
                values[key] = (ctx.query[param],)
    if "versionId" in ctx.query:
        values["s3:versionid"] = (ctx.query["versionId"],)
    if "authorization" in ctx.headers:
        values["s3:authtype"] = ("REST-HEADER",)
        values["s3:signatureversion"] = ("AWS4-HMAC-SHA256",)
    elif "X-Amz-Signature" in ctx.query:
        values["s3:authtype"] = ("REST-QUERY-STRING",)
        values["s3:signatureversion"] = ("AWS4-HMAC-SHA256",)
    for key, value in (extra or {}).items():
        if value is None:
            values.pop(key.lower(), None)
        else:
            values[key.lower()] = (value,)
    return values


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
class Condition:
    operator: str  # the base operator name, e.g. "StringEquals" (no IfExists, no qualifier)
    key: str  # lower-case
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: str | None = None  # "ForAnyValue" / "ForAllValues"


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
    context: Mapping[str, tuple[str, ...]]  # condition keys, lower-case


# -- evaluation ------------------------------------------------------------------------------------------


def evaluate(policy: Policy, request: AccessRequest) -> Decision:
    allowed = False
    for statement in policy.statements:
        if _statement_matches(statement, request):
            if statement.effect is Effect.DENY:
                return Decision.DENY
            allowed = True
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
    return all(_condition_holds(c, req.context) for c in st.conditions)


def _resource_matches(pattern: str, req: AccessRequest) -> bool:
    expanded = expand_variables(pattern, req.context)
    return expanded is not None and wildcard_match(expanded, req.resource)


_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")


def expand_variables(pattern: str, context: Mapping[str, tuple[str, ...]]) -> str | None:
    """``${aws:username}`` etc. replaced by the request's value; ``${*}``/``${?}``/``${$}`` stay literal.

    None when a variable has no value in this request (the pattern then matches nothing). Literal
    wildcards are kept escaped as ``\\x00*``-style markers understood by ``wildcard_match``.
    """
    if "${" not in pattern:
        return pattern
    missing = False

    def substitute(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        if name in ("*", "?", "$"):
            return "\x00" + name
        found = context.get(name.lower())
        if not found:
            missing = True
            return ""
        return found[0].replace("*", "\x00*").replace("?", "\x00?")

    result = _VARIABLE_RE.sub(substitute, pattern)
    return None if missing else result


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\x00" and i + 1 < len(pattern):  # an escaped literal from expand_variables
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """``*`` = any run of characters, ``?`` = exactly one; everything else literal."""
    return _compile(pattern).fullmatch(text) is not None


_NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
                      "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"})


def _condition_holds(cond: Condition, context: Mapping[str, tuple[str, ...]]) -> bool:
    values = context.get(cond.key)
    if cond.operator == "Null":
        absent = not values
        return any((v.lower() == "true") == absent for v in cond.values)
    negated = cond.operator in _NEGATED
    if not values:
        if cond.if_exists or cond.qualifier == "ForAllValues":
            return True
        return negated and cond.qualifier is None
    compare = _COMPARATORS[cond.operator]

    def holds(value: str) -> bool:
        hit = any(_compare_expanded(compare, value, expected, context) for expected in cond.values)
        return not hit if negated else hit

    if cond.qualifier == "ForAnyValue":
        return any(holds(v) for v in values)
    if cond.qualifier == "ForAllValues" or negated:
        return all(holds(v) for v in values)
    return any(holds(v) for v in values)


def _compare_expanded(compare: Callable[[str, str], bool], value: str, expected: str,
                      context: Mapping[str, tuple[str, ...]]) -> bool:
    pattern = expand_variables(expected, context)
    return pattern is not None and compare(value, pattern)


def _literal(pattern: str) -> str:
    return re.sub(r"\x00(.)", r"\1", pattern)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number
    try:
        parsed = datetime.fromisoformat(text)  # 3.11 accepts a trailing "Z"
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _ordered(parse: Callable[[str], float | None],
             test: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def compare(value: str, expected: str) -> bool:
        a, b = parse(value), parse(_literal(expected))
        return a is not None and b is not None and test(a, b)
    return compare


def _ip_in(value: str, expected: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
        network = ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped and network.version == 4:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return address.version == network.version and address in network


def _binary_equals(value: str, expected: str) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(_literal(expected), validate=True)
    except (binascii.Error, ValueError):
        return False


_COMPARATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, e: v == _literal(e),
    "StringNotEquals": lambda v, e: v == _literal(e),
    "StringEqualsIgnoreCase": lambda v, e: v.lower() == _literal(e).lower(),
    "StringNotEqualsIgnoreCase": lambda v, e: v.lower() == _literal(e).lower(),
    "StringLike": lambda v, e: wildcard_match(e, v),
    "StringNotLike": lambda v, e: wildcard_match(e, v),
    "NumericEquals": _ordered(_number, lambda a, b: a == b),
    "NumericNotEquals": _ordered(_number, lambda a, b: a == b),
    "NumericLessThan": _ordered(_number, lambda a, b: a < b),
    "NumericLessThanEquals": _ordered(_number, lambda a, b: a <= b),
    "NumericGreaterThan": _ordered(_number, lambda a, b: a > b),
    "NumericGreaterThanEquals": _ordered(_number, lambda a, b: a >= b),
    "DateEquals": _ordered(_date, lambda a, b: a == b),
    "DateNotEquals": _ordered(_date, lambda a, b: a == b),
    "DateLessThan": _ordered(_date, lambda a, b: a < b),
    "DateLessThanEquals": _ordered(_date, lambda a, b: a <= b),
    "DateGreaterThan": _ordered(_date, lambda a, b: a > b),
    "DateGreaterThanEquals": _ordered(_date, lambda a, b: a >= b),
    "Bool": lambda v, e: v.lower() == _literal(e).lower(),
    "BinaryEquals": _binary_equals,
    "IpAddress": lambda v, e: _ip_in(v, _literal(e)),
    "NotIpAddress": lambda v, e: _ip_in(v, _literal(e)),
    "ArnEquals": lambda v, e: wildcard_match(e, v),
    "ArnLike": lambda v, e: wildcard_match(e, v),
    "ArnNotEquals": lambda v, e: wildcard_match(e, v),
    "ArnNotLike": lambda v, e: wildcard_match(e, v),
}
_OPERATORS = {name.lower(): name for name in [*_COMPARATORS, "Null"]}


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
    loose = _VARIABLE_RE.sub("*", pattern)
    return wildcard_match(loose, bucket) or _matches_some_extension(loose, bucket + "/")


def _matches_some_extension(pattern: str, prefix: str) -> bool:
    """True if ``pattern`` matches some string that starts with ``prefix`` (a small NFA walk)."""
    def closure(states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            i = todo.pop()
            if i < len(pattern) and pattern[i] == "*" and i + 1 not in states:
                states.add(i + 1)
                todo.append(i + 1)
        return states

    states = closure({0})
    for ch in prefix:
        step = set()
        for i in states:
            if i < len(pattern):
                if pattern[i] == "*":
                    step.add(i)
                elif pattern[i] in ("?", ch):
                    step.add(i + 1)
        states = closure(step)
        if not states:
            return False
    return True


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
            applies = CONDITION_KEYS.get(key)
            if applies is None:
                raise malformed("Policy has an invalid condition key")
            if applies and any(a not in applies for a in concrete):
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
    if_exists = lowered not in _OPERATORS and lowered.endswith("ifexists")
    base = _OPERATORS.get(lowered[: -len("ifexists")] if if_exists else lowered)
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

"""Policy conditions: what a request tells them (the condition keys), and how operators compare.

The condition keys
    ``CONDITION_KEYS`` is the one table of the keys sealbox knows: each row names the key (as AWS
    spells it), the actions it applies to, and where its value comes from in the ``RequestContext``
    the HTTP edge builds once per request. A policy naming any other key is MalformedPolicy ("Policy
    has an invalid condition key") when it is put, as on AWS — never a key silently absent. A new key
    is one row here (and, if the request must tell something new, one field of ``RequestContext``).

    Values are computed when a condition (or a ``${…}`` policy variable) asks, once per
    authorization, so a policy without conditions costs nothing here.

    Keys whose values the request alone does not carry are given by the service that authorizes it
    (``extra``): the object tags. ``s3:ExistingObjectTag/<tag key>`` is the value of the tag of the object
    a request concerns (looked up before the request is authorized, and only when the bucket's policy
    mentions the key); ``s3:RequestObjectTag/<tag key>`` the value a request gives a tag and
    ``s3:RequestObjectTagKeys`` (multi-valued: use ForAllValues/ForAnyValue) every key it sets
    (PutObject & co. with ``x-amz-tagging``, PutObjectTagging). The tag key part matches without regard
    to case, like any condition key name; tags whose keys differ only in case give their values to one
    key. ``s3:if-match`` and ``s3:if-none-match`` are the request's conditional headers (AWS's "enforce
    conditional writes/deletes" policies test them with ``Null``).

    Signature keys, as AWS documents them: ``s3:signatureversion`` is ``AWS`` (Signature Version 2)
    or ``AWS4-HMAC-SHA256``; ``s3:authType`` ``REST-HEADER``, ``REST-QUERY-STRING`` or ``POST``;
    ``s3:signatureAge`` the milliseconds since a presigned URL or POST form was signed (0 for
    Signature Version 2, absent for header-signed requests); ``s3:x-amz-content-sha256`` the payload
    hash the signature covers (absent unless Signature Version 4 covered it: an unsigned header
    proves nothing); ``s3:TlsVersion`` ``1.2``/``1.3`` (absent over plain HTTP). All absent for
    anonymous requests.

Operators
    String*/Numeric*/Date*/Bool/IpAddress/NotIpAddress/Arn*/BinaryEquals/Null, each with
    ``IfExists`` (not Null) and the ``ForAnyValue:``/``ForAllValues:`` qualifiers. Several operators,
    and several keys under one operator, must all hold; several values for one key are ORed (NORed for
    the negated operators). A key absent from the request makes a positive operator false and a
    negated one true; ``…IfExists`` holds when the key is absent; ``Null: true`` holds exactly when the
    key is absent — the rules of the IAM reference. ``StringLike`` and ``Arn*`` use the linear
    wildcard matcher of ``policy_match`` (``Arn*`` part by part, as IAM does).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sealbox.service.policy_match import arn_match, wildcard_match

ACCOUNT = "sealbox"
USER_ARN_PREFIX = f"arn:aws:iam::{ACCOUNT}:user/"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"


@dataclass(frozen=True)
class RequestContext:
    """What a policy condition may test about one request. Built once at the HTTP edge; no HTTP types.

    ``bucket``/``key`` are the request's own target; ``headers`` have lower-case names (for POST
    Object: the form's fields, which define the upload). The signature fields come from the auth
    layer's verdict (None for anonymous requests; see the module docstring).
    """

    secure: bool = False
    source_ip: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    bucket: str | None = None
    key: str | None = None
    signature_version: str | None = None  # "AWS" (SigV2) or "AWS4-HMAC-SHA256"
    auth_type: str | None = None  # "REST-HEADER", "REST-QUERY-STRING" or "POST"
    signature_age_ms: int | None = None  # presigned URLs and POST forms only
    content_sha256: str | None = None  # x-amz-content-sha256 as the signature covered it
    tls_version: str | None = None  # "1.2", "1.3"; None over plain HTTP


# -- the condition keys ------------------------------------------------------------------------------------

# The value(s) of a key for one request, or None when the request does not have the key.
Getter = Callable[[RequestContext, str | None, str], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class ConditionKey:
    name: str  # as AWS spells it; matched case-insensitively
    value: Getter  # (request, principal name or None for anonymous, action) -> values or None
    actions: frozenset[str] = frozenset()  # lower-case actions it may be used with; empty: every action


def _one(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else (value,)


def _header(name: str) -> Getter:
    return lambda ctx, who, action: _one(ctx.headers.get(name))


def _query(name: str) -> Getter:
    return lambda ctx, who, action: _one(ctx.query.get(name))  # present when sent, even empty (as on AWS)


def _principal_arn(ctx: RequestContext, who: str | None, action: str) -> tuple[str, ...] | None:
    if who is None:
        return None
    return (ROOT_ARN if who == "root" else USER_ARN_PREFIX + who,)


def _principal_type(ctx: RequestContext, who: str | None, action: str) -> tuple[str, ...]:
    return ("Anonymous" if who is None else "Account" if who == "root" else "User",)


def _current_time(ctx: RequestContext, who: str | None, action: str) -> tuple[str, ...]:
    return (datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)


def _number(value: int | None) -> tuple[str, ...] | None:
    return None if value is None else (str(value),)


_LIST_ACTIONS = frozenset({"s3:listbucket", "s3:listbucketversions"})
_VERSION_ACTIONS = frozenset("""s3:deleteobjectversion s3:deleteobjectversiontagging s3:getobjectversion
    s3:getobjectversionacl s3:getobjectversionattributes s3:getobjectversiontagging
    s3:getobjectversiontorrent s3:putobjectversionacl s3:putobjectversiontagging""".split())

_KEYS = (
    # aws:* global keys sealbox can evaluate
    ConditionKey("aws:SecureTransport", lambda ctx, who, action: ("true" if ctx.secure else "false",)),
    ConditionKey("aws:SourceIp", lambda ctx, who, action: _one(ctx.source_ip or None)),
    ConditionKey("aws:UserAgent", _header("user-agent")),
    ConditionKey("aws:Referer", _header("referer")),
    ConditionKey("aws:username", lambda ctx, who, action: _one(who)),
    ConditionKey("aws:userid", lambda ctx, who, action: _one(who)),
    ConditionKey("aws:PrincipalArn", _principal_arn),
    ConditionKey("aws:PrincipalType", _principal_type),
    ConditionKey("aws:CurrentTime", _current_time),
    ConditionKey("aws:EpochTime", lambda ctx, who, action: (str(int(time.time())),)),
    # s3:* keys: request headers (for POST Object, form fields)
    ConditionKey("s3:x-amz-server-side-encryption", _header("x-amz-server-side-encryption")),
    ConditionKey("s3:x-amz-server-side-encryption-aws-kms-key-id",
                 _header("x-amz-server-side-encryption-aws-kms-key-id")),
    ConditionKey("s3:x-amz-server-side-encryption-customer-algorithm",  # SSE-C; the key itself is no condition
                 _header("x-amz-server-side-encryption-customer-algorithm")),
    ConditionKey("s3:x-amz-acl", _header("x-amz-acl")),
    ConditionKey("s3:x-amz-storage-class", _header("x-amz-storage-class")),
    ConditionKey("s3:x-amz-copy-source", _header("x-amz-copy-source")),
    ConditionKey("s3:x-amz-metadata-directive", _header("x-amz-metadata-directive")),
    ConditionKey("s3:x-amz-grant-read", _header("x-amz-grant-read")),
    ConditionKey("s3:x-amz-grant-write", _header("x-amz-grant-write")),
    ConditionKey("s3:x-amz-grant-read-acp", _header("x-amz-grant-read-acp")),
    ConditionKey("s3:x-amz-grant-write-acp", _header("x-amz-grant-write-acp")),
    ConditionKey("s3:x-amz-grant-full-control", _header("x-amz-grant-full-control")),
    ConditionKey("s3:object-lock-mode", _header("x-amz-object-lock-mode")),
    ConditionKey("s3:object-lock-retain-until-date", _header("x-amz-object-lock-retain-until-date")),
    ConditionKey("s3:object-lock-legal-hold", _header("x-amz-object-lock-legal-hold")),
    ConditionKey("s3:if-match", _header("if-match")),
    ConditionKey("s3:if-none-match", _header("if-none-match")),
    # given by the service (``extra``), see request_tag_values
    ConditionKey("s3:RequestObjectTagKeys", lambda ctx, who, action: None),
    # s3:* keys: how the request was signed and carried (from the auth layer, not from headers)
    ConditionKey("s3:x-amz-content-sha256", lambda ctx, who, action: _one(ctx.content_sha256)),
    ConditionKey("s3:signatureversion", lambda ctx, who, action: _one(ctx.signature_version)),
    ConditionKey("s3:authType", lambda ctx, who, action: _one(ctx.auth_type)),
    ConditionKey("s3:signatureAge", lambda ctx, who, action: _number(ctx.signature_age_ms)),
    ConditionKey("s3:TlsVersion", lambda ctx, who, action: _one(ctx.tls_version)),
    # s3:* keys of particular actions
    ConditionKey("s3:prefix", _query("prefix"), _LIST_ACTIONS),
    ConditionKey("s3:delimiter", _query("delimiter"), _LIST_ACTIONS),
    ConditionKey("s3:max-keys", _query("max-keys"), _LIST_ACTIONS),
    ConditionKey("s3:VersionId", _query("versionId"), _VERSION_ACTIONS),
)
# lower-case key name -> its row
CONDITION_KEYS: dict[str, ConditionKey] = {key.name.lower(): key for key in _KEYS}

# Keys named by a prefix and a tag key; their values are given by the service (see existing_tag_values).
EXISTING_TAG_PREFIX = "s3:existingobjecttag/"
REQUEST_TAG_PREFIX = "s3:requestobjecttag/"
REQUEST_TAG_KEYS = "s3:requestobjecttagkeys"
_TAGGED = ConditionKey("s3:<tag key>", lambda ctx, who, action: None)
# The actions whose requests have s3:ExistingObjectTag/... (AWS's service authorization reference).
EXISTING_TAG_ACTIONS = frozenset(
    f"s3:{name.lower()}" for name in """GetObject GetObjectVersion GetObjectAcl GetObjectVersionAcl
    GetObjectAttributes GetObjectVersionAttributes GetObjectTagging GetObjectVersionTagging PutObjectTagging
    PutObjectVersionTagging DeleteObjectTagging DeleteObjectVersionTagging""".split())
# The condition keys a service may set on a request (``extra``): a value, several (a multi-valued key such
# as s3:RequestObjectTagKeys), or None for a key the request does not have.
ExtraValues = Mapping[str, "str | tuple[str, ...] | None"]


def condition_key(name: str) -> ConditionKey | None:
    """The row of a condition key (lower-case name), tag keys included; None for a key sealbox does not know."""
    found = CONDITION_KEYS.get(name)
    if found is None and name.startswith((EXISTING_TAG_PREFIX, REQUEST_TAG_PREFIX)) and name.split("/", 1)[1]:
        return _TAGGED
    return found


def _tag_values(prefix: str, tags: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    values: dict[str, tuple[str, ...]] = {}
    for key, value in tags.items():
        name = prefix + key.lower()
        values[name] = (*values.get(name, ()), value)
    return values


def existing_tag_values(tags: Mapping[str, str]) -> dict[str, str | tuple[str, ...] | None]:
    """s3:ExistingObjectTag/<key> of a request on an object with ``tags``."""
    return dict(_tag_values(EXISTING_TAG_PREFIX, tags))


def request_tag_values(tags: Mapping[str, str] | None) -> dict[str, str | tuple[str, ...] | None]:
    """s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys of a request that sets ``tags`` (None: a
    request that sets none, whose keys are absent)."""
    if tags is None:
        return {}
    values: dict[str, str | tuple[str, ...] | None] = dict(_tag_values(REQUEST_TAG_PREFIX, tags))
    values[REQUEST_TAG_KEYS] = tuple(tags) if tags else None
    return values


@functools.lru_cache(maxsize=1024)
def mentions_existing_tags(policy_text: str) -> bool:
    """Whether a policy may test s3:ExistingObjectTag (a request must then look the object's tags up first)."""
    return "existingobjecttag" in policy_text.lower()


class Values(Protocol):
    """The condition keys of a request, by lower-case name; None for a key the request does not have."""

    def get(self, key: str, /) -> tuple[str, ...] | None: ...


class ConditionValues:
    """The condition keys of one request, computed when first asked (see ``Values``)."""

    __slots__ = ("_ctx", "_who", "_action", "_cache")

    def __init__(self, ctx: RequestContext, principal: str | None, action: str,
                 extra: ExtraValues | None = None) -> None:
        self._ctx, self._who, self._action = ctx, principal, action.lower()
        self._cache: dict[str, tuple[str, ...] | None] = {}
        if extra:
            for key, value in extra.items():
                self._cache[key.lower()] = value if isinstance(value, tuple) else _one(value)

    def get(self, key: str, /) -> tuple[str, ...] | None:
        cache = self._cache
        if key in cache:
            return cache[key]
        spec = CONDITION_KEYS.get(key)
        if spec is None or (spec.actions and self._action not in spec.actions):
            found = None
        else:
            found = spec.value(self._ctx, self._who, self._action)
        cache[key] = found
        return found

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        """Every key this request has (for tests and debugging)."""
        names: Iterable[str] = [*CONDITION_KEYS, *self._cache]
        return {name: found for name in dict.fromkeys(names) if (found := self.get(name)) is not None}


def condition_values(ctx: RequestContext, principal: str | None, action: str,
                     extra: ExtraValues | None = None) -> ConditionValues:
    """The condition keys of a request (lower-case names); ``extra`` overrides some (None: absent)."""
    return ConditionValues(ctx, principal, action, extra)


# -- policy variables --------------------------------------------------------------------------------------

_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")


def expand_variables(pattern: str, context: Values) -> str | None:
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


def loosen_variables(pattern: str) -> str:
    """The pattern with each policy variable as a ``*`` (what it could expand to, at most)."""
    return _VARIABLE_RE.sub("*", pattern)


# -- operators ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    operator: str  # the base operator name, e.g. "StringEquals" (no IfExists, no qualifier)
    key: str  # lower-case
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: str | None = None  # "ForAnyValue" / "ForAllValues"


NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
                     "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"})


def condition_holds(cond: Condition, context: Values) -> bool:
    values = context.get(cond.key)
    if cond.operator == "Null":
        absent = not values
        return any((v.lower() == "true") == absent for v in cond.values)
    negated = cond.operator in NEGATED
    if not values:
        if cond.if_exists or cond.qualifier == "ForAllValues":
            return True
        return negated and cond.qualifier is None
    compare = COMPARATORS[cond.operator]

    def holds(value: str) -> bool:
        hit = any(_compare_expanded(compare, value, expected, context) for expected in cond.values)
        return not hit if negated else hit

    if cond.qualifier == "ForAnyValue":
        return any(holds(v) for v in values)
    if cond.qualifier == "ForAllValues" or negated:
        return all(holds(v) for v in values)
    return any(holds(v) for v in values)


def _compare_expanded(compare: Callable[[str, str], bool], value: str, expected: str, context: Values) -> bool:
    pattern = expand_variables(expected, context)
    return pattern is not None and compare(value, pattern)


_ESCAPED = re.compile(r"\x00(.)", re.DOTALL)


def _literal(pattern: str) -> str:
    return _ESCAPED.sub(r"\1", pattern) if "\x00" in pattern else pattern


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _float(text)
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


COMPARATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, e: v == _literal(e),
    "StringNotEquals": lambda v, e: v == _literal(e),
    "StringEqualsIgnoreCase": lambda v, e: v.lower() == _literal(e).lower(),
    "StringNotEqualsIgnoreCase": lambda v, e: v.lower() == _literal(e).lower(),
    "StringLike": lambda v, e: wildcard_match(e, v),
    "StringNotLike": lambda v, e: wildcard_match(e, v),
    "NumericEquals": _ordered(_float, lambda a, b: a == b),
    "NumericNotEquals": _ordered(_float, lambda a, b: a == b),
    "NumericLessThan": _ordered(_float, lambda a, b: a < b),
    "NumericLessThanEquals": _ordered(_float, lambda a, b: a <= b),
    "NumericGreaterThan": _ordered(_float, lambda a, b: a > b),
    "NumericGreaterThanEquals": _ordered(_float, lambda a, b: a >= b),
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
    "ArnEquals": lambda v, e: arn_match(e, v),
    "ArnLike": lambda v, e: arn_match(e, v),
    "ArnNotEquals": lambda v, e: arn_match(e, v),
    "ArnNotLike": lambda v, e: arn_match(e, v),
}
OPERATORS = {name.lower(): name for name in [*COMPARATORS, "Null"]}

"""Key policies: AWS's key-policy JSON, parsed once per text, evaluated like bucket policies.

A statement names principals (``"*"``, ``{"AWS": "*"}``, ``arn:aws:iam::<account>:user/NAME``, the
account's ``arn:aws:iam::<account>:root`` = sealbox's root, or a plain user name), actions (``kms:*``,
``kms:Encrypt``, wildcards, case-insensitive), resources (``"*"`` or the key's ARN, wildcards) and
conditions. Evaluation: a matching Deny decides DENY, else a matching Allow decides ALLOW, else the
policy says nothing (NONE). There are no IAM policies in sealbox, so the account principal means root
only, and ``{"Service": …}`` principals match nobody.

Conditions: ``String(Not)Equals(IgnoreCase)``, ``String(Not)Like``, ``Bool``, ``Null``,
``Arn(Not)Equals``, ``Arn(Not)Like``, with ``…IfExists`` and ``ForAnyValue:``/``ForAllValues:``, over
``kms:ViaService`` (``s3.<region>.amazonaws.com`` when S3 uses the key for an object),
``kms:CallerAccount``, ``kms:EncryptionContext:<name>``, ``kms:EncryptionContextKeys`` and the global
``aws:username``, ``aws:PrincipalArn``, ``aws:SourceIp``, ``aws:SecureTransport``.

Who may use and manage a key (``sealbox.kms.service.KeyService.authorize``): root always; then an
explicit Deny refuses; the key's creator may manage and use the keys they created; otherwise the
key's policy must Allow. A key created without a policy gets ``default_policy`` (AWS's default: the
account — here root — may do anything; so with it only root and the creator use the key), and
``alias/aws/s3`` has ``managed_s3_policy`` (AWS's policy of its managed key: any signed-in principal
of the account may use it, but only through S3).
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealbox.kms.model import KmsCode, KmsError
from sealbox.service.policy import wildcard_match

MAX_POLICY_SIZE = 32 * 1024  # AWS: 32 KB


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NONE = "none"


@dataclass(frozen=True)
class KeyCondition:
    operator: str  # base name, e.g. "StringEquals"
    key: str  # lower-case
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: str | None = None


@dataclass(frozen=True)
class KeyStatement:
    allow: bool
    everyone: bool
    principals: frozenset[str]
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[KeyCondition, ...]


@dataclass(frozen=True)
class KeyPolicy:
    statements: tuple[KeyStatement, ...]


_OPERATORS = {name.lower(): name for name in (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "Bool", "Null", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")}
_NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"})
_USER_ARN = re.compile(r"arn:aws:iam::[^:]*:user/(.+)")
_ROOT_ARN = re.compile(r"arn:aws:iam::[^:]*:root")
_ACTION = re.compile(r"kms:[A-Za-z*?]+|\*")


def malformed(message: str) -> KmsError:
    return KmsError(KmsCode.MALFORMED_POLICY, message)


@functools.lru_cache(maxsize=512)
def parse_key_policy(text: str) -> KeyPolicy:
    """A key policy document; MalformedPolicyDocumentException if it is not one."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_SIZE:
        raise malformed("The key policy exceeds the maximum size of 32 KB.")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise malformed("The policy is not valid JSON.") from None
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise malformed("The policy must be a JSON object with a Statement.")
    raw = doc["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise malformed("The policy has no statements.")
    return KeyPolicy(tuple(_statement(item) for item in items))


def _strings(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise malformed(f"Invalid {what} in the policy.")
    return items


def _statement(raw: Any) -> KeyStatement:
    if not isinstance(raw, dict):
        raise malformed("A statement must be a JSON object.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise malformed("A statement's Effect must be Allow or Deny.")
    for name in ("Principal", "Action", "Resource"):
        if (name in raw) == (f"Not{name}" in raw):
            raise malformed(f"A statement needs exactly one of {name} and Not{name}.")
    everyone, names = _principals(raw.get("Principal", raw.get("NotPrincipal")))
    actions = []
    for action in _strings(raw.get("Action", raw.get("NotAction")), "action"):
        if not _ACTION.fullmatch(action):
            raise malformed(f"Invalid action {action!r} in the policy.")
        actions.append("kms:*" if action == "*" else action.lower())
    resources = tuple(_strings(raw.get("Resource", raw.get("NotResource")), "resource"))
    return KeyStatement(effect == "Allow", everyone, names, "NotPrincipal" in raw, tuple(actions),
                        "NotAction" in raw, resources, "NotResource" in raw, _conditions(raw.get("Condition")))


def _principals(value: Any) -> tuple[bool, frozenset[str]]:
    if value == "*":
        return True, frozenset()
    if not isinstance(value, dict) or not value:
        raise malformed("Invalid principal in the policy.")
    everyone = False
    names: set[str] = set()
    for kind, refs in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise malformed(f"Invalid principal type {kind!r} in the policy.")
        for ref in _strings(refs, "principal"):
            if kind != "AWS":
                continue  # no such principals in sealbox: they match nobody
            if ref == "*":
                everyone = True
            elif _ROOT_ARN.fullmatch(ref) or ref == "root":
                names.add("root")
            elif m := _USER_ARN.fullmatch(ref):
                names.add(m.group(1))
            elif re.fullmatch(r"\d{12}", ref):
                names.add("root")  # an account id names the account, i.e. root here
            else:
                names.add(ref)
    return everyone, frozenset(names)


def _conditions(value: Any) -> tuple[KeyCondition, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise malformed("Condition must be a JSON object.")
    out: list[KeyCondition] = []
    for op_text, block in value.items():
        qualifier = None
        name = op_text
        for q in ("ForAnyValue", "ForAllValues"):
            if op_text.lower().startswith(q.lower() + ":"):
                qualifier, name = q, op_text[len(q) + 1:]
        lowered = name.lower()
        if_exists = lowered not in _OPERATORS and lowered.endswith("ifexists")
        base = _OPERATORS.get(lowered[:-len("ifexists")] if if_exists else lowered)
        if base is None or not isinstance(block, dict):
            raise malformed(f"Invalid condition operator {op_text!r} in the policy.")
        for key, raw_values in block.items():
            items = raw_values if isinstance(raw_values, list) else [raw_values]
            values = tuple("true" if v is True else "false" if v is False else str(v) for v in items
                           if isinstance(v, str | bool | int | float))
            if not values or len(values) != len(items):
                raise malformed(f"Invalid values for condition key {key!r}.")
            out.append(KeyCondition(base, key.lower(), values, if_exists, qualifier))
    return tuple(out)


# -- evaluation --------------------------------------------------------------------------------------------


def evaluate(policy: KeyPolicy, principal: str | None, action: str, resource: str,
             context: Mapping[str, tuple[str, ...]]) -> Decision:
    allowed = False
    for st in policy.statements:
        if _matches(st, principal, action.lower(), resource, context):
            if not st.allow:
                return Decision.DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.NONE


def _matches(st: KeyStatement, principal: str | None, action: str, resource: str,
             context: Mapping[str, tuple[str, ...]]) -> bool:
    named = st.everyone or (principal is not None and principal in st.principals)
    if named == st.not_principal:
        return False
    if any(wildcard_match(p, action) for p in st.actions) == st.not_action:
        return False
    if any(p == "*" or wildcard_match(p, resource) for p in st.resources) == st.not_resource:
        return False
    return all(_holds(c, context) for c in st.conditions)


def _compare(operator: str, value: str, expected: str) -> bool:
    if operator in ("StringEquals", "StringNotEquals"):
        return value == expected
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Bool"):
        return value.lower() == expected.lower()
    return wildcard_match(expected, value)  # String(Not)Like, Arn*


def _holds(cond: KeyCondition, context: Mapping[str, tuple[str, ...]]) -> bool:
    values = context.get(cond.key)
    if cond.operator == "Null":
        return any((v.lower() == "true") == (not values) for v in cond.values)
    negated = cond.operator in _NEGATED
    if not values:
        if cond.if_exists or cond.qualifier == "ForAllValues":
            return True
        return negated and cond.qualifier is None

    def holds(value: str) -> bool:
        hit = any(_compare(cond.operator, value, expected) for expected in cond.values)
        return not hit if negated else hit

    if cond.qualifier == "ForAnyValue":
        return any(holds(v) for v in values)
    if cond.qualifier == "ForAllValues" or negated:
        return all(holds(v) for v in values)
    return any(holds(v) for v in values)


# -- the default policies -------------------------------------------------------------------------------------


def default_policy(account: str) -> str:
    """AWS's default key policy: the account (here: root) may do anything with the key."""
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}, indent=2)


def managed_s3_policy(account: str, region: str) -> str:
    """The policy of the AWS managed key aws/s3: every principal of the account may use it through S3."""
    return json.dumps({"Version": "2012-10-17", "Id": "auto-s3-2", "Statement": [
        {"Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
         "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                                         "kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": "*"}, "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account}}}]}, indent=2)

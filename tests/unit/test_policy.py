"""The bucket-policy language: validation with AWS's MalformedPolicy messages, and evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.policy import (
    AccessRequest,
    Decision,
    RequestContext,
    condition_values,
    evaluate,
    parse_policy,
    wildcard_match,
)

BUCKET = "photos"
USERS = {"alice", "bob", "root"}


def resolve(ref: str) -> str | None:
    return ref if ref in USERS else None


def policy(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)})


def stmt(effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject",
         resource: Any = f"arn:aws:s3:::{BUCKET}/*", **more: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **more}


def decide(text: str, *, who: str | None = "alice", action: str = "s3:GetObject", key: str | None = "a.txt",
           ctx: RequestContext | None = None, extra: dict[str, str | None] | None = None) -> Decision:
    document = parse_policy(text, BUCKET, resolve)
    resource = f"{BUCKET}/{key}" if key is not None else BUCKET
    context = condition_values(ctx or RequestContext(), who, action, extra)
    return evaluate(document, AccessRequest(who, None, action, resource, context))


def malformed(text: str) -> str:
    with pytest.raises(SealboxError) as info:
        parse_policy(text, BUCKET, resolve)
    assert info.value.code is ErrorCode.MALFORMED_POLICY
    return info.value.message or ""


# -- validation -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["false", "invalid_json", '"Statement": []}', "", "[]"])
def test_first_byte_must_be_a_brace(text: str) -> None:
    assert malformed(text) == "Policies must be valid JSON and the first byte must be '{'"


@pytest.mark.parametrize("text", ["{true}", "{asdfsdaf", '{"Principal": "*" '])
def test_invalid_json(text: str) -> None:
    assert malformed(text) == "This policy contains invalid Json"


def test_statement_required_and_not_empty() -> None:
    assert malformed("{}") == "Missing required field Statement"
    assert malformed('{"Statement": []}') == "Could not parse the policy: Statement is empty!"


def test_version_must_be_known() -> None:
    assert malformed(policy(stmt(), Version="2020-01-01")) == "The policy must contain a valid version string"
    parse_policy(policy(stmt(), Version="2008-10-17"), BUCKET, resolve)


def test_unknown_fields_are_refused() -> None:
    assert malformed(policy(stmt(), Extra=1)) == "Unknown field Extra"
    assert malformed(policy(stmt(Bank="x"))) == "Unknown field Bank"


def test_duplicate_field_is_refused() -> None:
    text = '{"Statement": [{"Effect": "Allow", "Effect": "Deny"}]}'
    assert malformed(text) == "Statement/policy already has instance of Effect"


def test_effect() -> None:
    missing = stmt()
    del missing["Effect"]
    assert malformed(policy(missing)) == "Missing required field Effect"
    assert malformed(policy(stmt(effect="invalid_effect"))) == "Invalid effect: invalid_effect"


def test_principal() -> None:
    missing = stmt()
    del missing["Principal"]
    assert malformed(policy(missing)) == "Missing required field Principal"
    for bad in ["", [], {"AWS": ""}, {"AWS": []}, "alice", {"Service": "logging.s3.amazonaws.com"},
                {"AWS": "nobody"}, {"AWS": "arn:aws:iam::sealbox:user/nobody"}, {"CanonicalUser": "abc"}, {}]:
        assert malformed(policy(stmt(principal=bad))) == "Invalid principal in policy", bad


def test_action() -> None:
    missing = stmt()
    del missing["Action"]
    assert malformed(policy(missing)) == "Missing required field Action"
    for bad in ["", [], "invalid_action", "s3", "s3:", "s4:GetObject", "s3::GetObject", "s3:Put-Object",
                "s3:*Obj??ect*", "s3:????", "*GetObject", "s3:Abort?", "s3:NoSuchAction"]:
        assert malformed(policy(stmt(action=bad))) == "Policy has invalid action", bad


def test_resource() -> None:
    missing = stmt()
    del missing["Resource"]
    assert malformed(policy(missing)) == "Missing required field Resource"
    for bad in ["", [], f"arn:aws:iam:::{BUCKET}", f"arn:aws:s3:::/{BUCKET}",
                f"arn:aws:s3:::prefix-{BUCKET}/*", "arn:aws:s3:::other/*", f"arn:aws:s3:::{BUCKET}x/*"]:
        assert malformed(policy(stmt(resource=bad))) == "Policy has invalid resource", bad


def test_resources_that_can_name_the_bucket_are_accepted() -> None:
    for good in [f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/public/*", "arn:aws:s3:::*",
                 "arn:aws:s3:::pho*", f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*",
                 "arn:aws:s3:::ph?tos/*"]:
        parse_policy(policy(stmt(resource=good)), BUCKET, resolve)


def test_action_must_apply_to_a_resource() -> None:
    message = "Action does not apply to any resource(s) in statement"
    assert malformed(policy(stmt(action="s3:GetObject", resource=f"arn:aws:s3:::{BUCKET}"))) == message
    assert malformed(policy(stmt(action="s3:ListBucket", resource=f"arn:aws:s3:::{BUCKET}/*"))) == message
    assert malformed(policy(stmt(action="s3:GetBucket*", resource=f"arn:aws:s3:::{BUCKET}/*"))) == message
    parse_policy(policy(stmt(action="s3:*", resource=f"arn:aws:s3:::{BUCKET}")), BUCKET, resolve)


def test_conditions_are_validated() -> None:
    def with_condition(condition: Any, action: Any = "s3:PutObject") -> str:
        return policy(stmt(action=action, Condition=condition))
    assert malformed(with_condition({"StringEqualz": {"s3:prefix": "a"}})) == \
        "Invalid Condition type : StringEqualz"
    assert malformed(with_condition({"NullIfExists": {"aws:username": "true"}})) == \
        "Invalid Condition type : NullIfExists"
    assert malformed(with_condition({"StringEquals": {"s3:nonsense": "a"}})) == \
        "Policy has an invalid condition key"
    assert malformed(with_condition({"StringEquals": {"s3:prefix": "a"}}, "s3:GetObject")) == \
        "Conditions do not apply to combination of actions and resources in statement"
    assert malformed(with_condition({"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}})) == \
        "Invalid IP address in Conditions"
    assert malformed(with_condition({"StringEquals": {"aws:username": {"x": 1}}})) == "Invalid policy syntax."


def test_size_limit() -> None:
    big = policy(stmt(Sid="x" * (20 * 1024)))
    assert malformed(big) == "Policy exceeds the maximum allowed document size."


def test_principal_forms() -> None:
    for principal in ["*", {"AWS": "*"}, {"AWS": "alice"}, {"AWS": "arn:aws:iam::sealbox:root"},
                      {"AWS": ["arn:aws:iam::sealbox:user/alice", "bob"]}]:
        parse_policy(policy(stmt(principal=principal)), BUCKET, resolve)


# -- evaluation ---------------------------------------------------------------------------------------------

def test_allow_and_nothing() -> None:
    text = policy(stmt(principal={"AWS": "alice"}))
    assert decide(text, who="alice") is Decision.ALLOW
    assert decide(text, who="bob") is Decision.NONE
    assert decide(text, who=None) is Decision.NONE
    assert decide(text, who="alice", action="s3:PutObject") is Decision.NONE


def test_everyone_includes_anonymous() -> None:
    for principal in ["*", {"AWS": "*"}]:
        assert decide(policy(stmt(principal=principal)), who=None) is Decision.ALLOW


def test_explicit_deny_wins() -> None:
    text = policy(stmt(principal="*"), stmt(effect="Deny", principal={"AWS": "bob"},
                                           resource=f"arn:aws:s3:::{BUCKET}/private/*"))
    assert decide(text, who="bob", key="public/a") is Decision.ALLOW
    assert decide(text, who="bob", key="private/a") is Decision.DENY
    assert decide(text, who="alice", key="private/a") is Decision.ALLOW


def test_action_wildcards_are_case_insensitive() -> None:
    text = policy(stmt(action=["s3:Get*", "s3:put*"]))
    assert decide(text, action="s3:GetObject") is Decision.ALLOW
    assert decide(text, action="s3:GetObjectVersion") is Decision.ALLOW
    assert decide(text, action="s3:PutObject") is Decision.ALLOW
    assert decide(text, action="s3:DeleteObject") is Decision.NONE
    assert decide(policy(stmt(action="*")), action="s3:DeleteObject") is Decision.ALLOW
    assert decide(policy(stmt(action="s3:*")), action="s3:DeleteObject") is Decision.ALLOW


def test_resource_wildcards_are_case_sensitive() -> None:
    text = policy(stmt(resource=f"arn:aws:s3:::{BUCKET}/public/*"))
    assert decide(text, key="public/x/y.jpg") is Decision.ALLOW
    assert decide(text, key="Public/x") is Decision.NONE
    assert decide(text, key="publicx") is Decision.NONE
    one = policy(stmt(resource=f"arn:aws:s3:::{BUCKET}/img?.png"))
    assert decide(one, key="img1.png") is Decision.ALLOW
    assert decide(one, key="img12.png") is Decision.NONE


def test_bucket_resource_for_bucket_actions() -> None:
    text = policy(stmt(action="s3:ListBucket", resource=f"arn:aws:s3:::{BUCKET}"))
    assert decide(text, action="s3:ListBucket", key=None) is Decision.ALLOW
    objects_only = policy(stmt(action="s3:*", resource=f"arn:aws:s3:::{BUCKET}/*"))
    assert decide(objects_only, action="s3:ListBucket", key=None) is Decision.NONE


def test_not_principal_not_action_not_resource() -> None:
    deny_others = policy(stmt(effect="Deny", principal=None, NotPrincipal={"AWS": "alice"}, action="s3:*"))
    deny_others = deny_others.replace('"Principal": null, ', "")
    assert decide(deny_others, who="alice") is Decision.NONE
    assert decide(deny_others, who="bob") is Decision.DENY
    assert decide(deny_others, who=None) is Decision.DENY
    not_action = json.loads(policy(stmt()))
    del not_action["Statement"][0]["Action"]
    not_action["Statement"][0]["NotAction"] = "s3:DeleteObject"
    assert decide(json.dumps(not_action), action="s3:GetObject") is Decision.ALLOW
    assert decide(json.dumps(not_action), action="s3:DeleteObject") is Decision.NONE
    not_resource = json.loads(policy(stmt()))
    del not_resource["Statement"][0]["Resource"]
    not_resource["Statement"][0]["NotResource"] = f"arn:aws:s3:::{BUCKET}/secret/*"
    assert decide(json.dumps(not_resource), key="a") is Decision.ALLOW
    assert decide(json.dumps(not_resource), key="secret/a") is Decision.NONE


def test_policy_variables_in_resources() -> None:
    text = policy(stmt(principal={"AWS": ["alice", "bob"]},
                       resource=f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*"))
    assert decide(text, who="alice", key="home/alice/notes") is Decision.ALLOW
    assert decide(text, who="bob", key="home/alice/notes") is Decision.NONE


SSE_POLICY = policy(
    stmt(effect="Deny", action="s3:PutObject", Sid="DenyIncorrectEncryptionHeader",
         Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}),
    stmt(effect="Deny", action="s3:PutObject", Sid="DenyUnEncryptedObjectUploads",
         Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}}),
)


def put_with(headers: dict[str, str]) -> Decision:
    return decide(SSE_POLICY, who="root", action="s3:PutObject", ctx=RequestContext(headers=headers))


def test_classic_deny_unencrypted_uploads() -> None:
    assert put_with({}) is Decision.DENY
    assert put_with({"x-amz-server-side-encryption": "aws:kms"}) is Decision.DENY
    assert put_with({"x-amz-server-side-encryption": "aes256"}) is Decision.DENY  # StringNotEquals is exact
    assert put_with({"x-amz-server-side-encryption": "AES256"}) is Decision.NONE
    assert decide(SSE_POLICY, action="s3:GetObject") is Decision.NONE


def test_absent_key_semantics() -> None:
    def holds(condition: dict[str, Any], headers: dict[str, str]) -> bool:
        text = policy(stmt(action="s3:PutObject", Condition=condition))
        return decide(text, action="s3:PutObject", ctx=RequestContext(headers=headers)) is Decision.ALLOW
    key = "s3:x-amz-server-side-encryption"
    assert not holds({"StringEquals": {key: "AES256"}}, {})
    assert holds({"StringNotEquals": {key: "AES256"}}, {})
    assert holds({"StringEqualsIfExists": {key: "AES256"}}, {})
    assert not holds({"StringEqualsIfExists": {key: "AES256"}}, {"x-amz-server-side-encryption": "x"})
    assert holds({"StringNotLike": {key: "AES*"}}, {})
    assert not holds({"StringLike": {key: "AES*"}}, {})
    assert holds({"Null": {key: "false"}}, {"x-amz-server-side-encryption": "AES256"})
    assert not holds({"Null": {key: "false"}}, {})


def test_string_operators() -> None:
    def holds(op: str, expected: Any, value: str) -> bool:
        text = policy(stmt(action="s3:PutObject", Condition={op: {"s3:x-amz-storage-class": expected}}))
        ctx = RequestContext(headers={"x-amz-storage-class": value})
        return decide(text, action="s3:PutObject", ctx=ctx) is Decision.ALLOW
    assert holds("StringEquals", ["GLACIER", "STANDARD"], "STANDARD")
    assert not holds("StringEquals", "STANDARD", "standard")
    assert holds("StringEqualsIgnoreCase", "STANDARD", "standard")
    assert not holds("StringNotEqualsIgnoreCase", "STANDARD", "standard")
    assert holds("StringLike", "STAND*", "STANDARD_IA")
    assert holds("StringLike", "?TANDARD", "STANDARD")
    assert not holds("StringNotLike", ["GLAC*", "STAND*"], "STANDARD")
    assert holds("StringNotEquals", ["GLACIER", "DEEP_ARCHIVE"], "STANDARD")


def test_several_keys_and_operators_all_must_hold() -> None:
    condition = {"StringEquals": {"s3:x-amz-storage-class": "STANDARD", "s3:x-amz-acl": "private"},
                 "Bool": {"aws:SecureTransport": "true"}}
    text = policy(stmt(action="s3:PutObject", Condition=condition))
    good = {"x-amz-storage-class": "STANDARD", "x-amz-acl": "private"}
    assert decide(text, action="s3:PutObject", ctx=RequestContext(secure=True, headers=good)) \
        is Decision.ALLOW
    assert decide(text, action="s3:PutObject", ctx=RequestContext(secure=False, headers=good)) \
        is Decision.NONE
    half = {"x-amz-storage-class": "STANDARD"}
    assert decide(text, action="s3:PutObject", ctx=RequestContext(secure=True, headers=half)) is Decision.NONE


def test_secure_transport() -> None:
    deny_plain = policy(stmt(effect="Deny", action="s3:*",
                             Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert decide(deny_plain, ctx=RequestContext(secure=False)) is Decision.DENY
    assert decide(deny_plain, ctx=RequestContext(secure=True)) is Decision.NONE
    as_json_bool = policy(stmt(Condition={"Bool": {"aws:SecureTransport": True}}))
    assert decide(as_json_bool, ctx=RequestContext(secure=True)) is Decision.ALLOW


def test_source_ip() -> None:
    text = policy(stmt(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
    assert decide(text, ctx=RequestContext(source_ip="10.1.2.3")) is Decision.ALLOW
    assert decide(text, ctx=RequestContext(source_ip="11.1.2.3")) is Decision.NONE
    assert decide(text, ctx=RequestContext(source_ip="2001:db8::1")) is Decision.ALLOW
    assert decide(text, ctx=RequestContext(source_ip="::ffff:10.0.0.9")) is Decision.ALLOW
    assert decide(text, ctx=RequestContext(source_ip="")) is Decision.NONE
    negated = policy(stmt(effect="Deny", Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.1"}}))
    assert decide(negated, ctx=RequestContext(source_ip="127.0.0.1")) is Decision.NONE
    assert decide(negated, ctx=RequestContext(source_ip="127.0.0.2")) is Decision.DENY


def test_list_keys() -> None:
    text = policy(stmt(action="s3:ListBucket", resource=f"arn:aws:s3:::{BUCKET}",
                       Condition={"StringEquals": {"s3:prefix": ["", "home/"], "s3:delimiter": "/"}}))

    def listing(query: dict[str, str]) -> Decision:
        return decide(text, action="s3:ListBucket", key=None, ctx=RequestContext(query=query))
    assert listing({"prefix": "home/", "delimiter": "/"}) is Decision.ALLOW
    assert listing({"prefix": "", "delimiter": "/"}) is Decision.ALLOW
    assert listing({"prefix": "etc/", "delimiter": "/"}) is Decision.NONE
    assert listing({"delimiter": "/"}) is Decision.NONE  # no prefix parameter: the key is absent
    capped = policy(stmt(action="s3:ListBucket", resource=f"arn:aws:s3:::{BUCKET}",
                         Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))
    assert decide(capped, action="s3:ListBucket", key=None, ctx=RequestContext(query={"max-keys": "5"})) \
        is Decision.ALLOW
    assert decide(capped, action="s3:ListBucket", key=None, ctx=RequestContext(query={"max-keys": "500"})) \
        is Decision.NONE
    assert decide(capped, action="s3:ListBucket", key=None, ctx=RequestContext(query={"max-keys": "x"})) \
        is Decision.NONE


def test_principal_keys_and_anonymous() -> None:
    text = policy(stmt(Condition={"StringEquals": {"aws:username": "alice"}}))
    assert decide(text, who="alice") is Decision.ALLOW
    assert decide(text, who="bob") is Decision.NONE
    assert decide(text, who=None) is Decision.NONE
    arn = policy(stmt(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::sealbox:user/a*"}}))
    assert decide(arn, who="alice") is Decision.ALLOW
    assert decide(arn, who="bob") is Decision.NONE


def test_date_conditions() -> None:
    past = policy(stmt(Condition={"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}))
    future = policy(stmt(Condition={"DateGreaterThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}))
    assert decide(past) is Decision.ALLOW
    assert decide(future) is Decision.NONE


def test_for_any_and_all_values() -> None:
    any_text = policy(stmt(Condition={"ForAnyValue:StringEquals": {"aws:username": ["x", "alice"]}}))
    assert decide(any_text, who="alice") is Decision.ALLOW
    assert decide(any_text, who=None) is Decision.NONE
    all_text = policy(stmt(Condition={"ForAllValues:StringEquals": {"aws:username": ["x", "alice"]}}))
    assert decide(all_text, who=None) is Decision.ALLOW  # vacuously true when the key is absent
    assert decide(all_text, who="bob") is Decision.NONE


def test_extra_condition_values_override_the_request() -> None:
    assert decide(SSE_POLICY, who="root", action="s3:PutObject",
                  extra={"s3:x-amz-server-side-encryption": "AES256"}) is Decision.NONE
    encrypted = RequestContext(headers={"x-amz-server-side-encryption": "AES256"})
    assert decide(SSE_POLICY, who="root", action="s3:PutObject", ctx=encrypted,
                  extra={"s3:x-amz-server-side-encryption": None}) is Decision.DENY


def test_wildcard_match() -> None:
    assert wildcard_match("a*c", "abbbc")
    assert wildcard_match("a*c", "ac")
    assert not wildcard_match("a*c", "acb")
    assert wildcard_match("a.c", "a.c")
    assert not wildcard_match("a.c", "abc")  # regex metacharacters are literal
    assert wildcard_match("a[b]c", "a[b]c")
    assert wildcard_match("*", "")
    assert wildcard_match("x/*", "x/\nnewline")


# -- issue 13: condition keys that tell the truth ------------------------------------------------------------

def sigv2_ctx() -> RequestContext:
    return RequestContext(signature_version="AWS", auth_type="REST-HEADER")


def sigv4_ctx() -> RequestContext:
    return RequestContext(signature_version="AWS4-HMAC-SHA256", auth_type="REST-HEADER",
                          content_sha256="UNSIGNED-PAYLOAD")


def presigned_ctx(age_ms: int = 700_000) -> RequestContext:
    return RequestContext(signature_version="AWS4-HMAC-SHA256", auth_type="REST-QUERY-STRING",
                          signature_age_ms=age_ms)


def deny_when(condition: dict[str, Any], action: str = "s3:GetObject") -> str:
    return policy(stmt(effect="Deny", action=action, Condition=condition))


def test_signature_version() -> None:
    """s3:signatureversion is "AWS" for SigV2 (it used to say AWS4-HMAC-SHA256 for every signed request)."""
    v2_only = deny_when({"StringEquals": {"s3:signatureversion": "AWS"}})
    assert decide(v2_only, ctx=sigv2_ctx()) is Decision.DENY
    assert decide(v2_only, ctx=sigv4_ctx()) is Decision.NONE
    assert decide(v2_only, who=None, ctx=RequestContext()) is Decision.NONE  # anonymous: the key is absent


def test_auth_type() -> None:
    no_urls = deny_when({"StringEquals": {"s3:authType": "REST-QUERY-STRING"}})
    assert decide(no_urls, ctx=presigned_ctx()) is Decision.DENY
    assert decide(no_urls, ctx=sigv4_ctx()) is Decision.NONE
    assert decide(deny_when({"StringEquals": {"s3:authType": "POST"}}),
                  ctx=RequestContext(signature_version="AWS", auth_type="POST")) is Decision.DENY


def test_signature_age() -> None:
    """AWS's example: deny presigned URLs whose signature is more than ten minutes old."""
    stale = deny_when({"NumericGreaterThan": {"s3:signatureAge": 600000}})
    assert decide(stale, ctx=presigned_ctx()) is Decision.DENY
    assert decide(stale, ctx=presigned_ctx(1000)) is Decision.NONE
    assert decide(stale, ctx=sigv4_ctx()) is Decision.NONE  # header-signed: the key is absent


def test_content_sha256_and_tls_version() -> None:
    unsigned = deny_when({"StringEquals": {"s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD"}}, "s3:PutObject")
    assert decide(unsigned, action="s3:PutObject", ctx=sigv4_ctx()) is Decision.DENY
    old_tls = deny_when({"NumericLessThan": {"s3:TlsVersion": 1.3}})
    assert decide(old_tls, ctx=RequestContext(secure=True, tls_version="1.2")) is Decision.DENY
    assert decide(old_tls, ctx=RequestContext(secure=True, tls_version="1.3")) is Decision.NONE
    assert decide(old_tls, ctx=RequestContext(secure=False)) is Decision.NONE  # plain HTTP: absent


def test_signature_keys_do_not_come_from_headers() -> None:
    """What a client writes in a header proves nothing: only the auth layer's verdict sets these keys."""
    lying = RequestContext(headers={"authorization": "AWS4-HMAC-SHA256 Credential=x", "x-amz-content-sha256":
                                    "0" * 64}, query={"X-Amz-Signature": "00"})
    values = condition_values(lying, None, "s3:PutObject").as_dict()
    for key in ("s3:signatureversion", "s3:authtype", "s3:x-amz-content-sha256", "s3:signatureage",
                "s3:tlsversion"):
        assert key not in values


def test_every_known_key_is_accepted_and_others_are_refused() -> None:
    from sealbox.service.policy_conditions import CONDITION_KEYS

    for spec in CONDITION_KEYS.values():
        action = next(iter(sorted(spec.actions))) if spec.actions else "s3:GetObject"
        resource = f"arn:aws:s3:::{BUCKET}" if action.startswith("s3:list") else f"arn:aws:s3:::{BUCKET}/*"
        condition = {"IpAddress": {spec.name: "10.0.0.0/8"}} if spec.name == "aws:SourceIp" else \
            {"Null": {spec.name: "false"}}
        parse_policy(policy(stmt(action=action, resource=resource, Condition=condition)), BUCKET, resolve)
    for tagged in ("s3:ExistingObjectTag/team", "s3:RequestObjectTag/Cost Center"):  # a key per tag key
        parse_policy(policy(stmt(Condition={"Null": {tagged: "false"}})), BUCKET, resolve)
    for unknown in ("s3:nonsense", "aws:SourceVpce", "aws:MultiFactorAuthPresent", "s3:LocationConstraint",
                    "s3:ExistingObjectTag/", "s3:ExistingObjectTag", "s3:signatureversions"):
        assert malformed(policy(stmt(Condition={"Null": {unknown: "false"}}))) == \
            "Policy has an invalid condition key", unknown


def test_statement_count_is_bounded() -> None:
    """Within 20 KiB only statements of under 80 bytes can pass the bound (AWS has the size limit only)."""
    from sealbox.service.policy import MAX_POLICY_SIZE, MAX_STATEMENTS

    tiny = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}

    def compact(count: int) -> str:
        text = json.dumps({"Version": "2012-10-17", "Statement": [tiny] * count}, separators=(",", ":"))
        assert len(text) < MAX_POLICY_SIZE
        return text
    parse_policy(compact(MAX_STATEMENTS), BUCKET, resolve)
    assert malformed(compact(MAX_STATEMENTS + 1)) == \
        f"Policy has too many statements (sealbox accepts at most {MAX_STATEMENTS})."

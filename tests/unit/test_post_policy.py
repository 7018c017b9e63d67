"""POST policy: form signatures (cross-checked with botocore's presigned POST), document, conditions."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.post_policy import authenticate_form, check_policy, check_size, decode_policy

ACCESS_KEY = "AKIASEALBOXPOST00001"
SECRET = "post/secret+with=odd~chars"
BUCKET = "uploads"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = "2026-11-27T13:00:00.000Z"


def secret_for(key: str) -> str | None:
    return SECRET if key == ACCESS_KEY else None


def presigned_fields(version: str, conditions: list[Any] | None = None, fields: dict[str, str] | None = None
                     ) -> dict[str, str]:
    """Form fields exactly as botocore builds them, with lowercase names as the handler passes them."""
    config = Config(signature_version=version)
    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="eu-west-3",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET, config=config)
    post = client.generate_presigned_post(BUCKET, "user/${filename}", Fields=fields, Conditions=conditions)
    return {name.lower(): value for name, value in post["fields"].items()}


def fail(code: ErrorCode, fn: Any, *args: Any) -> SealboxError:
    with pytest.raises(SealboxError) as caught:
        fn(*args)
    assert caught.value.code is code, caught.value
    return caught.value


def encode(document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return base64.b64encode(text.encode()).decode()


def policy_of(*conditions: Any, expiration: str = LATER) -> Any:
    return decode_policy(encode({"expiration": expiration, "conditions": list(conditions)}))


# -------------------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("version", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
def test_botocore_presigned_post_verifies(version: str) -> None:
    fields = presigned_fields(version)
    assert ("x-amz-signature" in fields) == (version == "s3v4")
    signature = authenticate_form(fields, secret_for)
    assert signature is not None and signature.access_key == ACCESS_KEY


@pytest.mark.parametrize("version", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
@pytest.mark.parametrize("change", ["signature", "policy", "secret"])
def test_tampering_is_signature_does_not_match(version: str, change: str) -> None:
    fields = presigned_fields(version)
    name = "x-amz-signature" if version == "s3v4" else "signature"
    secrets = secret_for
    if change == "signature":
        fields[name] = fields[name][:-2] + ("AA" if fields[name][-2:] != "AA" else "BB")
    elif change == "policy":
        document = json.loads(base64.b64decode(fields["policy"]))
        document["conditions"].append(["starts-with", "$key", ""])
        fields["policy"] = encode(document)
    else:
        def secrets(key: str) -> str | None:
            return "another secret"
    error = fail(ErrorCode.SIGNATURE_DOES_NOT_MATCH, authenticate_form, fields, secrets)
    assert error.extra["StringToSign"] == fields["policy"]
    assert error.extra["SignatureProvided"] == fields[name]
    assert error.extra["AWSAccessKeyId"] == ACCESS_KEY


def test_signature_of_the_decoded_policy_is_refused() -> None:
    fields = presigned_fields("s3v4")
    fields["policy"] = base64.b64decode(fields["policy"]).decode()
    fail(ErrorCode.SIGNATURE_DOES_NOT_MATCH, authenticate_form, fields, secret_for)


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_unknown_access_key(version: str) -> None:
    fields = presigned_fields(version)
    error = fail(ErrorCode.INVALID_ACCESS_KEY_ID, authenticate_form, fields, lambda key: None)
    assert error.extra["AWSAccessKeyId"] == ACCESS_KEY


@pytest.mark.parametrize("removed, named", [
    ("x-amz-signature", "X-Amz-Signature"), ("x-amz-algorithm", "X-Amz-Algorithm"),
    ("x-amz-credential", "X-Amz-Credential"), ("x-amz-date", "X-Amz-Date"), ("policy", "policy"),
])
def test_missing_v4_field(removed: str, named: str) -> None:
    fields = presigned_fields("s3v4")
    del fields[removed]
    error = fail(ErrorCode.INVALID_ARGUMENT, authenticate_form, fields, secret_for)
    assert error.message == (f"Bucket POST must contain a field named '{named}'.  If it is specified, please"
                             " check the order of the fields.")
    assert error.extra == {"ArgumentName": named, "ArgumentValue": ""}


@pytest.mark.parametrize("removed, named", [("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature")])
def test_missing_v2_field(removed: str, named: str) -> None:
    fields = presigned_fields("s3")
    del fields[removed]
    assert fail(ErrorCode.INVALID_ARGUMENT, authenticate_form, fields, secret_for).extra["ArgumentName"] == named


def test_policy_without_signature_is_denied_and_no_policy_is_anonymous() -> None:
    fields = presigned_fields("s3")
    del fields["awsaccesskeyid"], fields["signature"]
    assert fail(ErrorCode.ACCESS_DENIED, authenticate_form, fields, secret_for).message == "Access Denied"
    assert authenticate_form({"key": "k"}, secret_for) is None


@pytest.mark.parametrize("field, value", [
    ("x-amz-algorithm", "AWS4-HMAC-SHA1"),
    ("x-amz-credential", f"{ACCESS_KEY}/20261127/eu-west-3/ec2/aws4_request"),
    ("x-amz-credential", f"{ACCESS_KEY}/eu-west-3/s3/aws4_request"),
    ("x-amz-date", "2026-11-27T12:00:00Z"),
    ("x-amz-credential", f"{ACCESS_KEY}/19990101/eu-west-3/s3/aws4_request"),  # not the day of x-amz-date
])
def test_bad_v4_scope(field: str, value: str) -> None:
    fields = presigned_fields("s3v4")
    fields[field] = value
    fail(ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR, authenticate_form, fields, secret_for)


# ---------------------------------------------------------------------------------------- document


@pytest.mark.parametrize("encoded, detail", [
    ("{not base64}", "Invalid JSON."),
    (encode("expiration"), "Invalid JSON."),
    (encode([]), "Invalid JSON."),
    (encode({"conditions": []}), "Policy missing expiration."),
    (encode({"expiration": LATER}), "Policy missing conditions."),
    (encode({"EXPIRATION": LATER, "conditions": []}), "Policy missing expiration."),
    (encode({"expiration": "2026-11-27 13:00:00", "conditions": []}),
     "Invalid 'expiration' value: '2026-11-27 13:00:00'"),
    (encode({"expiration": "2026-02-30T00:00:00Z", "conditions": []}),
     "Invalid 'expiration' value: '2026-02-30T00:00:00Z'"),
    (encode({"expiration": "2026-11-27T13:00:00+00:00", "conditions": []}),
     "Invalid 'expiration' value: '2026-11-27T13:00:00+00:00'"),
    (encode({"expiration": LATER, "conditions": [{}]}),
     "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."),
    (encode({"expiration": LATER, "conditions": [{"acl": "private", "key": "k"}]}),
     "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."),
])
def test_invalid_policy_documents(encoded: str, detail: str) -> None:
    assert fail(ErrorCode.INVALID_POLICY_DOCUMENT, decode_policy, encoded).message == f"Invalid Policy: {detail}"


@pytest.mark.parametrize("conditions", [
    {}, [{"acl": 1}], ["bucket"], [["eq", "$key"]], [["ends-with", "$key", "x"]],
    [["content-length-range", 0]], [["content-length-range", -1, 5]], [["content-length-range", 0, "x"]],
    [["content-length-range", 0, 1.5]], [["eq", "$key", 5]],
])
def test_invalid_conditions(conditions: Any) -> None:
    encoded = encode({"expiration": LATER, "conditions": conditions})
    message = fail(ErrorCode.INVALID_POLICY_DOCUMENT, decode_policy, encoded).message
    assert message is not None and message.startswith("Invalid Policy: ")


def test_expiration_formats_and_wrapped_base64() -> None:
    assert decode_policy(encode({"expiration": "2026-11-27T13:00:00Z", "conditions": []})).expiration == \
        datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    wrapped = encode({"expiration": "2026-11-27T13:00:00.250Z", "conditions": [["starts-with", "$key", ""]]})
    wrapped = "\n".join(wrapped[i: i + 60] for i in range(0, len(wrapped), 60))  # Ruby's Base64.encode64
    assert decode_policy(wrapped).expiration == datetime(2026, 11, 27, 13, 0, 0, 250000, tzinfo=UTC)


# -------------------------------------------------------------------------------------- conditions


def violation(policy: Any, fields: dict[str, str], now: datetime = NOW) -> str:
    error = fail(ErrorCode.ACCESS_DENIED, check_policy, policy, fields, BUCKET, now)
    assert error.message is not None
    return error.message.removeprefix("Invalid according to Policy: ")


def test_expired() -> None:
    policy = policy_of({"bucket": BUCKET}, expiration="2026-11-27T12:00:00Z")
    assert violation(policy, {}, NOW) == "Policy expired."
    check_policy(policy, {}, BUCKET, NOW - timedelta(seconds=1))


@pytest.mark.parametrize("condition, fields, quoted", [
    (["eq", "$key", "a/c"], {"key": "a/b"}, '["eq", "$key", "a/c"]'),
    ({"acl": "x"}, {"acl": "private"}, '["eq", "$acl", "x"]'),
    ({"Key": "a"}, {"key": "A"}, '["eq", "$Key", "a"]'),
    ({"acl": "x"}, {}, '["eq", "$acl", "x"]'),
    (["eq", "key", "k"], {"key": "k"}, '["eq", "key", "k"]'),
    ({"bucket": "other"}, {}, '["eq", "$bucket", "other"]'),
    (["starts-with", "$key", "user/"], {"key": "admin/x"}, '["starts-with", "$key", "user/"]'),
    (["starts-with", "$Content-Type", "image/"], {"content-type": "image/png,text/html"},
     '["starts-with", "$Content-Type", "image/"]'),
    ({"x-amz-server-side-encryption": "AES256"}, {"x-amz-server-side-encryption": "aws:kms"},
     '["eq", "$x-amz-server-side-encryption", "AES256"]'),
])
def test_condition_failed(condition: Any, fields: dict[str, str], quoted: str) -> None:
    names = [["starts-with", f"${name}", ""] for name in fields]
    policy = policy_of({"bucket": BUCKET}, *names, condition) if "bucket" not in json.dumps(condition) \
        else policy_of(*names, condition)
    assert violation(policy, fields) == f"Policy Condition failed: {quoted}"


@pytest.mark.parametrize("condition, fields", [
    (["eq", "$key", "a/b"], {"key": "a/b"}),
    ({"ACL": "private"}, {"acl": "private"}),
    (["StArTs-WiTh", "$KeY", "a/"], {"key": "a/b"}),
    (["starts-with", "$Content-Type", "image/"], {"content-type": "image/png, image/gif"}),
    (["starts-with", "$acl", ""], {}),
    (["starts-with", "$x-amz-meta-tag", ""], {"x-amz-meta-tag": "anything"}),
])
def test_condition_holds(condition: Any, fields: dict[str, str]) -> None:
    check_policy(policy_of({"bucket": BUCKET}, condition), fields, BUCKET, NOW)


@pytest.mark.parametrize("fields, extra", [
    ({"key": "k", "expires": "0"}, "expires"),
    ({"key": "k", "x-amz-meta-note": "n", "x-amz-date": "d"}, "x-amz-meta-note, x-amz-date"),
    ({"key": "k", "x-amz-server-side-encryption": "AES256"}, "x-amz-server-side-encryption"),
])
def test_every_field_needs_a_condition(fields: dict[str, str], extra: str) -> None:
    policy = policy_of({"bucket": BUCKET}, ["starts-with", "$key", ""])
    assert violation(policy, fields) == f"Extra input fields: {extra}"


def test_bucket_needs_a_condition_and_some_fields_never_do() -> None:
    assert violation(policy_of(["starts-with", "$key", ""]), {"key": "k"}) == "Extra input fields: bucket"
    exempt = {"key": "k", "policy": "p", "x-amz-signature": "s", "signature": "s", "awsaccesskeyid": "a",
              "x-ignore-anything": "1", "file": "f"}
    check_policy(policy_of({"bucket": BUCKET}, ["starts-with", "$key", ""]), exempt, BUCKET, NOW)


def test_botocore_policy_covers_its_own_fields() -> None:
    conditions = [{"x-amz-server-side-encryption": "AES256"}, ["content-length-range", 1, 10]]
    fields = presigned_fields("s3v4", conditions, {"x-amz-server-side-encryption": "AES256"})
    policy = decode_policy(fields["policy"])
    check_policy(policy, {**fields, "key": "user/cat.png"}, BUCKET, datetime.now(UTC))
    assert (policy.min_size, policy.max_size) == (1, 10)


def test_content_length_range() -> None:
    policy = policy_of({"bucket": BUCKET}, ["content-length-range", "5", 10], ["content-length-range", 0, 8])
    assert (policy.min_size, policy.max_size) == (5, 8)  # several ranges: all apply
    check_size(policy, 8, final=True)
    check_size(policy, 2, final=False)  # a minimum applies only once the whole file is in
    large = fail(ErrorCode.ENTITY_TOO_LARGE, check_size, policy, 9, False)
    assert large.extra == {"ProposedSize": "9", "MaxSizeAllowed": "8"}
    small = fail(ErrorCode.ENTITY_TOO_SMALL, check_size, policy, 4, True)
    assert small.extra == {"ProposedSize": "4", "MinSizeAllowed": "5"}
    assert small.message == "Your proposed upload is smaller than the minimum allowed size"
    check_size(None, 10**12, final=True)

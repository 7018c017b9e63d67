"""PutBucketEncryption / GetBucketEncryption / DeleteBucketEncryption, and default encryption on every write.

AWS behaviour (API reference for the three operations; captures of AWS's answers):
- the configuration is ``ServerSideEncryptionConfiguration`` / ``Rule`` /
  ``ApplyServerSideEncryptionByDefault`` / ``SSEAlgorithm`` (+ ``BucketKeyEnabled`` on the Rule);
- no Rule, two Rules, a missing or unknown ``SSEAlgorithm`` (outside AES256 | aws:kms | aws:kms:dsse)
  or XML that is not well-formed: 400 MalformedXML;
- ``KMSMasterKeyID`` with AES256: 400 InvalidArgument "a KMSMasterKeyID is not applicable if the
  default sse algorithm is not aws:kms or aws:kms:dsse", ArgumentName ApplyServerSideEncryptionByDefault;
- the bucket's existence is checked before the XML (NoSuchBucket even for a bad body);
- DeleteBucketEncryption is 204, also when nothing is configured;
- an unset configuration is 404 ServerSideEncryptionConfigurationNotFoundError (the pre-2023 answer,
  which sealbox keeps in spec mode); a server started with ``--default-encryption AES256`` answers
  with the AES256 rule, as AWS does since 2023.
``aws:kms`` and ``aws:kms:dsse`` (SSE-KMS, DSSE-KMS) are accepted with an optional ``KMSMasterKeyID``
(tests/s3/test_sse_kms.py covers what they do).
Default encryption applies to PUT, POST, CopyObject and multipart uploads that don't ask for it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.faults.storage import StoredExtent, version_of
from tests.support import Server, running_server, signed_request, unique_bucket, xml_code

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIB = 1024 * 1024
AES256_RULE = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _config(algorithm: str = "AES256", extra_default: str = "", extra_rule: str = "", rules: int = 1) -> bytes:
    rule = (f"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>{extra_default}"
            f"</ApplyServerSideEncryptionByDefault>{extra_rule}</Rule>")
    return f'<ServerSideEncryptionConfiguration xmlns="{NS}">{rule * rules}</ServerSideEncryptionConfiguration>'.encode()


def _put_raw(server: Server, bucket: str, body: bytes) -> requests.Response:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return signed_request(server, "PUT", f"/{bucket}", params={"encryption": ""}, body=body,
                          headers={"content-md5": md5})


def _get_raw(server: Server, bucket: str) -> requests.Response:
    return signed_request(server, "GET", f"/{bucket}", params={"encryption": ""})


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _rule(s3: Any, bucket: str) -> dict[str, Any]:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1
    return rules[0]  # type: ignore[no-any-return]


def _stored_bytes(server: Server, bucket: str, key: str) -> bytes:
    """The bytes of the latest version's extents, as stored (blob files, or inline in the metadata)."""
    version = version_of(server.data_dir, bucket, key)
    return b"".join(StoredExtent(server.data_dir, e).read() for e in version.extents)


# -- the configuration -------------------------------------------------------------------------------------


def test_unset_is_not_found(server: Server, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _error(exc) == (404, "ServerSideEncryptionConfigurationNotFoundError")
    raw = _get_raw(server, bucket)
    assert raw.status_code == 404 and f"<BucketName>{bucket}</BucketName>" in raw.text


def test_put_get_delete_round_trip(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    rule = _rule(s3, bucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert rule["BucketKeyEnabled"] is False
    out = s3.delete_bucket_encryption(Bucket=bucket)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _error(exc) == (404, "ServerSideEncryptionConfigurationNotFoundError")
    # Deleting again is not an error.
    assert s3.delete_bucket_encryption(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_bucket_key_enabled_is_kept_and_objects_report_no_bucket_key(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    assert _rule(s3, bucket)["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "AES256" and "BucketKeyEnabled" not in put


def test_raw_xml_shape(server: Server, bucket: str) -> None:
    assert _put_raw(server, bucket, _config(extra_rule="<BucketKeyEnabled>true</BucketKeyEnabled>")).status_code == 200
    raw = _get_raw(server, bucket)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/xml")
    assert (f'<ServerSideEncryptionConfiguration xmlns="{NS}"><Rule><ApplyServerSideEncryptionByDefault>'
            "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
            "<BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>") in raw.text
    delete = signed_request(server, "DELETE", f"/{bucket}", params={"encryption": ""})
    assert delete.status_code == 204 and delete.content == b""


def test_put_replaces_the_previous_rule(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    assert _rule(s3, bucket)["BucketKeyEnabled"] is False


@pytest.mark.parametrize("body", [
    _config("SSE-KMS"),  # not an algorithm of the schema
    _config("aes256"),
    _config(""),
    _config(rules=2),
    f'<ServerSideEncryptionConfiguration xmlns="{NS}"></ServerSideEncryptionConfiguration>'.encode(),
    f'<ServerSideEncryptionConfiguration xmlns="{NS}"><Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule>'
    "</ServerSideEncryptionConfiguration>".encode(),
    b"<ServerSideEncryptionConfiguration><Rule>",
    b"not xml at all",
    (b"<EncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
     b"</ApplyServerSideEncryptionByDefault></Rule></EncryptionConfiguration>"),
], ids=["unknown-algorithm", "lowercase", "empty-algorithm", "two-rules", "no-rule", "no-default", "truncated",
        "not-xml", "wrong-root"])
def test_malformed_configuration(server: Server, bucket: str, body: bytes) -> None:
    resp = _put_raw(server, bucket, body)
    assert resp.status_code == 400 and xml_code(resp) == "MalformedXML", resp.text
    assert _get_raw(server, bucket).status_code == 404  # nothing was stored


def test_kms_master_key_id_with_aes256(server: Server, bucket: str) -> None:
    resp = _put_raw(server, bucket, _config(extra_default="<KMSMasterKeyID>arn:aws:kms:key/1</KMSMasterKeyID>"))
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"
    assert "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms" in resp.text
    assert "<ArgumentName>ApplyServerSideEncryptionByDefault</ArgumentName>" in resp.text


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_kms_algorithms_are_accepted(server: Server, s3: Any, bucket: str, algorithm: str) -> None:
    resp = _put_raw(server, bucket, _config(algorithm))
    assert resp.status_code == 200, resp.text
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": algorithm}


def test_missing_bucket_is_reported_before_the_body(server: Server, s3: Any) -> None:
    name = unique_bucket()
    for body in (_config(), b"not xml"):
        resp = _put_raw(server, name, body)
        assert resp.status_code == 404 and xml_code(resp) == "NoSuchBucket"
    for method in ("GET", "DELETE"):
        resp = signed_request(server, method, f"/{name}", params={"encryption": ""})
        assert resp.status_code == 404 and xml_code(resp) == "NoSuchBucket"


# -- default encryption applies to every write that doesn't ask ---------------------------------------------


@pytest.fixture
def default_bucket(s3: Any, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="before", Body=b"written before the default")
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=AES256_RULE)
    return bucket


def test_default_applies_to_put(server: Server, s3: Any, default_bucket: str) -> None:
    marker = b"DEFAULT-ENCRYPTED-PUT-" + hashlib.sha256(default_bucket.encode()).hexdigest().encode()
    resp = signed_request(server, "PUT", f"/{default_bucket}/raw", body=marker * 10)
    assert resp.status_code == 200 and resp.headers["x-amz-server-side-encryption"] == "AES256"
    assert marker not in _stored_bytes(server, default_bucket, "raw")
    got = s3.get_object(Bucket=default_bucket, Key="raw")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == marker * 10
    # Asking explicitly is the same; objects from before the default keep their state.
    assert s3.put_object(Bucket=default_bucket, Key="asked", Body=b"x",
                         ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=default_bucket, Key="before")


def test_default_applies_to_post(s3: Any, default_bucket: str) -> None:
    form = s3.generate_presigned_post(Bucket=default_bucket, Key="posted")
    resp = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"from a form")}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert resp.headers.get("x-amz-server-side-encryption") == "AES256"
    assert s3.head_object(Bucket=default_bucket, Key="posted")["ServerSideEncryption"] == "AES256"


def test_default_applies_to_copy(s3: Any, default_bucket: str) -> None:
    out = s3.copy_object(Bucket=default_bucket, Key="copy", CopySource={"Bucket": default_bucket, "Key": "before"})
    assert out["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=default_bucket, Key="copy")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"written before the default"
    # The source bucket's default does not follow the copy to a bucket without one.
    other = unique_bucket()
    s3.create_bucket(Bucket=other)
    out = s3.copy_object(Bucket=other, Key="copy", CopySource={"Bucket": default_bucket, "Key": "copy"})
    assert "ServerSideEncryption" not in out


def test_default_applies_to_multipart(s3: Any, default_bucket: str) -> None:
    create = s3.create_multipart_upload(Bucket=default_bucket, Key="mp")
    assert create["ServerSideEncryption"] == "AES256"
    upload = create["UploadId"]
    parts = []
    for number, body in ((1, b"a" * (5 * MIB)), (2, b"tail")):
        part = s3.upload_part(Bucket=default_bucket, Key="mp", UploadId=upload, PartNumber=number, Body=body)
        assert part["ServerSideEncryption"] == "AES256"
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(Bucket=default_bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    assert done["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=default_bucket, Key="mp")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == 5 * MIB + 4


def test_after_delete_new_objects_are_not_encrypted(s3: Any, default_bucket: str) -> None:
    s3.delete_bucket_encryption(Bucket=default_bucket)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=default_bucket, Key="after", Body=b"x")
    assert "ServerSideEncryption" not in s3.create_multipart_upload(Bucket=default_bucket, Key="mp")


# -- a server with --default-encryption AES256 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(Path(tmp_path_factory.mktemp("default-sse")) / "data", "--default-encryption",
                        "AES256") as srv:
        yield srv


def test_server_default_rule_is_reported_and_survives_delete(encrypting_server: Server) -> None:
    s3: Any = encrypting_server.client()
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    rule = _rule(s3, name)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert rule["BucketKeyEnabled"] is False
    assert s3.put_object(Bucket=name, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    assert _rule(s3, name)["BucketKeyEnabled"] is True
    # Deleting the bucket's rule falls back to the server's: SSE-S3 stays on, as on AWS since 2023.
    s3.delete_bucket_encryption(Bucket=name)
    assert _rule(s3, name) == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                               "BucketKeyEnabled": False}
    assert s3.put_object(Bucket=name, Key="k2", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_server_default_encrypts_copies_and_uploads(encrypting_server: Server) -> None:
    s3: Any = encrypting_server.client()
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src", Body=b"source")
    assert s3.copy_object(Bucket=name, Key="dst", CopySource=f"{name}/src")["ServerSideEncryption"] == "AES256"
    upload = s3.create_multipart_upload(Bucket=name, Key="mp")
    assert upload["ServerSideEncryption"] == "AES256"
    s3.abort_multipart_upload(Bucket=name, Key="mp", UploadId=upload["UploadId"])

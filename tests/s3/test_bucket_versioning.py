"""PutBucketVersioning / GetBucketVersioning, and what versioning does to every write, read and delete.

AWS behaviour checked here (S3 API reference and user guide):
- a never-versioned bucket answers GetBucketVersioning with an empty ``VersioningConfiguration``;
- with versioning Enabled every write (PUT, POST, CopyObject, CompleteMultipartUpload) gets a new
  version id, returned as ``x-amz-version-id``; older versions stay readable with ``?versionId=``
  and keep their own encryption;
- objects written before versioning, or while it is Suspended, are the ``null`` version. A write
  while Suspended replaces the null version and its response carries no ``x-amz-version-id``
  (PutObject's "versioning suspended" sample response); GET/HEAD of the null version in a bucket
  that has had versioning say ``x-amz-version-id: null``;
- a DELETE without a version id makes a delete marker (``x-amz-delete-marker: true`` and its
  version id; ``null`` when Suspended); a plain GET/HEAD of a key whose current version is a
  marker is 404 NoSuchKey with ``x-amz-delete-marker: true``; GET/HEAD of the marker by version id
  is 405 MethodNotAllowed with ``Last-Modified``; deleting the marker brings the object back.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, unique_bucket, xml_code

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
VERSIONING_XML = ('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                  "<Status>{}</Status></VersioningConfiguration>")


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _put_versioning_raw(server: Server, bucket: str, body: bytes) -> requests.Response:
    return signed_request(server, "PUT", f"/{bucket}", params={"versioning": ""}, body=body,
                          headers={"content-md5": _md5(body)})


def _set(s3: Any, bucket: str, status: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def _body(s3: Any, bucket: str, key: str, **kw: Any) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()  # type: ignore[no-any-return]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _versions(server: Server, bucket: str, key: str) -> list[dict[str, Any]]:
    """Versions and delete markers of ``key`` in the server's order (newest first), from the raw XML:
    boto3 splits Version and DeleteMarker entries into two lists and loses their interleaving."""
    resp = signed_request(server, "GET", f"/{bucket}", params={"versions": "", "prefix": key})
    assert resp.status_code == 200, resp.text
    rows = []
    for node in ET.fromstring(resp.content):
        tag = node.tag.removeprefix(NS)
        if tag in ("Version", "DeleteMarker") and node.findtext(f"{NS}Key") == key:
            rows.append({"VersionId": node.findtext(f"{NS}VersionId"), "marker": tag == "DeleteMarker",
                         "IsLatest": node.findtext(f"{NS}IsLatest") == "true"})
    return rows


# -- GetBucketVersioning / PutBucketVersioning -------------------------------------------------------------


def test_new_bucket_has_no_versioning_status(server: Server, s3: Any, bucket: str) -> None:
    out = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in out
    raw = signed_request(server, "GET", f"/{bucket}", params={"versioning": ""})
    assert raw.status_code == 200
    assert "<VersioningConfiguration" in raw.text and "<Status>" not in raw.text


def test_enable_then_suspend(s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    _set(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    _set(s3, bucket, "Enabled")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_suspend_a_never_versioned_bucket(s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_raw_put_versioning_xml(server: Server, bucket: str) -> None:
    resp = _put_versioning_raw(server, bucket, VERSIONING_XML.format("Enabled").encode())
    assert resp.status_code == 200, resp.text
    got = signed_request(server, "GET", f"/{bucket}", params={"versioning": ""})
    assert "<Status>Enabled</Status>" in got.text


@pytest.mark.parametrize("body", [
    VERSIONING_XML.format("On").encode(),  # not a Status value
    VERSIONING_XML.format("enabled").encode(),  # values are case-sensitive
    b"<VersioningConfiguration><Status>Enabled</Status>",  # not well-formed
    b"<Versioning><Status>Enabled</Status></Versioning>",  # wrong root
])
def test_malformed_versioning_configuration(server: Server, bucket: str, body: bytes) -> None:
    resp = _put_versioning_raw(server, bucket, body)
    assert resp.status_code == 400 and xml_code(resp) == "MalformedXML", resp.text
    assert "Status" not in signed_request(server, "GET", f"/{bucket}", params={"versioning": ""}).text


def test_versioning_of_missing_bucket(s3: Any) -> None:
    name = unique_bucket()
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_versioning(Bucket=name)
    assert _error(exc) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as exc:
        _set(s3, name, "Enabled")
    assert _error(exc) == (404, "NoSuchBucket")


# -- version ids on every write ---------------------------------------------------------------------------


def test_unversioned_writes_have_no_version_id(server: Server, s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put
    for method in ("GET", "HEAD"):
        resp = signed_request(server, method, f"/{bucket}/k")
        assert resp.status_code == 200 and "x-amz-version-id" not in resp.headers


def test_every_put_gets_a_new_version_id(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=f"body {i}".encode())["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3 and "null" not in ids
    for i, vid in enumerate(ids):
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=vid)
        assert got["VersionId"] == vid and got["Body"].read() == f"body {i}".encode()
    head = signed_request(server, "HEAD", f"/{bucket}/k")
    assert head.headers["x-amz-version-id"] == ids[-1]
    assert _body(s3, bucket, "k") == b"body 2"


def test_copy_multipart_and_post_writes_get_version_ids(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    first = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["VersionId"]
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert copied["VersionId"] not in (None, "null", first)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["VersionId"] not in (None, "null")
    assert s3.head_object(Bucket=bucket, Key="mp")["VersionId"] == done["VersionId"]
    form = s3.generate_presigned_post(Bucket=bucket, Key="posted")
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"via a form")}, timeout=30)
    assert posted.status_code == 204, posted.text
    vid = posted.headers.get("x-amz-version-id")
    assert vid not in (None, "null")
    assert s3.head_object(Bucket=bucket, Key="posted")["VersionId"] == vid


def test_every_version_keeps_its_own_encryption(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    plain = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    sealed = s3.put_object(Bucket=bucket, Key="k", Body=b"two", ServerSideEncryption="AES256")["VersionId"]
    # Copy in place: the encryption state changes (decrypted), a third version is made.
    decrypted = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                               MetadataDirective="REPLACE")
    assert "ServerSideEncryption" not in decrypted and decrypted["CopySourceVersionId"] == sealed
    # And back: encrypting by copy in place, a fourth.
    encrypted = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                               ServerSideEncryption="AES256")
    assert encrypted["ServerSideEncryption"] == "AES256"
    expected = [(plain, None, b"one"), (sealed, "AES256", b"two"), (decrypted["VersionId"], None, b"two"),
                (encrypted["VersionId"], "AES256", b"two")]
    assert len({vid for vid, _, _ in expected}) == 4
    for vid, sse, body in expected:
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=vid)
        assert (got.get("ServerSideEncryption"), got["Body"].read()) == (sse, body)
        assert s3.head_object(Bucket=bucket, Key="k", VersionId=vid).get("ServerSideEncryption") == sse
    assert [v["VersionId"] for v in _versions(server, bucket, "k")] == [vid for vid, _, _ in reversed(expected)]


def test_copy_from_specific_versions(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"v1", ServerSideEncryption="AES256")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="src", Body=b"v2")["VersionId"]
    # Raw: the version id rides in x-amz-copy-source; the response names it.
    resp = signed_request(server, "PUT", f"/{bucket}/old", headers={"x-amz-copy-source": f"/{bucket}/src?versionId={v1}"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-amz-copy-source-version-id"] == v1
    assert resp.headers["x-amz-version-id"] not in (v1, v2, "null")
    assert "x-amz-server-side-encryption" not in resp.headers  # the copy did not ask: not encrypted
    assert _body(s3, bucket, "old") == b"v1"
    out = s3.copy_object(Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v2},
                         ServerSideEncryption="AES256")
    assert out["CopySourceVersionId"] == v2 and out["ServerSideEncryption"] == "AES256"
    assert _body(s3, bucket, "new") == b"v2"


def test_copy_from_missing_version(s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": "A" * 32})
    assert _error(exc) == (404, "NoSuchVersion")


# -- the null version ---------------------------------------------------------------------------------------


def test_object_from_before_versioning_is_the_null_version(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    _set(s3, bucket, "Enabled")
    head = signed_request(server, "HEAD", f"/{bucket}/k")
    assert head.headers.get("x-amz-version-id") == "null"
    newer = s3.put_object(Bucket=bucket, Key="k", Body=b"after")["VersionId"]
    rows = _versions(server, bucket, "k")
    assert [(r["VersionId"], r["IsLatest"]) for r in rows] == [(newer, True), ("null", False)]
    got = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert got["VersionId"] == "null" and got["Body"].read() == b"before"
    raw = signed_request(server, "GET", f"/{bucket}/k", params={"versionId": "null"})
    assert raw.status_code == 200 and raw.headers["x-amz-version-id"] == "null" and raw.content == b"before"


def test_suspended_writes_replace_the_null_version(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"enabled")["VersionId"]
    _set(s3, bucket, "Suspended")
    raw = signed_request(server, "PUT", f"/{bucket}/k", body=b"first null")
    assert raw.status_code == 200 and "x-amz-version-id" not in raw.headers  # as AWS's sample response
    for method in ("GET", "HEAD"):
        assert signed_request(server, method, f"/{bucket}/k").headers.get("x-amz-version-id") == "null"
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"second null", ServerSideEncryption="AES256")
    assert "VersionId" not in second
    rows = _versions(server, bucket, "k")
    assert [(r["VersionId"], r["IsLatest"]) for r in rows] == [("null", True), (kept, False)]
    got = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert got["Body"].read() == b"second null" and got["ServerSideEncryption"] == "AES256"
    assert _body(s3, bucket, "k", VersionId=kept) == b"enabled"
    # A copy while Suspended also lands on the null version.
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": kept})
    rows = _versions(server, bucket, "k")
    assert [r["VersionId"] for r in rows] == ["null", kept]
    assert _body(s3, bucket, "k") == b"enabled"


def test_suspended_delete_makes_a_null_marker(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"enabled")["VersionId"]
    _set(s3, bucket, "Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null version")
    resp = signed_request(server, "DELETE", f"/{bucket}/k")
    assert resp.status_code == 204
    assert resp.headers["x-amz-delete-marker"] == "true" and resp.headers["x-amz-version-id"] == "null"
    rows = _versions(server, bucket, "k")
    # The null version was replaced by the null delete marker; the Enabled-era version stays.
    assert [(r["VersionId"], r["marker"], r["IsLatest"]) for r in rows] == [("null", True, True), (kept, False, False)]
    get = signed_request(server, "GET", f"/{bucket}/k")
    assert get.status_code == 404 and xml_code(get) == "NoSuchKey"
    assert get.headers["x-amz-delete-marker"] == "true" and get.headers["x-amz-version-id"] == "null"


def test_delete_the_null_version_by_id(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"null")
    _set(s3, bucket, "Enabled")
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["VersionId"]
    resp = signed_request(server, "DELETE", f"/{bucket}/k", params={"versionId": "null"})
    assert resp.status_code == 204 and resp.headers["x-amz-version-id"] == "null"
    assert "x-amz-delete-marker" not in resp.headers
    assert [r["VersionId"] for r in _versions(server, bucket, "k")] == [v]


# -- delete markers -----------------------------------------------------------------------------------------


def test_delete_makes_a_marker_and_hides_the_object(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"kept", ServerSideEncryption="AES256")["VersionId"]
    resp = signed_request(server, "DELETE", f"/{bucket}/k")
    assert resp.status_code == 204 and resp.headers["x-amz-delete-marker"] == "true"
    marker = resp.headers["x-amz-version-id"]
    assert marker not in ("null", v1)
    for method in ("GET", "HEAD"):
        got = signed_request(server, method, f"/{bucket}/k")
        assert got.status_code == 404
        assert got.headers["x-amz-delete-marker"] == "true" and got.headers["x-amz-version-id"] == marker
    assert xml_code(signed_request(server, "GET", f"/{bucket}/k")) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert _error(exc)[0] == 404
    # The data is still there under its version, with its encryption.
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert got["Body"].read() == b"kept" and got["ServerSideEncryption"] == "AES256"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    rows = _versions(server, bucket, "k")
    assert [(r["VersionId"], r["marker"], r["IsLatest"]) for r in rows] == [(marker, True, True), (v1, False, False)]


def test_get_and_head_of_a_marker_by_version_id_is_405(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    for method in ("GET", "HEAD"):
        got = signed_request(server, method, f"/{bucket}/k", params={"versionId": marker["VersionId"]})
        assert got.status_code == 405, (method, got.text)
        assert got.headers["x-amz-delete-marker"] == "true"
        assert got.headers["x-amz-version-id"] == marker["VersionId"]
        assert got.headers.get("last-modified", "").endswith(" GMT")
        if method == "GET":
            assert xml_code(got) == "MethodNotAllowed"


def test_deleting_the_marker_restores_the_object(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"back again")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    resp = signed_request(server, "DELETE", f"/{bucket}/k", params={"versionId": marker})
    assert resp.status_code == 204
    assert resp.headers["x-amz-delete-marker"] == "true" and resp.headers["x-amz-version-id"] == marker
    assert _body(s3, bucket, "k") == b"back again"
    assert [r["marker"] for r in _versions(server, bucket, "k")] == [False]


def test_delete_a_version_permanently(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    out = s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert out["VersionId"] == v2 and "DeleteMarker" not in out
    # The previous version becomes the current one.
    assert _body(s3, bucket, "k") == b"one"
    assert [(r["VersionId"], r["IsLatest"]) for r in _versions(server, bucket, "k")] == [(v1, True)]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert _error(exc) == (404, "NoSuchVersion")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert _error(exc) == (404, "NoSuchKey")
    assert _versions(server, bucket, "k") == []


def test_delete_of_a_key_that_never_existed_still_makes_a_marker(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    out = s3.delete_object(Bucket=bucket, Key="ghost")
    assert out["DeleteMarker"] is True and out["VersionId"] not in (None, "null")
    assert [(r["VersionId"], r["marker"]) for r in _versions(server, bucket, "ghost")] == [(out["VersionId"], True)]


def test_delete_objects_in_a_versioned_bucket(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"a")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": a1}, {"Key": "b"}]})
    deleted = {d["Key"]: d for d in out["Deleted"]}
    assert deleted["a"]["VersionId"] == a1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True
    marker = deleted["b"]["DeleteMarkerVersionId"]
    newest = _versions(server, bucket, "b")[0]
    assert (newest["VersionId"], newest["marker"]) == (marker, True)
    assert _versions(server, bucket, "a") == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_malformed_version_id_is_invalid_argument(server: Server, bucket: str, method: str) -> None:
    signed_request(server, "PUT", f"/{bucket}/k", body=b"x")
    resp = signed_request(server, method, f"/{bucket}/k", params={"versionId": "not a version"})
    assert resp.status_code == 400
    if method != "HEAD":
        assert xml_code(resp) == "InvalidArgument"


def test_unknown_version_id(server: Server, s3: Any, bucket: str) -> None:
    _set(s3, bucket, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    missing = "B" * 32
    got = signed_request(server, "GET", f"/{bucket}/k", params={"versionId": missing})
    assert got.status_code == 404 and xml_code(got) == "NoSuchVersion"
    assert signed_request(server, "HEAD", f"/{bucket}/k", params={"versionId": missing}).status_code == 404

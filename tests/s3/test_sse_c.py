"""SSE-C (customer-provided keys) through the S3 API with boto3 and raw HTTP: PutObject, GetObject, HeadObject,
ranges, partNumber, conditional GETs, GetObjectAttributes, the header errors as AWS answers them, and the
refusal over plain HTTP. (Multipart and copies: test_sse_c_copy.py; at rest: test_sse_c_at_rest.py.)"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support import Server, running_server, signed_request, unique_bucket, xml_code

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
NO_KEY_MESSAGE = ("The object was stored using a form of Server Side Encryption. The correct parameters must be"
                  " provided to retrieve the object.")


def sse_c(key: bytes = KEY_A) -> dict[str, Any]:
    """boto3 arguments of an SSE-C request (boto3 base64-encodes the key and adds its MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def sse_c_headers(key: bytes = KEY_A) -> dict[str, str]:
    return {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
            "x-amz-server-side-encryption-customer-key-MD5":
                base64.b64encode(hashlib.md5(key).digest()).decode()}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SSE-C over loopback needs --allow-sse-c-over-http (the shared server proves the refusal without it)."""
    with running_server(tmp_path_factory.mktemp("ssec") / "data", "--allow-sse-c-over-http", workers=2) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def s3(srv: Server) -> Any:
    return srv.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique_bucket("ssec")
    s3.create_bucket(Bucket=name)
    return name


def test_put_get_head_round_trip_echoes_algorithm_and_key_md5(s3: Any, bucket: str) -> None:
    body = os.urandom(4096)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **sse_c())
    md5_a = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"] == md5_a
    assert "ServerSideEncryption" not in put
    assert put["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # as on AWS: not the plaintext MD5
    got = s3.get_object(Bucket=bucket, Key="k", **sse_c())
    assert got["Body"].read() == body
    assert got["SSECustomerAlgorithm"] == "AES256" and got["SSECustomerKeyMD5"] == md5_a
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="k", **sse_c())
    assert head["ContentLength"] == 4096 and head["SSECustomerKeyMD5"] == md5_a
    for response in (put, got, head):
        assert base64.b64encode(KEY_A).decode() not in str(response["ResponseMetadata"]["HTTPHeaders"])


def test_get_and_head_without_the_key_are_400_invalid_request(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **sse_c())
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(exc) == (400, "InvalidRequest", NO_KEY_MESSAGE)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_another_key_is_403_with_no_body(srv: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000, **sse_c())
    for method in ("GET", "HEAD"):
        r = signed_request(srv, method, f"/{bucket}/k", headers=sse_c_headers(KEY_B))
        assert r.status_code == 403
        assert b"xxxx" not in r.content
        if method == "GET":
            assert xml_code(r) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-9", **sse_c(KEY_B))
    assert error(exc)[:2] == (403, "AccessDenied")


def test_key_on_an_object_that_is_not_sse_c_is_400(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="plain", **sse_c())
    assert error(exc)[:2] == (400, "InvalidRequest")


def test_ranges_part_number_and_conditions_work_with_the_key(s3: Any, bucket: str) -> None:
    body = os.urandom(300_000)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=body, **sse_c())["ETag"]
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=1000-70999", **sse_c())
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206 and got["Body"].read() == body[1000:71000]
    assert s3.get_object(Bucket=bucket, Key="k", Range="bytes=-10", **sse_c())["Body"].read() == body[-10:]
    part = s3.get_object(Bucket=bucket, Key="k", PartNumber=1, **sse_c())
    assert part["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, **sse_c())["Body"].read() == body
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag, **sse_c())
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"0000"', **sse_c())
    assert error(exc)[:2] == (412, "PreconditionFailed")


def test_listing_and_object_attributes(srv: Server, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"abc", Metadata={"m": "v"}, **sse_c())["ETag"]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [("k", 3, etag)]
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag", "ObjectSize"])
    assert error(exc)[:2] == (400, "InvalidRequest")
    # (botocore sends no SSE-C key on GetObjectAttributes: raw, as the REST API documents it)
    got = signed_request(srv, "GET", f"/{bucket}/k?attributes",
                         headers={**sse_c_headers(), "x-amz-object-attributes": "ETag,ObjectSize"})
    assert got.status_code == 200 and "<ObjectSize>3</ObjectSize>" in got.text
    assert f"<ETag>{etag.strip(chr(34))}</ETag>" in got.text
    wrong = signed_request(srv, "GET", f"/{bucket}/k?attributes",
                           headers={**sse_c_headers(KEY_B), "x-amz-object-attributes": "ETag"})
    assert (wrong.status_code, xml_code(wrong)) == (403, "AccessDenied")
    assert s3.head_object(Bucket=bucket, Key="k", **sse_c())["Metadata"] == {"m": "v"}


def test_content_md5_and_checksums_are_still_verified(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ContentMD5=base64.b64encode(b"0" * 16).decode(), **sse_c())
    assert error(exc)[:2] == (400, "BadDigest")
    sha = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumSHA256=sha, **sse_c())
    assert put["ChecksumSHA256"] == sha
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED", **sse_c())
    assert head["ChecksumSHA256"] == sha


_B64 = base64.b64encode(KEY_A).decode()
_MD5 = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
_ALG, _KEY, _KMD5 = ("x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key",
                     "x-amz-server-side-encryption-customer-key-MD5")


@pytest.mark.parametrize(("headers", "status", "code", "message"), [
    ({_KEY: _B64, _KMD5: _MD5}, 400, "InvalidArgument", "Requests specifying Server Side Encryption with Customer"
     " provided keys must provide a valid encryption algorithm."),
    ({_ALG: "AES256", _KMD5: _MD5}, 400, "InvalidArgument", "Requests specifying Server Side Encryption with"
     " Customer provided keys must provide an appropriate secret key."),
    ({_ALG: "AES256", _KEY: _B64}, 400, "InvalidArgument", "Requests specifying Server Side Encryption with"
     " Customer provided keys must provide the client calculated MD5 of the secret key."),
    ({_ALG: "AES256", _KEY: base64.b64encode(b"k" * 16).decode(),
      _KMD5: base64.b64encode(hashlib.md5(b"k" * 16).digest()).decode()}, 400, "InvalidArgument",
     "The secret key was invalid for the specified algorithm."),
    ({_ALG: "AES256", _KEY: _B64, _KMD5: "AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "InvalidArgument",
     "The calculated MD5 hash of the key did not match the hash that was provided."),
    ({_ALG: "AES128", _KEY: _B64, _KMD5: _MD5}, 400, "InvalidEncryptionAlgorithmError",
     "The encryption request you specified is not valid. The valid value is AES256."),
    ({_ALG: "AES256", _KEY: _B64, _KMD5: _MD5, "x-amz-server-side-encryption": "AES256"}, 400, "InvalidArgument",
     "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"),
], ids=["no-algorithm", "no-key", "no-md5", "short-key", "md5-mismatch", "aes128", "with-sse-s3"])
def test_header_errors_as_aws(srv: Server, bucket: str, headers: dict[str, str], status: int, code: str,
                              message: str) -> None:
    # (x-amz-server-side-encryption on a GET is refused before the SSE-C headers are looked at)
    for method in ("PUT",) if "x-amz-server-side-encryption" in headers else ("PUT", "GET"):
        r = signed_request(srv, method, f"/{bucket}/k", body=b"abc" if method == "PUT" else b"", headers=headers)
        assert (r.status_code, xml_code(r)) == (status, code), r.text
        assert f"<Message>{message}</Message>" in r.text
        assert _B64 not in r.text  # the key is never echoed, not even in an error


def test_plain_http_is_refused_without_the_flag_and_tls_works(server: Server) -> None:
    plain, tls = server.client(), server.client(tls=True)
    name = unique_bucket("ssec")
    plain.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        plain.put_object(Bucket=name, Key="k", Body=b"abc", **sse_c())
    assert error(exc) == (400, "InvalidRequest", "Requests specifying Server Side Encryption with Customer provided"
                          " keys must be made over a secure connection.")
    tls.put_object(Bucket=name, Key="k", Body=b"abc", **sse_c())
    assert tls.get_object(Bucket=name, Key="k", **sse_c())["Body"].read() == b"abc"
    with pytest.raises(ClientError) as exc:
        plain.get_object(Bucket=name, Key="k", **sse_c())
    assert error(exc)[:2] == (400, "InvalidRequest")


def test_presigned_urls_v4_and_v2_carry_the_headers(srv: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"presigned", **sse_c())
    v2 = srv.client(signature_version="s3")
    for client in (s3, v2):
        # botocore signs the SSE-C headers as headers the request must send (SigV2), or hoists them into the
        # query string (SigV4), which the server reads as the headers they stand for
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k", **sse_c()})
        r = requests.get(url, headers=sse_c_headers(), timeout=30)
        assert r.status_code == 200 and r.content == b"presigned"
        bare = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        assert requests.get(bare, timeout=30).status_code == 400
        put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p", **sse_c()})
        assert requests.put(put_url, data=b"up", headers=sse_c_headers(), timeout=30).status_code == 200
        assert s3.get_object(Bucket=bucket, Key="p", **sse_c())["Body"].read() == b"up"


def test_post_object_form_fields(srv: Server, s3: Any, bucket: str) -> None:
    fields = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
              "x-amz-server-side-encryption-customer-key": _B64,
              "x-amz-server-side-encryption-customer-key-MD5": _MD5}
    post = s3.generate_presigned_post(bucket, "form", Fields=fields,
                                      Conditions=[{k: v} for k, v in fields.items()])
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"from a form")}, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption-customer-key-MD5"] == _MD5
    assert s3.get_object(Bucket=bucket, Key="form", **sse_c())["Body"].read() == b"from a form"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="form")


def test_the_flag_also_comes_from_the_environment_and_the_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "sealbox.toml"
    conf.write_text("[serve]\nallow-sse-c-over-http = true\n")
    for args, env in (((), {"SEALBOX_ALLOW_SSE_C_OVER_HTTP": "1"}), (("--config", str(conf)), {})):
        with running_server(tmp_path / f"data-{len(args)}", *args, env=env) as server:
            s3 = server.client()
            s3.create_bucket(Bucket="flag")
            s3.put_object(Bucket="flag", Key="k", Body=b"over http", **sse_c())
            assert s3.get_object(Bucket="flag", Key="k", **sse_c())["Body"].read() == b"over http"

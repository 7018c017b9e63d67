"""ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation; path- and virtual-hosted-style."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support import Server, running_server, signed_request, unique_bucket, xml_code


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_list_head_delete(s3) -> None:
    name = unique_bucket()
    resp = s3.create_bucket(Bucket=name)
    assert resp["Location"] == f"/{name}"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name in names
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("name", ["ab", "a" * 64, "UPPER-case", "under_score", "-leading", "trailing-",
                                  "two..dots", "192.168.1.1", "xn--punycode", "dot.-dash"])
def test_create_bucket_rejects_invalid_names(server: Server, name: str) -> None:
    resp = signed_request(server, "PUT", f"/{name}")
    assert resp.status_code == 400
    assert xml_code(resp) == "InvalidBucketName"


def test_create_bucket_twice_is_already_owned_by_you(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=bucket)
    assert _code(exc) == "BucketAlreadyOwnedByYou"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_location_constraint(s3) -> None:
    name = unique_bucket()
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert _code(exc) == "InvalidLocationConstraint"
    s3.create_bucket(Bucket=name)
    # us-east-1 is reported as an empty LocationConstraint, as on AWS.
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") is None


def test_create_bucket_with_malformed_configuration(server: Server) -> None:
    resp = signed_request(server, "PUT", f"/{unique_bucket()}", body=b"<CreateBucketConfiguration><oops")
    assert resp.status_code == 400
    assert xml_code(resp) == "MalformedXML"


def test_delete_non_empty_bucket(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert _code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_missing_bucket_errors(s3, server: Server) -> None:
    name = unique_bucket()
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert _code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert _code(exc) == "NoSuchBucket"
    resp = signed_request(server, "GET", f"/{name}/some/key")
    assert resp.status_code == 404 and xml_code(resp) == "NoSuchBucket"
    assert f"<Resource>/{name}/some/key</Resource>" in resp.text


def test_unsupported_subresource_is_not_implemented(server: Server, bucket: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", params={"lifecycle": ""})
    assert resp.status_code == 501 and xml_code(resp) == "NotImplemented"


def test_virtual_hosted_style(tmp_path) -> None:
    with running_server(tmp_path / "data", "--domain", "localhost") as srv:
        name = unique_bucket()
        srv.client().create_bucket(Bucket=name)
        # The request names the bucket only in its Host header, signed as a virtual-hosted client would.
        req_host = f"{name}.localhost:{srv.port}"
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(method="PUT", url=f"http://{req_host}/v/key.txt", data=b"virtual")
        req.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        S3SigV4Auth(Credentials(srv.access_key, srv.secret_key), "s3", "us-east-1").add_auth(req)
        prepared = req.prepare()
        resp = requests.put(f"http://127.0.0.1:{srv.port}/v/key.txt", data=b"virtual",
                            headers={**dict(prepared.headers), "Host": req_host}, timeout=10)
        assert resp.status_code == 200, resp.text
        got = srv.client().get_object(Bucket=name, Key="v/key.txt")["Body"].read()
        assert got == b"virtual"

"""ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation; path- and virtual-hosted-style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
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


def test_create_bucket_you_already_own_is_200_in_us_east_1(s3, bucket: str) -> None:
    # AWS: "If you re-create an existing bucket that you already own in the North Virginia Region,
    # Amazon S3 returns 200 OK"; everywhere else BucketAlreadyOwnedByYou (next test).
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"  # nothing was reset


def test_create_bucket_you_already_own_elsewhere_is_already_owned_by_you(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--region", "eu-west-1") as srv:
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name="eu-west-1",
                          aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        location = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=location)  # type: ignore[typeddict-item]
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket="mine", CreateBucketConfiguration=location)  # type: ignore[typeddict-item]
        assert _code(exc) == "BucketAlreadyOwnedByYou"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_invalid_bucket_names_say_which_rule_they_break(server: Server) -> None:
    for name, words in [("ab", "3 to 63 characters long, not 2"), ("UPPER-case", "only lowercase letters"),
                        ("-leading", "begin and end"), ("two..dots", "two adjacent periods"),
                        ("xn--punycode", "reserved prefix xn--"), ("192.168.1.1", "IP address")]:
        resp = signed_request(server, "PUT", f"/{name}")
        assert resp.status_code == 400 and xml_code(resp) == "InvalidBucketName"
        assert words in resp.text, (name, resp.text)


def test_list_buckets_paginates_with_prefix_and_region(s3) -> None:
    stem = unique_bucket("pg")
    names = sorted(f"{stem}-{i}" for i in range(5))
    for name in names:
        s3.create_bucket(Bucket=name)
    seen: list[str] = []
    token = None
    for _ in range(10):
        kwargs: dict[str, Any] = {"MaxBuckets": 2, "Prefix": stem}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_buckets(**kwargs)
        assert page["Prefix"] == stem and len(page["Buckets"]) <= 2
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == names
    assert [b["Name"] for b in s3.list_buckets(Prefix=stem, BucketRegion="us-east-1")["Buckets"]] == names
    assert s3.list_buckets(Prefix=stem, BucketRegion="eu-west-1")["Buckets"] == []


def test_list_buckets_refuses_a_bad_max_buckets(server: Server) -> None:
    for bad in ("0", "10001", "x"):
        resp = signed_request(server, "GET", f"/?max-buckets={bad}")
        assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument", (bad, resp.text)


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
    resp = signed_request(server, "GET", f"/{bucket}", params={"select": ""})
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

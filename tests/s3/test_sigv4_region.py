"""A SigV4 credential scope must name the server's region (AWS: AuthorizationHeaderMalformed for the
header form, AuthorizationQueryParametersError for a presigned URL, each naming the expected region)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from unittest import mock

import boto3
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support import REGION, Server, xml_code


def _client(server: Server, region: str) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=region, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def _element(response: requests.Response, name: str) -> str | None:
    m = re.search(rf"<{name}>([^<]*)</{name}>", response.text)
    return m.group(1).replace("&apos;", "'") if m else None


def test_header_signed_for_another_region_is_refused_naming_the_right_one(server: Server, bucket: str) -> None:
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}")
    with mock.patch("botocore.auth.get_current_datetime", return_value=dt.datetime.now(dt.UTC)):
        S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "eu-west-1").add_auth(request)
    prepared = request.prepare()
    r = requests.get(prepared.url, headers=dict(prepared.headers), timeout=30)
    assert (r.status_code, xml_code(r)) == (400, "AuthorizationHeaderMalformed")
    assert _element(r, "Message") == ("The authorization header is malformed; the region 'eu-west-1' is wrong;"
                                      " expecting 'us-east-1'")
    assert _element(r, "Region") == REGION


def test_presigned_for_another_region_is_refused_naming_the_right_one(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = _client(server, "ap-south-1").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    r = requests.get(url, timeout=30)
    assert (r.status_code, xml_code(r)) == (400, "AuthorizationQueryParametersError")
    assert _element(r, "Message") == ("Error parsing the X-Amz-Credential parameter; the region 'ap-south-1' is"
                                      " wrong; expecting 'us-east-1'")
    assert _element(r, "Region") == REGION
    right = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert requests.get(right, timeout=30).content == b"v"


def test_boto3_configured_for_another_region_follows_the_answer(server: Server, bucket: str) -> None:
    """botocore re-signs for the region the error names (its S3 region redirector), as against AWS."""
    wrong = _client(server, "eu-central-1")
    wrong.put_object(Bucket=bucket, Key="redirected", Body=b"ok")
    assert wrong.get_object(Bucket=bucket, Key="redirected")["Body"].read() == b"ok"

"""GetBucketRequestPayment, GetBucketAccelerateConfiguration, GetBucketWebsite, GetBucketLogging,
GetBucketReplication, GetBucketNotificationConfiguration and the List/Get operations of the
analytics, metrics, inventory and Intelligent-Tiering configurations: features sealbox does not
build, read as AWS answers a bucket that never configured them (defaults or the feature's 404);
their writes stay 501 NotImplemented."""

from __future__ import annotations

from typing import Any

import pytest

from tests.s3.test_bucket_policy import add_user, allow, client_of, doc, error_of
from tests.support import Server, signed_request, unique_bucket, xml_code


def _body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def test_get_bucket_request_payment_is_bucket_owner(s3: Any, bucket: str) -> None:
    assert _body(s3.get_bucket_request_payment(Bucket=bucket)) == {"Payer": "BucketOwner"}


def test_get_bucket_accelerate_configuration_has_no_status(s3: Any, bucket: str) -> None:
    assert _body(s3.get_bucket_accelerate_configuration(Bucket=bucket)) == {}


def test_get_bucket_logging_is_disabled(server: Server, s3: Any, bucket: str) -> None:
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    resp = signed_request(server, "GET", f"/{bucket}", params={"logging": ""})
    assert resp.status_code == 200
    assert '<BucketLoggingStatus xmlns="http://doc.s3.amazonaws.com/2006-03-01"/>' in resp.text


def test_get_bucket_notification_configuration_is_empty(s3: Any, bucket: str) -> None:
    assert _body(s3.get_bucket_notification_configuration(Bucket=bucket)) == {}


def test_get_bucket_website_is_not_configured(s3: Any, bucket: str) -> None:
    assert error_of(s3.get_bucket_website, Bucket=bucket) == (
        "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration", 404)


def test_get_bucket_replication_is_not_configured(s3: Any, bucket: str) -> None:
    assert error_of(s3.get_bucket_replication, Bucket=bucket) == (
        "ReplicationConfigurationNotFoundError", "The replication configuration was not found", 404)


@pytest.mark.parametrize("family", ["analytics", "metrics", "inventory", "intelligent_tiering"])
def test_list_and_get_bucket_configurations_are_empty(s3: Any, bucket: str, family: str) -> None:
    listed = getattr(s3, f"list_bucket_{family}_configurations")(Bucket=bucket)
    assert _body(listed) == {"IsTruncated": False}
    assert error_of(getattr(s3, f"get_bucket_{family}_configuration"), Bucket=bucket, Id="rule") == (
        "NoSuchConfiguration", "The specified configuration does not exist.", 404)


def test_list_bucket_analytics_configurations_echoes_the_continuation_token(server: Server, bucket: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", params={"analytics": "", "continuation-token": "abc"})
    assert resp.status_code == 200
    assert "<ListBucketAnalyticsConfigurationResult" in resp.text
    assert "<IsTruncated>false</IsTruncated><ContinuationToken>abc</ContinuationToken>" in resp.text


def test_unconfigured_reads_need_the_bucket(s3: Any) -> None:
    assert error_of(s3.get_bucket_request_payment, Bucket=unique_bucket())[0] == "NoSuchBucket"
    assert error_of(s3.get_bucket_website, Bucket=unique_bucket())[0] == "NoSuchBucket"


def test_unconfigured_reads_need_their_permission(server: Server, s3: Any, bucket: str) -> None:
    name, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    assert error_of(other.get_bucket_logging, Bucket=bucket)[0] == "AccessDenied"
    assert error_of(other.get_bucket_website, Bucket=bucket)[0] == "AccessDenied"  # not the 404: no leak
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, ["s3:GetBucketLogging", "s3:GetBucketWebsite"],
                                                         f"arn:aws:s3:::{bucket}")))
    assert "LoggingEnabled" not in other.get_bucket_logging(Bucket=bucket)
    assert error_of(other.get_bucket_website, Bucket=bucket)[0] == "NoSuchWebsiteConfiguration"
    assert error_of(other.get_bucket_request_payment, Bucket=bucket)[0] == "AccessDenied"


@pytest.mark.parametrize("method,subresource", [
    ("PUT", "website"), ("DELETE", "website"), ("PUT", "logging"), ("PUT", "replication"),
    ("DELETE", "replication"), ("PUT", "notification"), ("PUT", "requestPayment"), ("PUT", "accelerate"),
    ("PUT", "analytics"), ("DELETE", "metrics"), ("PUT", "inventory"), ("PUT", "intelligent-tiering"),
])
def test_writes_of_unbuilt_features_are_not_implemented(server: Server, bucket: str, method: str,
                                                        subresource: str) -> None:
    resp = signed_request(server, method, f"/{bucket}", params={subresource: ""}, body=b"<x/>")
    assert (resp.status_code, xml_code(resp)) == (501, "NotImplemented")


def test_object_level_reads_of_these_subresources_stay_not_implemented(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = signed_request(server, "GET", f"/{bucket}/k", params={"website": ""})
    assert (resp.status_code, xml_code(resp)) == (501, "NotImplemented")

"""A bucket's CORS configuration in the console: viewed and edited as JSON or XML, validated, deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.console.conftest import Console, shot, sign_in
from tests.support import unique_bucket

RULES = [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT", "POST"],
          "AllowedHeaders": ["x-amz-server-side-encryption"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]


def _open_cors(page: Any, console: Console, bucket: str) -> None:
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    page.get_by_role("link", name="Configure CORS").click()
    page.get_by_role("heading", name="Cross-origin resource sharing (CORS)").wait_for()


def _editor(page: Any) -> Any:
    return page.get_by_label("CORS configuration")


def test_cors_configuration_edited_as_json_then_as_xml(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("cors")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    assert page.locator("#cors-summary").inner_text() == "None"
    _open_cors(page, console, bucket)
    assert "no CORS configuration" in page.locator("#cors-state").inner_text()

    page.get_by_label("JSON (as the AWS console)").check()
    _editor(page).fill(json.dumps(RULES, indent=2))
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the CORS configuration (1 rule).").wait_for()
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    assert json.loads(_editor(page).input_value()) == RULES  # shown as stored
    shot(page, "bucket-cors-json")

    page.get_by_role("link", name="XML").click()
    xml = _editor(page).input_value()
    assert "<AllowedOrigin>https://app.example</AllowedOrigin>" in xml and "<MaxAgeSeconds>600</MaxAgeSeconds>" in xml
    _editor(page).fill(xml.replace("<AllowedMethod>POST</AllowedMethod>", "<AllowedMethod>GET</AllowedMethod>"))
    page.get_by_label("XML (as PutBucketCors)").check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the CORS configuration (1 rule).").wait_for()
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedMethods"] == ["PUT", "GET"]

    page.goto(f"{console.url}/buckets/{bucket}/properties")
    assert page.locator("#cors-summary").inner_text() == "1 rule"


def test_cors_configuration_is_validated_and_kept_on_error(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("corsbad")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    _open_cors(page, console, bucket)
    cases = [
        ("json", '[{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]', "not valid JSON"),
        ("json", '[{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]',
         "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ("json", '[{"AllowedOrigins": ["http://*.*.example"], "AllowedMethods": ["GET"]}]',
         'AllowedOrigin "http://*.*.example" can not have more than one wildcard.'),
        ("json", '[{"AllowedOrigin": ["*"], "AllowedMethods": ["GET"]}]', "unknown field 'AllowedOrigin'"),
        ("json", "[]", "Not saved"),
        ("xml", "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
         "not well-formed, or is not a <CORSConfiguration>"),
        ("xml", "<CORSConfiguration><CORSRule>", "not well-formed"),
    ]
    for fmt, text, reason in cases:
        page.get_by_label("JSON (as the AWS console)" if fmt == "json" else "XML (as PutBucketCors)").check()
        _editor(page).fill(text)
        page.get_by_role("button", name="Save changes").click()
        alert = page.locator("#cors-error")
        alert.wait_for()
        assert reason in alert.inner_text(), (text, alert.inner_text())
        assert _editor(page).input_value() == text  # what was typed is still there to fix
    shot(page, "bucket-cors-invalid")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_cors_configuration_put_by_the_api_is_shown_and_can_be_deleted(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("corsdel")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*RULES, {"ID": "read",
                       "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    assert page.locator("#cors-summary").inner_text() == "2 rules"
    page.get_by_role("link", name="View or edit CORS").click()
    shown = json.loads(_editor(page).input_value())
    assert shown[1] == {"ID": "read", "AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete CORS configuration").click()
    page.get_by_text("Deleted the CORS configuration.").wait_for()
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert page.get_by_role("button", name="Delete CORS configuration").count() == 0

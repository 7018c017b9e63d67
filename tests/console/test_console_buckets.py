"""The Buckets list: create (with versioning and default encryption), Properties, delete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import Console, shot, sign_in
from tests.console.test_console_object_encryption import create_bucket_in_ui
from tests.support import unique_bucket


def row_of(page: Any, bucket: str) -> Any:
    return page.locator("tr", has=page.get_by_role("link", name=bucket, exact=True))


def test_create_bucket_with_versioning_and_default_encryption(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("mk")
    sign_in(page, console)
    create_bucket_in_ui(page, bucket, versioning=True, encryption=True)
    row = row_of(page, bucket)
    assert "Enabled" in row.inner_text() and "SSE-S3" in row.inner_text()
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_bucket_name_errors_are_reported(page: Any, console: Console) -> None:
    s3 = console.s3()
    taken = unique_bucket("taken")
    s3.create_bucket(Bucket=taken)
    sign_in(page, console)
    page.goto(console.url + "/buckets")
    page.locator("details.create summary").click()
    page.get_by_label("Bucket name").fill(taken)
    page.locator("details.create form").get_by_role("button", name="Create bucket").click()
    assert "already" in page.get_by_role("alert").inner_text().lower()


def test_properties_set_versioning_and_default_encryption_then_delete(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("props")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    row_of(page, bucket).get_by_role("link", name="Properties").click()
    versioning = page.locator("section", has=page.get_by_role("heading", name="Bucket Versioning"))
    versioning.get_by_label("Enable").check()
    versioning.get_by_role("button", name="Save changes").click()
    page.get_by_text("Bucket versioning is now Enabled.").wait_for()
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    encryption = page.locator("section", has=page.get_by_role("heading", name="Default encryption"))
    encryption.get_by_label("Enable", exact=True).check()
    encryption.get_by_label("Amazon S3 key (SSE-S3)").check()
    encryption.get_by_role("button", name="Save changes").click()
    page.get_by_text("Default encryption: Amazon S3 key (SSE-S3).").wait_for()
    s3.put_object(Bucket=bucket, Key="new.txt", Body=b"n")
    assert s3.head_object(Bucket=bucket, Key="new.txt")["ServerSideEncryption"] == "AES256"
    shot(page, "bucket-properties")

    # Not empty: the delete is refused and says why.
    delete_section = page.locator("section", has=page.get_by_role("heading", name="Delete bucket"))
    delete_section.get_by_label("To confirm, type the bucket name").fill(bucket)
    delete_section.get_by_role("button", name="Delete bucket").click()
    assert "not empty" in page.get_by_role("alert").inner_text().lower()
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    delete_section.get_by_label("To confirm, type the bucket name").fill(bucket)
    delete_section.get_by_role("button", name="Delete bucket").click()
    page.get_by_text(f"Deleted bucket '{bucket}'.").wait_for()
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_bucket_versioning(Bucket=bucket)

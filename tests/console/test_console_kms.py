"""SSE-KMS in the console (a real browser): Edit server-side encryption with SSE-KMS (a key from the list,
or a key ARN entered), DSSE-KMS and Bucket Key; the same in bulk and for the bucket's default
encryption; the object overview's KMS key ARN; the Keys page (create, disable, enable, schedule and
cancel deletion). Checked through boto3."""

from __future__ import annotations

import os
import re
from typing import Any

from tests.console.conftest import Console, shot, sign_in
from tests.console.test_console_bulk_encryption import choose_rows, wait_for_job_end
from tests.kms_support import error_of, kms_client
from tests.support import unique_bucket


def _key(console: Console, alias: str | None = None) -> dict[str, Any]:
    kms = kms_client(console.server)
    meta: dict[str, Any] = kms.create_key(Description="console key")["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return meta


def _edit_object(page: Any, console: Console, bucket: str, key: str) -> None:
    page.goto(console.url + f"/buckets/{bucket}/object?key={key}")
    section = page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings"))
    section.get_by_role("link", name="Edit").click()
    page.get_by_role("heading", name="Edit server-side encryption").wait_for()
    page.get_by_label("Enable", exact=True).check()


def test_edit_encryption_to_sse_kms_with_a_listed_key_and_bucket_key(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("ckms")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"to be sealed by KMS", Metadata={"a": "1"})
    alias = f"alias/console-{os.urandom(3).hex()}"
    key = _key(console, alias)
    sign_in(page, console)
    _edit_object(page, console, bucket, "doc.txt")
    page.get_by_label(re.compile(r"AWS Key Management Service key \(SSE-KMS\)")).check()
    page.get_by_label("AWS KMS key", exact=True).select_option(key["Arn"])
    page.get_by_label("Enable Bucket Key").check()
    shot(page, "edit-server-side-encryption-sse-kms")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert page.locator("[data-kms-arn]").inner_text().strip() == key["Arn"]
    assert "SSE-KMS" in page.locator("[data-key-type]").inner_text()
    assert page.locator("[data-bucket-key]").inner_text().strip() == "Enabled"
    shot(page, "object-overview-sse-kms")
    head = s3.head_object(Bucket=bucket, Key="doc.txt")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["BucketKeyEnabled"]) == ("aws:kms", key["Arn"], True)
    assert head["Metadata"] == {"a": "1"}
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"to be sealed by KMS"


def test_edit_encryption_with_an_entered_key_arn_and_to_dsse(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("carn")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.bin", Body=b"a" * 100_000)
    key = _key(console)
    sign_in(page, console)
    _edit_object(page, console, bucket, "a.bin")
    page.get_by_label(re.compile(r"AWS Key Management Service key \(SSE-KMS\)")).check()
    page.get_by_label("AWS KMS key", exact=True).select_option("arn")
    page.get_by_label("AWS KMS key ARN").fill(key["Arn"])
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert s3.head_object(Bucket=bucket, Key="a.bin")["SSEKMSKeyId"] == key["Arn"]
    _edit_object(page, console, bucket, "a.bin")
    page.get_by_label(re.compile(r"DSSE-KMS")).check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()
    head = s3.head_object(Bucket=bucket, Key="a.bin")
    assert head["ServerSideEncryption"] == "aws:kms:dsse"
    assert s3.get_object(Bucket=bucket, Key="a.bin")["Body"].read() == b"a" * 100_000


def test_bulk_edit_to_sse_kms(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("cbulk")
    s3.create_bucket(Bucket=bucket)
    names = [f"set/item-{i}.txt" for i in range(12)]
    for name in names:
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode())
    key = _key(console, f"alias/bulk-{os.urandom(3).hex()}")
    sign_in(page, console)
    page.get_by_role("link", name=bucket, exact=True).click()
    page.get_by_role("heading", name="Objects").wait_for()
    choose_rows(page, ["set/"])
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Edit server-side encryption").click()
    page.get_by_role("heading", name="Edit server-side encryption").wait_for()
    page.get_by_label("Enable", exact=True).check()
    page.get_by_label(re.compile(r"AWS Key Management Service key \(SSE-KMS\)")).check()
    page.get_by_label("AWS KMS key", exact=True).select_option(key["Arn"])
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    wait_for_job_end(page)
    assert page.locator("[data-job]").get_attribute("data-state") == "done"
    for name in names:
        head = s3.head_object(Bucket=bucket, Key=name)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])


def test_bucket_default_encryption_with_sse_kms(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("cdef")
    s3.create_bucket(Bucket=bucket)
    key = _key(console)
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}/properties")
    section = page.locator("section", has=page.get_by_role("heading", name="Default encryption"))
    section.get_by_label("Enable", exact=True).check()
    section.get_by_label("AWS KMS key (SSE-KMS)").check()
    section.get_by_label("AWS KMS key", exact=True).select_option(key["Arn"])
    section.get_by_label("Enable Bucket Key").check()
    section.get_by_role("button", name="Save changes").click()
    page.get_by_text(re.compile("Default encryption: AWS KMS key")).wait_for()
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="new", Body=b"x")
    assert (put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == (key["Arn"], True)


def test_keys_page_create_disable_enable_schedule_cancel(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("ckeys")
    s3.create_bucket(Bucket=bucket)
    alias = f"alias/page-{os.urandom(3).hex()}"
    sign_in(page, console)
    page.locator("nav.mainnav").get_by_role("link", name="KMS keys").click()
    page.get_by_role("heading", name="KMS keys").wait_for()
    page.locator("details.create summary").click()
    page.get_by_label("Description").fill("made in the console")
    page.get_by_label("Alias").fill(alias)
    page.get_by_role("button", name="Create key").last.click()
    page.get_by_text(re.compile("Created KMS key")).wait_for()
    row = page.locator("tr", has_text=alias)
    key_id = row.get_attribute("data-key")
    assert key_id and "Enabled" in row.locator("[data-key-state]").inner_text()
    s3.put_object(Bucket=bucket, Key="k", Body=b"kms", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
    shot(page, "keys")

    row.get_by_role("button", name="Disable").click()
    page.get_by_text(re.compile("disabled: objects under it cannot be read")).wait_for()
    assert "Disabled" in page.locator("tr", has_text=alias).locator("[data-key-state]").inner_text()
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.DisabledException")
    page.locator("tr", has_text=alias).get_by_role("button", name="Enable").click()
    page.get_by_text(re.compile(f"Key {key_id} enabled")).wait_for()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kms"

    row = page.locator("tr", has_text=alias)
    row.get_by_label("Waiting period (days)").fill("7")
    row.get_by_role("button", name="Schedule deletion").click()
    page.get_by_text(re.compile("scheduled for deletion")).wait_for()
    assert "PendingDeletion" in page.locator("tr", has_text=alias).locator("[data-key-state]").inner_text()
    assert kms_client(console.server).describe_key(KeyId=key_id)["KeyMetadata"]["PendingDeletionWindowInDays"] == 7
    page.locator("tr", has_text=alias).get_by_role("button", name="Cancel deletion").click()
    page.get_by_text(re.compile("no longer scheduled for deletion")).wait_for()
    assert "Disabled" in page.locator("tr", has_text=alias).locator("[data-key-state]").inner_text()

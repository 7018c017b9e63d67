"""The spec's console steps, in a real browser: Buckets → Objects → Object overview → Server-side
encryption settings → Edit → Enable → Amazon S3 key (SSE-S3) → Save changes; checked through boto3."""

from __future__ import annotations

import re
from typing import Any

from tests.console.conftest import Console, shot, sign_in
from tests.support import unique_bucket

BODY = ("quarterly numbers, not yet encrypted\n" * 2000).encode()


def create_bucket_in_ui(page: Any, name: str, versioning: bool = False, encryption: bool = False) -> None:
    page.goto(page.url.split("/buckets")[0] + "/buckets")
    form = page.locator("details.create")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label("Bucket name").fill(name)
    if versioning:
        form.get_by_label("Enable versioning").check()
    if encryption:
        form.get_by_label("Default encryption (SSE-S3)").check()
    form.get_by_role("button", name="Create bucket").click()
    page.get_by_role("link", name=name, exact=True).wait_for()


def upload_in_ui(page: Any, name: str, body: bytes, mime: str = "text/plain") -> None:
    page.set_input_files("[data-file-input]", files=[{"name": name, "mimeType": mime, "buffer": body}])
    page.locator(".uploads .up-done").first.wait_for()
    page.get_by_role("link", name=name, exact=True).wait_for()  # the list reloads once uploads finish


def walk_spec_steps(page: Any, bucket: str, name: str, folders: tuple[str, ...] = (), screenshots: bool = False) -> None:
    """Steps 2-7 of "To add or change encryption for an object", by the labels the spec names."""
    page.goto(page.url.split("/buckets")[0] + "/buckets")
    page.get_by_role("heading", name=re.compile("^Buckets")).wait_for()
    page.get_by_role("link", name=bucket, exact=True).click()  # In the Buckets list, choose the bucket
    page.get_by_role("heading", name="Objects").wait_for()
    for folder in folders:
        page.get_by_role("link", name=folder, exact=True).click()
        page.get_by_role("heading", name=folder, exact=True).wait_for()
    page.get_by_role("link", name=name, exact=True).click()  # In the Objects list, choose the object
    page.get_by_role("heading", name="Object overview").wait_for()
    if screenshots:
        shot(page, "object-overview")
    section = page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings"))
    section.get_by_role("link", name="Edit").click()  # Under Server-side encryption settings, choose Edit
    page.get_by_role("heading", name="Edit server-side encryption").wait_for()
    page.get_by_label("Enable", exact=True).check()  # under Server-side encryption, choose Enable
    page.get_by_label(re.compile(r"Amazon S3 key \(SSE-S3\)")).check()  # Encryption key type
    if screenshots:
        shot(page, "edit-server-side-encryption")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()


def test_enable_sse_s3_on_an_object_creates_an_encrypted_version(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("spec")
    sign_in(page, console)
    create_bucket_in_ui(page, bucket, versioning=True)
    shot(page, "buckets")
    page.get_by_role("link", name=bucket, exact=True).click()
    upload_in_ui(page, "report.txt", BODY)
    before = s3.head_object(Bucket=bucket, Key="report.txt")
    assert "ServerSideEncryption" not in before
    assert before["ContentType"] == "text/plain"

    walk_spec_steps(page, bucket, "report.txt", screenshots=True)

    assert page.locator("[data-sse-state]").inner_text().strip() == "Enabled"
    assert "a new object was written" in page.locator(".flash-ok").inner_text()
    shot(page, "object-encrypted")
    head = s3.head_object(Bucket=bucket, Key="report.txt")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "text/plain"  # metadata preserved (COPY)
    assert s3.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == BODY
    versions = s3.list_object_versions(Bucket=bucket, Prefix="report.txt")["Versions"]
    assert len(versions) == 2
    new, old = sorted(versions, key=lambda v: not v["IsLatest"])
    assert new["VersionId"] == head["VersionId"] != old["VersionId"]
    old_head = s3.head_object(Bucket=bucket, Key="report.txt", VersionId=old["VersionId"])
    assert "ServerSideEncryption" not in old_head  # the old version keeps its state
    assert s3.get_object(Bucket=bucket, Key="report.txt", VersionId=old["VersionId"])["Body"].read() == BODY
    # The overview's versions list shows both, the new one encrypted.
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == 2
    assert "SSE-S3" in rows.nth(0).inner_text() and "None" in rows.nth(1).inner_text()


def test_user_metadata_is_preserved_and_disable_removes_encryption(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("meta")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/plan.md", Body=b"# plan\n", ContentType="text/markdown",
                  Metadata={"project": "sealbox", "reviewed-by": "ana"}, CacheControl="max-age=60")
    sign_in(page, console)
    walk_spec_steps(page, bucket, "plan.md", folders=("notes/",))
    head = s3.head_object(Bucket=bucket, Key="notes/plan.md")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"] == {"project": "sealbox", "reviewed-by": "ana"}
    assert head["ContentType"] == "text/markdown" and head["CacheControl"] == "max-age=60"
    assert page.locator("[data-meta-value]").all_inner_texts() == ["sealbox", "ana"]

    # Edit again → Disable → Save changes: a plaintext object with the same bytes and metadata.
    section = page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings"))
    section.get_by_role("link", name="Edit").click()
    page.get_by_label("Disable", exact=True).check()
    assert page.get_by_label(re.compile(r"Amazon S3 key \(SSE-S3\)")).is_disabled()  # key type off with Disable
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert page.locator("[data-sse-state]").inner_text().strip() == "Disabled"
    head = s3.head_object(Bucket=bucket, Key="notes/plan.md")
    assert "ServerSideEncryption" not in head
    assert head["Metadata"] == {"project": "sealbox", "reviewed-by": "ana"}
    assert s3.get_object(Bucket=bucket, Key="notes/plan.md")["Body"].read() == b"# plan\n"

"""Deleting a bucket asks to type its name; "Empty bucket" is a job with progress that deletes every
version and delete marker, after which the bucket can be deleted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.console.conftest import Console, http_session, shot, sign_in
from tests.console.test_console_bulk_encryption import fill, wait_for_job_end
from tests.support import unique_bucket


def section(page: Any, heading: str) -> Any:
    return page.locator("section", has=page.get_by_role("heading", name=heading))


def test_delete_bucket_needs_its_name_typed(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("typed")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}/properties")
    delete = section(page, "Delete bucket")
    button = delete.get_by_role("button", name="Delete bucket")
    assert button.is_disabled()
    delete.get_by_label("To confirm, type the bucket name").fill(bucket[:-1])
    assert button.is_disabled()
    delete.get_by_label("To confirm, type the bucket name").fill(bucket)
    assert button.is_enabled()
    shot(page, "bucket-delete-typed")
    # The server checks it too, whatever a page sends.
    s, csrf = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/delete", data={"csrf": csrf}, timeout=30)
    assert "type its name exactly" in r.text
    r = s.post(console.url + f"/buckets/{bucket}/delete", data={"csrf": csrf, "confirm": "other"}, timeout=30)
    assert "type its name exactly" in r.text
    s3.head_bucket(Bucket=bucket)  # still there
    button.click()
    page.get_by_text(f"Deleted bucket '{bucket}'.").wait_for()
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_bucket(Bucket=bucket)


def test_empty_bucket_is_a_job_that_removes_every_version(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("empty")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"data/{i:03d}.bin" for i in range(60)]
    fill(s3, bucket, keys)
    fill(s3, bucket, keys[:20])  # second versions
    for key in keys[:10]:
        s3.delete_object(Bucket=bucket, Key=key)  # delete markers
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}/properties")
    empty = section(page, "Empty bucket")
    empty.get_by_label("To confirm, type the bucket name").fill(bucket)
    empty.get_by_role("button", name="Empty bucket").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    page.get_by_role("heading", name="Empty bucket").wait_for()
    wait_for_job_end(page)
    assert page.locator("[data-job-total]").inner_text() == "90"
    assert page.locator("[data-job-succeeded]").inner_text() == "90"
    assert page.locator("[data-job-state]").inner_text() == "Completed"
    shot(page, "empty-bucket-job")
    listed = s3.list_object_versions(Bucket=bucket)
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    page.goto(console.url + f"/buckets/{bucket}/properties")
    delete = section(page, "Delete bucket")
    delete.get_by_label("To confirm, type the bucket name").fill(bucket)
    delete.get_by_role("button", name="Delete bucket").click()
    page.get_by_text(f"Deleted bucket '{bucket}'.").wait_for()


def test_empty_bucket_refuses_without_the_name(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("keep")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s, csrf = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/empty", data={"csrf": csrf, "confirm": "nope"}, timeout=30)
    assert "was not emptied" in r.text
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"

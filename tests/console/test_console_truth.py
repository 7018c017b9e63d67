"""The console tells the truth (issue 18): a job where anything failed says so in its badge and its
bar, a failed upload turns red with its reason, errors are sentences with their context, and
uploads choose their encryption, so a bucket under the classic deny-unencrypted policy is usable."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.console.conftest import Console, http_session, shot, sign_in
from tests.console.test_console_bulk_encryption import choose_rows, fill, wait_for_job_end
from tests.support import unique_bucket


def deny_unencrypted(bucket: str) -> str:
    """The policy of AWS's documentation (and the README): every PutObject must ask for AES256."""
    resource = f"arn:aws:s3:::{bucket}/*"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyWrongEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": resource,
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}},
        {"Sid": "DenyUnencrypted", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": resource, "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
    ]})


def segment_width(page: Any, name: str) -> float:
    """The share of the job's bar a segment is given (its target width: it animates towards it)."""
    width = page.locator(f"[data-job-bar] [data-seg={name}]").evaluate("s => s.style.width")
    return float(width.rstrip("%") or 0) / 100


def test_a_job_where_every_object_failed_says_failed_in_red(page: Any, console: Console) -> None:
    """The issue's own bug: 21 of 21 failed showed a green "Completed" and a full green bar."""
    s3 = console.s3()
    bucket = unique_bucket("allfail")
    s3.create_bucket(Bucket=bucket)
    keys = [f"reports/{i:02d}.csv" for i in range(21)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", ServerSideEncryption="AES256")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}")
    choose_rows(page, ["reports/"])
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Edit server-side encryption").click()
    page.get_by_label("Disable", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    wait_for_job_end(page)
    assert page.locator("[data-job-failed]").inner_text() == "21"
    badge = page.locator("[data-job-state]")
    assert badge.inner_text() == "Failed"
    assert badge.get_attribute("data-tone") == "error"
    assert "pill-error" in (badge.get_attribute("class") or "")
    assert segment_width(page, "failed") > 0.98 and segment_width(page, "ok") == 0
    rows = page.locator("[data-job-failure-rows] tr")
    assert rows.count() == 21
    reason = rows.first.inner_text()
    assert f"You are not allowed to remove the encryption of reports/00.csv in {bucket}" in reason
    assert "a bucket policy requires SSE-S3" in reason and "(AccessDenied)" in reason
    shot(page, "job-failed")
    # The Jobs list says the same.
    page.goto(console.url + "/jobs")
    assert page.locator("tr", has_text=bucket).locator("[data-job-state]").first.inner_text() == "Failed"
    assert all(s3.head_object(Bucket=bucket, Key=k)["ServerSideEncryption"] == "AES256" for k in keys)


def test_a_job_with_some_failures_is_completed_with_errors(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("somefail")
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, [f"logs/{i}.log" for i in range(9)])
    sign_in(page, console)
    s, csrf = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:logs/", "k:gone.txt"]})
    assert r.status_code == 303
    page.goto(console.url + r.headers["location"])
    wait_for_job_end(page)
    badge = page.locator("[data-job-state]")
    assert badge.inner_text() == "Completed with errors"
    assert badge.get_attribute("data-tone") == "warn"
    assert 0.05 < segment_width(page, "failed") < 0.15 and segment_width(page, "ok") > 0.85
    reason = page.locator("[data-job-failure-rows] tr").inner_text()
    assert f"Could not encrypt gone.txt in {bucket}: the object does not exist" in reason
    shot(page, "job-completed-with-errors")
    # A job where nothing failed is still plainly "Completed".
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:logs/"]})
    page.goto(console.url + r.headers["location"])
    wait_for_job_end(page)
    assert page.locator("[data-job-state]").inner_text() == "Completed"
    assert page.locator("[data-job-state]").get_attribute("data-tone") == "ok"


def test_uploads_choose_their_encryption_under_a_deny_unencrypted_policy(page: Any, console: Console) -> None:
    """Under the README's policy even root could not upload from the console: it never asked for SSE."""
    s3 = console.s3()
    bucket = unique_bucket("upsse")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}")
    choice = page.get_by_label("Encryption of uploads")
    assert choice.input_value() == ""  # no default encryption on this bucket: "None" is the default
    # Without encryption: refused, the bar turns red, the reason is a sentence that says what to do.
    page.set_input_files("[data-file-input]", files=[{"name": "plain.txt", "mimeType": "text/plain",
                                                      "buffer": b"plain"}])
    failed = page.locator("[data-uploads] li[data-upload-failed]")
    failed.wait_for()
    text = failed.inner_text()
    assert f"You are not allowed to upload plain.txt to {bucket}: a bucket policy requires SSE-S3" in text
    assert page.locator("[data-uploads] li.up-failed progress").evaluate("p => p.value") == 100
    shot(page, "upload-failed")
    # With SSE-S3 chosen: stored, encrypted.
    choice.select_option("AES256")
    page.set_input_files("[data-file-input]", files=[{"name": "secret.txt", "mimeType": "text/plain",
                                                      "buffer": b"secret"}])
    page.locator("[data-uploads] li", has_text="secret.txt").get_by_text("Uploaded · SSE-S3").wait_for()
    got = s3.get_object(Bucket=bucket, Key="secret.txt")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"secret"


def test_uploads_default_to_the_buckets_default_encryption(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("updef")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}")
    page.set_input_files("[data-file-input]", files=[{"name": "q1.csv", "mimeType": "text/csv", "buffer": b"q"}])
    page.get_by_role("link", name="q1.csv", exact=True).wait_for()  # the page reloads after a success
    assert page.get_by_label("Encryption of uploads").input_value() == "AES256"
    assert s3.head_object(Bucket=bucket, Key="q1.csv")["ServerSideEncryption"] == "AES256"


def test_an_upload_refused_without_a_policy_says_why(console: Console) -> None:
    """Another user's bucket: "no permission", with the file and the bucket named."""
    s3 = console.s3()
    bucket = unique_bucket("upnone")
    s3.create_bucket(Bucket=bucket)
    s, csrf = http_session(console)
    r = s.put(console.url + f"/buckets/{bucket}/upload", params={"key": "a/b.txt", "sse": "bogus"},
              data=b"x", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}, timeout=30)
    assert r.status_code == 400 and "Unknown encryption" in r.json()["error"]
    r = s.put(console.url + "/buckets/no-such-bucket-here/upload", params={"key": "a/b.txt"},
              data=b"x", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}, timeout=30)
    assert r.json() == {"ok": False, "error": "Could not upload b.txt to no-such-bucket-here: the bucket does not"
                        " exist (NoSuchBucket)."}

"""Show versions in the console: every version and delete marker, restore a version, delete one for
good (refused, with the reason, when Object Lock keeps it), undelete an object; after an encryption
change, delete the unencrypted older versions (one, or all under a folder as a job)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import requests

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in
from tests.console.test_console_bulk_encryption import choose_rows, wait_for_job_end
from tests.s3.test_bucket_policy import add_user
from tests.support import unique_bucket

FUTURE = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)


def versions_of(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    rows = [*out.get("Versions", []), *out.get("DeleteMarkers", [])]
    return [r for r in rows if r["Key"] == key]


def ids(s3: Any, bucket: str, key: str) -> set[str]:
    return {r["VersionId"] for r in versions_of(s3, bucket, key)}


def versioned_bucket(s3: Any, bucket: str, *bodies: bytes, key: str = "k") -> list[str]:
    """A new bucket with versioning Enabled and ``key`` written once per body; the version ids."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return [str(s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]) for body in bodies]


def show_versions(page: Any, console: Console, bucket: str) -> None:
    page.goto(f"{console.url}/buckets/{bucket}")
    page.get_by_role("switch", name="Show versions").click()
    page.wait_for_url(re.compile(rf"/buckets/{bucket}/versions"))
    assert page.get_by_role("switch", name="Show versions").get_attribute("aria-checked") == "true"


def row(page: Any, version_id: str) -> Any:
    return page.locator(f"tr[data-version='{version_id}']")


def locked_put(s3: Any, bucket: str, key: str, body: bytes, **lock: Any) -> str:
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="CRC32", **lock)["VersionId"])


def test_show_versions_restore_delete_and_undelete(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = "acme-reports"  # a readable name: this page is the README's screenshot
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="report.txt", Body=b"first draft", ServerSideEncryption="AES256")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="report.txt", Body=b"second draft, longer")["VersionId"]
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"kept")
    gone = s3.put_object(Bucket=bucket, Key="old-plan.txt", Body=b"deleted by mistake")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="old-plan.txt")["VersionId"]

    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}")
    assert page.get_by_role("link", name="old-plan.txt").count() == 0  # deleted: not in the current list
    show_versions(page, console, bucket)
    for version_id in (v1, v2, gone, marker):
        assert row(page, version_id).count() == 1
    assert "SSE-S3" in row(page, v1).locator("[data-encryption]").inner_text()
    assert "None" in row(page, v2).locator("[data-encryption]").inner_text()
    assert "Current" in row(page, v2).inner_text() and "Current" not in row(page, v1).inner_text()
    assert "Delete marker" in row(page, marker).inner_text()
    assert "11 B" in row(page, v1).inner_text()
    shot(page, "console-versions")

    # Restore the first version: a copy over the key, keeping its encryption (AWS's console copies as is).
    page.get_by_role("button", name=f"Restore version {v1} of report.txt").click()
    page.get_by_text(re.compile(f"Restored version {v1} of report.txt")).wait_for()
    current = s3.get_object(Bucket=bucket, Key="report.txt")
    assert current["Body"].read() == b"first draft"
    assert current["ServerSideEncryption"] == "AES256"
    assert current["VersionId"] not in (v1, v2) and {v1, v2} <= ids(s3, bucket, "report.txt")

    # Delete the second version permanently.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Permanently delete version {v2} of report.txt").click()
    page.get_by_text(f"Permanently deleted version {v2} of report.txt.").wait_for()
    assert v2 not in ids(s3, bucket, "report.txt")
    assert row(page, v2).count() == 0

    # Find the deleted object and restore it by deleting its delete marker.
    page.get_by_role("link", name=re.compile("Deleted objects only")).click()
    page.wait_for_url(re.compile("deleted=1"))
    assert page.locator("tr[data-key='notes.txt']").count() == 0
    assert row(page, marker).count() == 1
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Undelete old-plan.txt").click()
    page.get_by_text("Removed the delete marker of old-plan.txt: the object is restored.").wait_for()
    assert s3.get_object(Bucket=bucket, Key="old-plan.txt")["Body"].read() == b"deleted by mistake"
    assert ids(s3, bucket, "old-plan.txt") == {gone}
    log = [line for line in console.server.log().splitlines() if "sealbox.audit" in line and '"via": "console"' in line]
    for text in (f"version {v1} of {bucket}/report.txt restored as", f"version {v2} of {bucket}/report.txt deleted",
                 f"version {marker} of {bucket}/old-plan.txt deleted"):
        assert any(text in line and '"principal": "root"' in line for line in log), text


def test_restoring_an_unencrypted_version_takes_the_bucket_default(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("versdef")
    v1, _ = versioned_bucket(s3, bucket, b"plain", b"newer")
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    sign_in(page, console)
    show_versions(page, console, bucket)
    page.get_by_role("button", name=f"Restore version {v1} of k").click()
    page.get_by_text(re.compile(f"Restored version {v1} of k")).wait_for()
    current = s3.get_object(Bucket=bucket, Key="k")
    assert current["Body"].read() == b"plain" and current["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="k", VersionId=v1)


def test_locked_versions_are_kept_with_the_reason(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("verslock")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    compliance = locked_put(s3, bucket, "ledger.csv", b"2026", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=FUTURE)
    held = locked_put(s3, bucket, "ledger.csv", b"2026 v2", ObjectLockLegalHoldStatus="ON")
    governance = locked_put(s3, bucket, "draft.txt", b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FUTURE)
    locked_put(s3, bucket, "draft.txt", b"g2")

    sign_in(page, console)
    show_versions(page, console, bucket)
    assert "COMPLIANCE until" in row(page, compliance).locator("[data-lock]").inner_text()
    assert "Legal hold" in row(page, held).locator("[data-lock]").inner_text()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Permanently delete version {compliance} of ledger.csv").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert f"Version {compliance} of ledger.csv was not deleted" in alert.inner_text()
    assert "COMPLIANCE retention until" in alert.inner_text() and "nobody can delete it" in alert.inner_text()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Permanently delete version {held} of ledger.csv").click()
    page.get_by_text(re.compile("under a legal hold")).wait_for()
    assert {compliance, held} <= ids(s3, bucket, "ledger.csv")  # both still there

    # A user without s3:BypassGovernanceRetention is refused GOVERNANCE; the owner (root) bypasses, as on AWS's console.
    name, access_key, secret = add_user(console.server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": name},
         "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion",
                    "s3:DeleteObjectVersion"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    user_page = page.context.browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        sign_in(user_page, console, access_key, secret)
        show_versions(user_page, console, bucket)
        # As GET and HEAD on AWS: a version's lock is shown only with s3:GetObjectRetention/-LegalHold.
        assert row(user_page, compliance).locator("[data-lock]").inner_text() == "–"
        assert row(user_page, held).locator("[data-lock]").inner_text() == "–"
        user_page.once("dialog", lambda d: d.accept())
        user_page.get_by_role("button", name=f"Permanently delete version {governance} of draft.txt").click()
        user_page.get_by_text(re.compile("GOVERNANCE retention until .* s3:BypassGovernanceRetention")).wait_for()
        assert governance in ids(s3, bucket, "draft.txt")
    finally:
        user_page.context.close()
    show_versions(page, console, bucket)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Permanently delete version {governance} of draft.txt").click()
    page.get_by_text(f"Permanently deleted version {governance} of draft.txt.").wait_for()
    assert governance not in ids(s3, bucket, "draft.txt")


def test_unencrypted_older_versions_after_an_encryption_change(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = "acme-records"  # a readable name: the README shows its job
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)  # versioning on, and locks to skip
    plain = {k: locked_put(s3, bucket, k, f"clear {k}".encode())
             for k in ("docs/a.txt", "docs/b.txt", "docs/held.txt", "single.txt", "other/c.txt")}
    s3.put_object_legal_hold(Bucket=bucket, Key="docs/held.txt", VersionId=plain["docs/held.txt"],
                             LegalHold={"Status": "ON"}, ChecksumAlgorithm="CRC32")
    sign_in(page, console)

    # One object: Edit server-side encryption, then the overview says the clear version still exists.
    page.goto(f"{console.url}/buckets/{bucket}/object/encryption?key=single.txt")
    page.get_by_label("Enable", exact=True).check()
    page.get_by_label(re.compile(r"Amazon S3 key \(SSE-S3\)")).check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text(re.compile("The older version still exists")).wait_for()
    card = page.locator("[data-cleartext]")
    assert "Unencrypted older version still exists" in card.inner_text()
    shot(page, "console-unencrypted-older-version")
    page.once("dialog", lambda d: d.accept())
    card.get_by_role("button", name=f"Delete unencrypted version {plain['single.txt']}").click()
    page.get_by_text(f"Permanently deleted version {plain['single.txt']} of single.txt.").wait_for()
    assert page.locator("[data-cleartext]").count() == 0
    left = versions_of(s3, bucket, "single.txt")
    assert len(left) == 1 and s3.head_object(Bucket=bucket, Key="single.txt")["ServerSideEncryption"] == "AES256"

    # A folder: encrypt it as a job, then the job offers to delete the unencrypted older versions.
    page.goto(f"{console.url}/buckets/{bucket}")
    choose_rows(page, ["docs/"])
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Edit server-side encryption").click()
    page.get_by_label("Enable", exact=True).check()
    page.get_by_label(re.compile(r"Amazon S3 key \(SSE-S3\)")).check()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    wait_for_job_end(page)  # no reload: the page shows the offer when the job ends
    offer = page.locator("[data-offer-purge]")
    assert "unencrypted older version still exists" in offer.inner_text()
    offer.get_by_role("button", name="Delete unencrypted older versions").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    page.get_by_role("heading", name="Delete unencrypted older versions").wait_for()
    wait_for_job_end(page)
    page.locator("[data-job-skipped-items]").wait_for()  # listed as the job ends
    assert page.locator("[data-job-succeeded]").inner_text() == "2"
    assert page.locator("[data-job-skipped]").inner_text() == "1"
    kept = page.locator("[data-job-skipped-items]").inner_text()
    assert "docs/held.txt" in kept and "legal hold" in kept
    shot(page, "console-purge-job")
    for key in ("docs/a.txt", "docs/b.txt"):
        assert plain[key] not in ids(s3, bucket, key) and len(versions_of(s3, bucket, key)) == 1
    assert plain["docs/held.txt"] in ids(s3, bucket, "docs/held.txt")  # the locked version is still there
    assert plain["other/c.txt"] in ids(s3, bucket, "other/c.txt")  # outside the selection: untouched

    # From the Actions menu of the objects list (nothing left to delete under docs/ now but the held one).
    page.goto(f"{console.url}/buckets/{bucket}")
    choose_rows(page, ["other/"])
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Clean up unencrypted older versions").click()
    page.get_by_role("heading", name="Delete unencrypted older versions").wait_for()
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Delete unencrypted older versions").click()
    wait_for_job_end(page)
    page.reload()
    assert page.locator("[data-job-total]").inner_text() == "0"  # other/c.txt has no older version
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    show_versions(page, console, bucket)  # a bucket with locks, on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert plain["other/c.txt"] in ids(s3, bucket, "other/c.txt")


def test_versions_page_on_a_phone(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("versphone")
    versioned_bucket(s3, bucket, b"1", b"22", key="a-rather-long-file-name-for-a-phone-screen.txt")
    sign_in(page, console)
    page.set_viewport_size(PHONE)
    show_versions(page, console, bucket)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_versions_pages_refuse_the_unauthorised(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("versauth")
    v1, _ = versioned_bucket(s3, bucket, b"1", b"2")
    _, access_key, secret = add_user(console.server)
    sign_in(page, console, access_key, secret)
    response = page.goto(f"{console.url}/buckets/{bucket}/versions")
    assert response is not None and response.status == 403
    # A form post without the session's CSRF token is refused; a signed-out one too.
    s, _token = http_session(console)
    r = s.post(f"{console.url}/buckets/{bucket}/versions/delete", data={"key": "k", "versionId": v1}, timeout=30)
    assert r.status_code == 403 and "CSRF" in r.text
    r = requests.post(f"{console.url}/buckets/{bucket}/versions/restore", data={"key": "k", "versionId": v1},
                      timeout=30, allow_redirects=False)
    assert r.status_code == 401
    assert v1 in ids(s3, bucket, "k")
    # The user's own attempts through the console are refused by the service (no permission).
    user, token = http_session(console, access_key, secret)
    r = user.post(f"{console.url}/buckets/{bucket}/versions/delete", data={"csrf": token, "key": "k", "versionId": v1},
                  timeout=30)
    assert "not deleted" in r.text or "Could not delete" in r.text
    assert v1 in ids(s3, bucket, "k")

    # A version form returns only to a page of this console.
    root, root_token = s, _token
    r = root.post(f"{console.url}/buckets/{bucket}/versions/restore", timeout=30, allow_redirects=False,
                  data={"csrf": root_token, "key": "k", "versionId": v1, "back": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/buckets"


def test_a_purge_job_of_a_user_without_delete_permission_fails_each_item(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("purgeauth")
    v1, _ = versioned_bucket(s3, bucket, b"clear", b"newer")
    name, access_key, secret = add_user(console.server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": name}, "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
         "Resource": [f"arn:aws:s3:::{bucket}"]}]}))
    user, token = http_session(console, access_key, secret)
    r = user.post(f"{console.url}/buckets/{bucket}/jobs", data={"csrf": token, "op": "purge", "sel": "k:k"},
                  timeout=30, allow_redirects=False)
    assert r.status_code == 303, r.text
    status_url = console.url + r.headers["location"] + "/status"
    deadline = time.monotonic() + 60
    while (status := user.get(status_url, timeout=30).json())["state"] in ("listing", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert (status["total"], status["failed"], status["succeeded"]) == (1, 1, 0), status
    assert "You are not allowed to permanently delete k" in status["failures"][0]["reason"]
    assert v1 in ids(s3, bucket, "k")


def test_the_versions_list_pages_and_finds(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("verspages")
    many = versioned_bucket(s3, bucket, *(f"v{i}".encode() for i in range(103)), key="logs/app.log")
    s3.put_object(Bucket=bucket, Key="logs/other.txt", Body=b"x")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/versions?prefix=logs/")
    assert page.locator("tr[data-version]").count() == 100
    assert page.locator("[data-page]").inner_text() == "Page 1 of 2"
    assert "104 versions and delete markers" in page.locator("[data-folder-counts]").inner_text()
    page.get_by_role("link", name="Next page »").click()
    assert page.locator("tr[data-version]").count() == 4
    assert row(page, many[0]).count() == 1  # the oldest version is last
    # A delete on page 2 comes back to page 2.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Permanently delete version {many[0]} of app.log").click()
    page.get_by_text(f"Permanently deleted version {many[0]} of logs/app.log.").wait_for()
    assert page.locator("[data-page]").inner_text() == "Page 2 of 2"
    assert many[0] not in ids(s3, bucket, "logs/app.log")
    page.get_by_label("Find by name in this folder").fill("other")
    page.get_by_label("Find by name in this folder").press("Enter")
    page.wait_for_url(re.compile("find=other"))
    assert page.locator("tr[data-version]").count() == 1
    assert page.locator("tr[data-key='logs/other.txt']").count() == 1

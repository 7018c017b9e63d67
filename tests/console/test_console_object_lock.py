"""Object Lock in the console: chosen at bucket creation or enabled later on a versioned bucket (as AWS
allows), a default retention; one version's retention and legal hold on its overview — COMPLIANCE
never shortened, GOVERNANCE only with s3:BypassGovernanceRetention, as the service enforces."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in
from tests.s3.test_bucket_policy import add_user
from tests.support import unique_bucket

SOON = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(days=10)  # the form has minutes


def lock_card(page: Any) -> Any:
    return page.locator("#object-lock")


def overview(page: Any, console: Console, bucket: str, key: str, version_id: str | None = None) -> None:
    page.goto(f"{console.url}/buckets/{bucket}/object?key={key}" + (f"&versionId={version_id}" if version_id else ""))
    page.get_by_role("heading", name="Object overview").wait_for()


def set_retention(page: Any, mode: str, when: dt.datetime) -> None:
    form = page.locator("[data-retention-form]")
    form.get_by_label("Retention mode").select_option(mode)
    form.get_by_label("Retain until date (UTC)").fill(when.strftime("%Y-%m-%d"))
    form.get_by_label("Time (UTC)").fill(when.strftime("%H:%M"))
    form.get_by_role("button", name="Save retention").click()


def test_object_lock_at_creation_and_on_an_existing_bucket(page: Any, console: Console) -> None:
    s3 = console.s3()
    sign_in(page, console)
    created = unique_bucket("olnew")
    form = page.locator("details.create")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label("Bucket name").fill(created)
    form.get_by_label(re.compile("Object Lock")).check()
    form.get_by_role("button", name="Create bucket").click()
    page.get_by_text(f"Created bucket '{created}'.").wait_for()
    assert s3.get_object_lock_configuration(Bucket=created)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    assert s3.get_bucket_versioning(Bucket=created)["Status"] == "Enabled"

    # An existing bucket: refused while versioning is off (AWS's InvalidBucketState), then enabled.
    bucket = unique_bucket("olold")
    s3.create_bucket(Bucket=bucket)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    assert page.locator("#object-lock-state").inner_text() == "Disabled"
    page.once("dialog", lambda d: d.accept())
    lock_card(page).get_by_role("button", name="Enable Object Lock").click()
    page.get_by_text(re.compile("Versioning must be 'Enabled' on the bucket.*InvalidBucketState")).wait_for()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    page.reload()
    page.once("dialog", lambda d: d.accept())
    lock_card(page).get_by_role("button", name="Enable Object Lock").click()
    page.get_by_text("Object Lock is enabled, with no default retention.").wait_for()
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}

    # Default retention: bad period refused, then COMPLIANCE 2 years, then back to none.
    card = lock_card(page)
    card.get_by_label("Enable", exact=True).check()
    card.get_by_label("Default retention period").fill("0")
    card.get_by_role("button", name="Save changes").click()
    page.get_by_text(re.compile("Default retention period must be a positive integer value")).wait_for()
    card = lock_card(page)
    card.get_by_label("Enable", exact=True).check()
    card.get_by_label("Compliance").check()
    card.get_by_label("Default retention period").fill("2")
    card.get_by_label("Unit").select_option("Years")
    shot(page, "console-object-lock-bucket")
    card.get_by_role("button", name="Save changes").click()
    page.get_by_text("Object Lock is enabled, with default retention COMPLIANCE, 2 years.").wait_for()
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}}
    assert "COMPLIANCE 2 years" in page.locator("#object-lock-state").inner_text()
    card = lock_card(page)
    card.get_by_label("Disable", exact=True).check()
    card.get_by_role("button", name="Save changes").click()
    page.get_by_text("Object Lock is enabled, with no default retention.").wait_for()
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_retention_and_legal_hold_of_a_version(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = "acme-backups"  # a readable name: this page is the README's screenshot
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    v1 = s3.put_object(Bucket=bucket, Key="backup.tar", Body=b"v1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="backup.tar", Body=b"v2")
    sign_in(page, console)
    overview(page, console, bucket, "backup.tar", v1)
    assert lock_card(page).locator("[data-retention]").inner_text() == "None"

    # GOVERNANCE, then shortened by root (who has s3:BypassGovernanceRetention; the console asks to bypass).
    set_retention(page, "GOVERNANCE", SOON)
    page.get_by_text("Retention saved: GOVERNANCE.").wait_for()
    got = s3.get_object_retention(Bucket=bucket, Key="backup.tar", VersionId=v1)["Retention"]
    assert got["Mode"] == "GOVERNANCE" and got["RetainUntilDate"] == SOON
    set_retention(page, "GOVERNANCE", SOON - dt.timedelta(days=5))
    page.get_by_text("Retention saved: GOVERNANCE.").wait_for()
    assert s3.get_object_retention(Bucket=bucket, Key="backup.tar", VersionId=v1)["Retention"]["RetainUntilDate"] == \
        SOON - dt.timedelta(days=5)

    # COMPLIANCE: extended fine, never shortened nor removed.
    set_retention(page, "COMPLIANCE", SOON)
    page.get_by_text("Retention saved: COMPLIANCE.").wait_for()
    set_retention(page, "COMPLIANCE", SOON - dt.timedelta(days=1))
    page.get_by_text(re.compile("Retention not saved: Object Lock: a retention in force cannot be shortened")).wait_for()
    form = page.locator("[data-retention-form]")
    form.get_by_label("Retention mode").select_option("")
    form.get_by_role("button", name="Save retention").click()
    page.get_by_text(re.compile("Retention not saved")).wait_for()
    got = s3.get_object_retention(Bucket=bucket, Key="backup.tar", VersionId=v1)["Retention"]
    assert got["Mode"] == "COMPLIANCE" and got["RetainUntilDate"] == SOON
    # A date in the past: AWS's message.
    set_retention(page, "COMPLIANCE", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    page.get_by_text(re.compile("The retain until date must be in the future")).wait_for()

    # Legal hold on and off.
    hold = page.locator("[data-legal-hold-form]")
    hold.get_by_label("Enable").check()
    hold.get_by_role("button", name="Save legal hold").click()
    page.get_by_text("Legal hold enabled.").wait_for()
    assert s3.get_object_legal_hold(Bucket=bucket, Key="backup.tar", VersionId=v1)["LegalHold"]["Status"] == "ON"
    assert lock_card(page).locator("[data-legal-hold]").inner_text() == "On"
    shot(page, "console-object-lock-object")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 800})
    hold = page.locator("[data-legal-hold-form]")
    hold.get_by_label("Disable").check()
    hold.get_by_role("button", name="Save legal hold").click()
    page.get_by_text("Legal hold disabled.").wait_for()
    assert s3.get_object_legal_hold(Bucket=bucket, Key="backup.tar", VersionId=v1)["LegalHold"]["Status"] == "OFF"
    audit = [line for line in console.server.log().splitlines() if "sealbox.audit" in line and bucket in line]
    assert any("object.retention.put" in line and v1 in line for line in audit)
    assert any("object.legal_hold.put" in line and "legal hold of" in line for line in audit)


def test_governance_needs_the_bypass_permission_and_others_are_refused(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("olgov")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = SOON
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=until, ChecksumAlgorithm="CRC32")["VersionId"]
    name, access_key, secret = add_user(console.server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": name},
         "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion",
                    "s3:PutObjectRetention", "s3:GetBucketObjectLockConfiguration"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    sign_in(page, console, access_key, secret)
    overview(page, console, bucket, "k", version)
    assert "Not visible to you" in lock_card(page).locator("[data-retention]").inner_text()  # no s3:GetObjectRetention
    set_retention(page, "GOVERNANCE", until - dt.timedelta(days=3))
    page.get_by_text(re.compile("Retention not saved.*s3:BypassGovernanceRetention")).wait_for()
    set_retention(page, "GOVERNANCE", until + dt.timedelta(days=3))  # extending needs no bypass
    page.get_by_text("Retention saved: GOVERNANCE.").wait_for()
    assert s3.get_object_retention(Bucket=bucket, Key="k", VersionId=version)["Retention"]["RetainUntilDate"] == \
        until + dt.timedelta(days=3)
    # The user may not hold it, nor change the bucket's configuration.
    user, token = http_session(console, access_key, secret)
    r = user.post(f"{console.url}/buckets/{bucket}/object/legal-hold", timeout=30,
                  data={"csrf": token, "key": "k", "versionId": version, "status": "ON"})
    assert "Legal hold not saved" in r.text and "AccessDenied" in r.text
    r = user.post(f"{console.url}/buckets/{bucket}/object-lock", timeout=30,
                  data={"csrf": token, "retention": "enable", "mode": "COMPLIANCE", "period": "1", "unit": "Days"})
    assert "Object Lock not saved" in r.text
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    r = user.post(f"{console.url}/buckets/{bucket}/object/legal-hold", timeout=30,
                  data={"key": "k", "versionId": version, "status": "ON"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k", VersionId=version)["LegalHold"]["Status"] == "OFF"


def test_empty_bucket_keeps_locked_versions_and_says_why(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("olempty")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    kept = s3.put_object(Bucket=bucket, Key="ledger", Body=b"x", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=SOON, ChecksumAlgorithm="CRC32")["VersionId"]
    governed = s3.put_object(Bucket=bucket, Key="draft", Body=b"y", ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=SOON, ChecksumAlgorithm="CRC32")["VersionId"]
    s3.put_object(Bucket=bucket, Key="free", Body=b"z")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    empty = page.locator("section", has=page.get_by_role("heading", name="Empty bucket"))
    empty.get_by_label("To confirm, type the bucket name").fill(bucket)
    empty.get_by_role("button", name="Empty bucket").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    page.locator("[data-job][data-state=done]").wait_for(timeout=60_000)
    assert page.locator("[data-job-state]").inner_text() == "Completed with errors"
    failures = page.locator("[data-job-failure-rows]")
    failures.get_by_text(re.compile("COMPLIANCE retention until")).wait_for()
    assert "GOVERNANCE retention until" in failures.inner_text() and "does not bypass" in failures.inner_text()
    left = {v["VersionId"] for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])}
    assert left == {kept, governed}  # the unlocked object went; both locked versions are still there

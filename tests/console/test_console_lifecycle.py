"""Lifecycle rules in the console: listed, added, edited and deleted from the bucket's Properties;
what is entered is what GetBucketLifecycleConfiguration answers; bad rules are refused with AWS's
messages (the service layer's validation), the form kept as entered."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in
from tests.s3.test_bucket_policy import add_user
from tests.support import unique_bucket


def open_lifecycle(page: Any, console: Console, bucket: str) -> None:
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    page.get_by_role("link", name=re.compile("lifecycle rule", re.I)).click()
    page.get_by_role("heading", name=re.compile("^Lifecycle rules")).wait_for()


def new_rule(page: Any) -> None:
    page.get_by_role("link", name="Create lifecycle rule").click()
    page.get_by_role("heading", name="Create lifecycle rule").wait_for()


def test_lifecycle_rules_added_edited_and_deleted(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = "acme-logs"  # a readable name: this page is the README's screenshot
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    assert page.locator("#lifecycle-summary").inner_text() == "None"
    open_lifecycle(page, console, bucket)
    assert "no lifecycle rules" in page.locator("#lifecycle-state").inner_text()

    # Rule 1: logs/ tagged temp=yes, larger than 1 KB: expire after 30 days, noncurrent after 7 keeping 2.
    new_rule(page)
    page.get_by_label("Lifecycle rule name").fill("expire-logs")
    page.get_by_label("Limit the scope of this rule using one or more filters").check()
    page.get_by_label("Prefix").fill("logs/")
    page.get_by_label("Object tags (key=value, one a line)").fill("temp=yes")
    page.get_by_label("Minimum object size (bytes)").fill("1024")
    page.get_by_label("Expire current versions of objects").check()
    page.get_by_label("Days after object creation", exact=True).fill("30")
    page.get_by_label("Permanently delete noncurrent versions of objects").check()
    page.get_by_label("Days after objects become noncurrent").fill("7")
    page.get_by_label("Number of newer versions to retain (optional)").fill("2")
    shot(page, "console-lifecycle-rule", full_page=False)
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("Saved lifecycle rule 'expire-logs'.").wait_for()

    # Rule 2: the whole bucket: expired delete markers and stale multipart uploads.
    new_rule(page)
    page.get_by_label("Lifecycle rule name").fill("cleanup")
    page.get_by_label("Delete expired object delete markers").check()
    page.get_by_label("Delete incomplete multipart uploads").check()
    page.get_by_label("Days after initiation").fill("3")
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("Saved lifecycle rule 'cleanup'.").wait_for()

    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-logs"] == {
        "ID": "expire-logs", "Status": "Enabled",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "temp", "Value": "yes"}], "ObjectSizeGreaterThan": 1024}},
        "Expiration": {"Days": 30},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}}
    assert rules["cleanup"] == {"ID": "cleanup", "Status": "Enabled", "Filter": {},
                                "Expiration": {"ExpiredObjectDeleteMarker": True},
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}}
    table = page.locator("#lifecycle-rules").inner_text()
    assert "Prefix logs/, tag temp=yes, size > 1,024 bytes" in table
    assert "Expire current versions after 30 days" in table and "Delete incomplete multipart uploads after 3 days" in table
    shot(page, "console-lifecycle")

    # Edit rule 1: disabled, expire on a date instead of after days; the form shows what is stored.
    page.get_by_role("link", name="Edit rule expire-logs").click()
    page.get_by_role("heading", name="Edit lifecycle rule").wait_for()
    assert page.get_by_label("Prefix").input_value() == "logs/"
    assert page.get_by_label("Days after objects become noncurrent").input_value() == "7"
    page.get_by_label("Disabled").check()
    page.get_by_label("On a date").check()
    page.get_by_label("Date (midnight UTC)").fill("2031-01-01")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved lifecycle rule 'expire-logs'.").wait_for()
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-logs"]["Status"] == "Disabled"
    assert rules["expire-logs"]["Expiration"]["Date"].isoformat().startswith("2031-01-01T00:00:00")
    assert len(rules) == 2

    # Delete both rules: the configuration goes with the last one.
    for rule_id in ("cleanup", "expire-logs"):
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name=f"Delete rule {rule_id}").click()
        page.get_by_text(f"Deleted lifecycle rule '{rule_id}'.").wait_for()
    with pytest.raises(ClientError) as err:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    audit = [line for line in console.server.log().splitlines() if "sealbox.audit" in line and bucket in line]
    assert any("bucket.lifecycle.put" in line and "lifecycle rule expire-logs of" in line for line in audit)
    assert any("bucket.lifecycle.delete" in line and "lifecycle rule expire-logs of" in line for line in audit)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"days": "0"}, "'Days' for Expiration action must be a positive integer"),
    ({"days": "ten"}, "Days after object creation must be a whole number."),
    ({"tags": "temp=yes", "markers": True, "current": False}, "ExpiredObjectDeleteMarker cannot be specified with tags."),
    ({"markers": True}, "cannot be chosen with"),
    ({"noncurrent": "0"}, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ({"newer": "101"}, "NewerNoncurrentVersions must be between 1 and 100"),
    ({"size": ("5000", "100")}, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"),
    ({"current": False}, "At least one action needs to be specified in a rule"),
    ({"date": "2031-01-01", "scope": "empty"}, "Limit the rule's scope with a prefix"),
    ({"name": ""}, "Enter a lifecycle rule name."),
]


def test_bad_rules_are_refused_with_the_reason(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("lcbad")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 5}}]})
    sign_in(page, console)
    open_lifecycle(page, console, bucket)
    for case, reason in BAD:
        new_rule(page)
        page.get_by_label("Lifecycle rule name").fill(str(case.get("name", "bad")))
        page.get_by_label("Limit the scope of this rule using one or more filters").check()
        if case.get("scope") != "empty":
            page.get_by_label("Prefix").fill("x/")
        if "tags" in case:
            page.get_by_label("Object tags (key=value, one a line)").fill(str(case["tags"]))
        if "size" in case:
            gt, lt = case["size"]
            page.get_by_label("Minimum object size (bytes)").fill(gt)
            page.get_by_label("Maximum object size (bytes)").fill(lt)
        if case.get("current", True):
            page.get_by_label("Expire current versions of objects").check()
            if "date" in case:
                page.get_by_label("On a date").check()
                page.get_by_label("Date (midnight UTC)").fill(str(case["date"]))
            else:
                page.get_by_label("Days after object creation", exact=True).fill(str(case.get("days", "1")))
        if case.get("markers"):
            page.get_by_label("Delete expired object delete markers").check()
        if "noncurrent" in case or "newer" in case:
            page.get_by_label("Permanently delete noncurrent versions of objects").check()
            page.get_by_label("Days after objects become noncurrent").fill(str(case.get("noncurrent", "3")))
            page.get_by_label("Number of newer versions to retain (optional)").fill(str(case.get("newer", "")))
        page.get_by_role("button", name="Create rule").click()
        error = page.locator("#rule-error")
        error.wait_for()
        assert reason in error.inner_text(), (case, error.inner_text())
        assert page.get_by_label("Lifecycle rule name").input_value() == str(case.get("name", "bad"))  # kept
        page.goto(f"{console.url}/buckets/{bucket}/lifecycle")
    # An overlapping prefix-only rule with the same action: AWS's InvalidRequest.
    new_rule(page)
    page.get_by_label("Lifecycle rule name").fill("overlap")
    page.get_by_label("Limit the scope of this rule using one or more filters").check()
    page.get_by_label("Prefix").fill("logs/")
    page.get_by_label("Expire current versions of objects").check()
    page.get_by_label("Days after object creation", exact=True).fill("9")
    page.get_by_role("button", name="Create rule").click()
    assert "Found overlapping prefixes" in page.locator("#rule-error").inner_text()
    shot(page, "lifecycle-rule-refused")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["all"]  # nothing else was stored


def test_lifecycle_pages_on_a_phone_and_refused_to_others(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("lcauth")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "a-long-rule-name-that-must-wrap-on-a-small-screen", "Status": "Enabled",
         "Filter": {"Prefix": "some/rather/deep/folder/structure/"}, "Expiration": {"Days": 5}}]})
    sign_in(page, console)
    page.set_viewport_size(PHONE)
    open_lifecycle(page, console, bucket)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("link", name="Create lifecycle rule").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    name, access_key, secret = add_user(console.server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": name}, "Action": ["s3:ListBucket", "s3:GetLifecycleConfiguration"],
         "Resource": [f"arn:aws:s3:::{bucket}"]}]}))
    user, token = http_session(console, access_key, secret)
    assert "a-long-rule-name" in user.get(f"{console.url}/buckets/{bucket}/lifecycle", timeout=30).text  # may read
    r = user.post(f"{console.url}/buckets/{bucket}/lifecycle/rule", timeout=30,
                  data={"csrf": token, "id": "mine", "status": "Enabled", "scope": "all", "act_abort": "on",
                        "abort_days": "1"})
    assert r.status_code == 403  # AccessDenied: may not put
    r = user.post(f"{console.url}/buckets/{bucket}/lifecycle/delete", timeout=30,
                  data={"csrf": token, "id": "a-long-rule-name-that-must-wrap-on-a-small-screen"})
    assert "Could not delete lifecycle rule" in r.text
    r = user.post(f"{console.url}/buckets/{bucket}/lifecycle/rule", timeout=30,
                  data={"id": "mine", "status": "Enabled", "scope": "all", "act_abort": "on", "abort_days": "1"})
    assert r.status_code == 403 and "CSRF" in r.text
    _, other_key, other_secret = add_user(console.server)
    stranger, stranger_token = http_session(console, other_key, other_secret)
    assert stranger.get(f"{console.url}/buckets/{bucket}/lifecycle", timeout=30).status_code == 403
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["a-long-rule-name-that-must-wrap-on-a-small-screen"]

"""Tags in the console: an object's tags on its overview, editable; a bucket's tags in its properties."""

from __future__ import annotations

import json
from typing import Any

from tests.console.conftest import Console, shot, sign_in
from tests.s3.test_bucket_policy import add_user
from tests.support import unique_bucket


def overview(page: Any, console: Console, bucket: str, key: str) -> None:
    page.goto(f"{console.url}/buckets/{bucket}/object?key={key}")


def tags_card(page: Any) -> Any:
    return page.locator("section", has=page.get_by_role("heading", name="Tags"))


def test_object_tags_are_shown_and_edited_on_the_overview(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("tags")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"x", Tagging="project=apollo&stage=draft")
    sign_in(page, console)
    overview(page, console, bucket, "doc.txt")
    card = tags_card(page)
    assert card.locator("[data-tag-count]").inner_text() == "2"
    assert "apollo" in card.locator("table[data-tags]").inner_text()
    card.locator("summary", has_text="Edit tags").click()
    card.get_by_label("Tag value 2").fill("final")  # stage
    card.get_by_label("Tag key 1").fill("")  # an emptied row removes project
    card.get_by_label("Tag value 1").fill("")
    card.get_by_label("Tag key 3").fill("Owner ü")
    card.get_by_label("Tag value 3").fill("team-7")
    card.get_by_role("button", name="Save tags").click()
    page.get_by_text("Saved 2 tags.").wait_for()
    tags = s3.get_object_tagging(Bucket=bucket, Key="doc.txt")["TagSet"]
    assert tags == [{"Key": "stage", "Value": "final"}, {"Key": "Owner ü", "Value": "team-7"}]
    shot(page, "object-tags")
    # A rule of a tag set is reported, and nothing changes.
    tags_card(page).locator("summary", has_text="Edit tags").click()
    tags_card(page).get_by_label("Tag key 3").fill("aws:reserved")
    tags_card(page).get_by_label("Tag value 3").fill("x")
    tags_card(page).get_by_role("button", name="Save tags").click()
    page.get_by_text("Your TagKey cannot be prefixed with aws:").wait_for()
    assert len(s3.get_object_tagging(Bucket=bucket, Key="doc.txt")["TagSet"]) == 2


def test_tags_of_an_older_version(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("vtags")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/object?key=k&versionId={old}")
    card = tags_card(page)
    assert "1" in card.locator("table[data-tags]").inner_text()
    card.locator("summary", has_text="Edit tags").click()
    card.get_by_label("Tag value 1").fill("one")
    card.get_by_role("button", name="Save tags").click()
    page.get_by_text("Saved 1 tag.").wait_for()
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"] == [{"Key": "v", "Value": "one"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "v", "Value": "2"}]


def test_tags_follow_the_bucket_policy(page: Any, console: Console) -> None:
    """A user who may read an object but not its tags sees that, not an error page."""
    s3 = console.s3()
    bucket = unique_bucket("ptags")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="secret=1")
    name, access_key, secret = add_user(console.server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": name}, "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    sign_in(page, console, access_key, secret)
    overview(page, console, bucket, "k")
    assert "permission to read the tags" in tags_card(page).inner_text()


def test_bucket_tags_in_properties(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("btags")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/properties")
    card = tags_card(page)
    assert "No tags." in card.inner_text()
    card.locator("summary", has_text="Edit tags").click()
    card.get_by_label("Tag key 1").fill("cost-center")
    card.get_by_label("Tag value 1").fill("42")
    card.get_by_role("button", name="Save tags").click()
    page.get_by_text("Saved 1 bucket tag.").wait_for()
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "cost-center", "Value": "42"}]
    shot(page, "bucket-tags")
    tags_card(page).locator("summary", has_text="Edit tags").click()
    tags_card(page).get_by_label("Tag key 1").fill("")
    tags_card(page).get_by_label("Tag value 1").fill("")
    tags_card(page).get_by_role("button", name="Save tags").click()
    page.get_by_text("Removed the bucket's tags.").wait_for()
    assert "No tags." in tags_card(page).inner_text()

"""A bucket's Permissions tab in the console: Block Public Access, the bucket policy (validated as
PutBucketPolicy validates it), Object Ownership and the bucket ACL; an object's ACL on its overview;
the Buckets list's Access column. Every change is checked through the S3 API with boto3."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in
from tests.console.perms_support import add_user, fits_phone
from tests.support import unique_bucket

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
EVERYONE = "Everyone (public access)"


def public_read(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}, indent=2)


def open_permissions(page: Any, console: Console, bucket: str) -> None:
    page.goto(f"{console.url}/buckets/{bucket}")
    page.get_by_role("link", name="Permissions").click()
    page.get_by_role("heading", name="Bucket policy").wait_for()


def access_in_list(page: Any, console: Console, bucket: str) -> str:
    page.goto(f"{console.url}/buckets")
    row = page.locator("tr", has=page.get_by_role("link", name=bucket, exact=True))
    return str(row.locator("[data-access]").inner_text())


def section(page: Any, heading: str) -> Any:
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def anonymous_get(console: Console, bucket: str, key: str) -> int:
    try:
        with urllib.request.urlopen(f"{console.server.endpoint}/{bucket}/{key}", timeout=30) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_bucket_policy_is_edited_validated_and_deleted(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("policy")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    sign_in(page, console)
    assert access_in_list(page, console, bucket) == "Objects can be public"
    open_permissions(page, console, bucket)
    assert page.locator("[data-policy-state]").inner_text() == "No policy to display."
    page.get_by_role("link", name="Edit bucket policy").click()
    editor = page.get_by_label("Bucket policy")
    cases = [
        ("   ", "Enter a policy, or delete the one the bucket has."),
        ('{"Version": "2012-10-17", "Statement": [', "This policy contains invalid Json (MalformedPolicy)."),
        ('{"Version": "2012-10-17"}', "Missing required field Statement (MalformedPolicy)."),
        (public_read(bucket).replace('"PublicRead"', '"' + "x" * 21_000 + '"'),
         "Policy exceeds the maximum allowed document size (MalformedPolicy)."),
        (public_read(bucket).replace("s3:GetObject", "s3:GetObjectz"), "Policy has invalid action (MalformedPolicy)."),
        (public_read("some-other-bucket"), "Policy has invalid resource (MalformedPolicy)."),
    ]
    for text, message in cases:
        editor.fill(text)
        page.get_by_role("button", name="Save changes").click()
        alert = page.locator("#policy-error")
        alert.wait_for()
        assert message in alert.inner_text(), (text, alert.inner_text())
        assert editor.input_value() == text  # what was typed is still there to fix
    shot(page, "bucket-policy-invalid")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchBucketPolicy"

    editor.fill(public_read(bucket))
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the bucket policy.").wait_for()
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(public_read(bucket))
    assert json.loads(page.locator("[data-policy]").inner_text()) == json.loads(public_read(bucket))
    assert page.locator("[data-access]").inner_text() == "Public"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert anonymous_get(console, bucket, "hello.txt") == 200
    assert access_in_list(page, console, bucket) == "Public"

    page.goto(f"{console.url}/buckets/{bucket}/permissions/policy")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete bucket policy").click()
    page.get_by_text("Deleted the bucket policy.").wait_for()
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    assert anonymous_get(console, bucket, "hello.txt") == 403
    log = console.server.log()
    assert '"event": "bucket.policy.put"' in log and '"via": "console"' in log
    assert '"event": "bucket.policy.delete"' in log


def test_block_public_access_flags_are_saved_and_enforced(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("bpa")
    s3.create_bucket(Bucket=bucket)
    sign_in(page, console)
    open_permissions(page, console, bucket)
    card = section(page, "Block public access (bucket settings)")
    assert card.locator("[data-block-all]").inner_text() == "Off"
    labels = ["granted through new access control lists", "granted through any access control lists",
              "granted through new public bucket or access point policies",
              "through any public bucket or access point policies"]
    for label in labels:
        card.get_by_label(label, exact=False).check()
    card.get_by_role("button", name="Save Block Public Access").click()
    page.get_by_text("Block all public access is on.").wait_for()
    flags = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert flags == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    assert page.locator("[data-access]").inner_text() == "Bucket and objects not public"
    shot(page, "bucket-permissions")

    # BlockPublicPolicy: a public policy is refused, and the editor says why.
    page.get_by_role("link", name="Edit bucket policy").click()
    page.get_by_label("Bucket policy").fill(public_read(bucket))
    page.get_by_role("button", name="Save changes").click()
    alert = page.locator("#policy-error")
    alert.wait_for()
    assert "Block Public Access refuses that (BlockPublicPolicy" in alert.inner_text()
    assert "(AccessDenied)" in alert.inner_text()
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)

    open_permissions(page, console, bucket)
    card = section(page, "Block public access (bucket settings)")
    card.get_by_label(labels[2], exact=False).uncheck()
    card.get_by_label(labels[3], exact=False).uncheck()
    card.get_by_role("button", name="Save Block Public Access").click()
    page.get_by_text("Saved Block Public Access (2 of 4 settings on).").wait_for()
    flags = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert flags == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                     "RestrictPublicBuckets": False}
    assert page.locator("[data-access]").inner_text() == "Objects can be public"
    assert '"event": "bucket.public_access_block.put"' in console.server.log()


def _acl_row(page: Any, label: str) -> Any:
    return page.locator("tr", has=page.get_by_text(label, exact=True))


def test_bucket_acl_and_object_ownership(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("acl")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    sign_in(page, console)
    open_permissions(page, console, bucket)
    assert page.locator("[data-ownership]").inner_text() == "Object writer (ACLs enabled)"
    page.get_by_role("link", name="Edit ACL").click()
    page.get_by_label(f"{EVERYONE}: Objects List").check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the bucket ACL.").wait_for()
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert any(g["Permission"] == "FULL_CONTROL" and g["Grantee"].get("ID") for g in grants)  # the owner kept
    assert _acl_row(page, EVERYONE).locator("[data-perm=READ]").inner_text() == "Yes"
    assert page.locator("[data-access]").inner_text() == "Public"
    shot(page, "bucket-permissions-acl")

    # ACLs disabled while the ACL grants others: refused as the API refuses it.
    section(page, "Object Ownership").get_by_label("ACLs disabled (recommended)", exact=False).check()
    page.get_by_role("button", name="Save Object Ownership").click()
    alert = page.locator(".flash-error")
    alert.wait_for()
    assert "(InvalidBucketAclWithObjectOwnership)" in alert.inner_text()
    assert "Remove the bucket ACL's grants to others first." in alert.inner_text()
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]

    # Bad grantees are refused with S3's own message; nothing changes.
    page.get_by_role("link", name="Edit ACL").click()
    page.get_by_label("Grantee canonical ID").fill("0" * 64)
    page.get_by_label("Another user: Objects List").check()
    page.get_by_role("button", name="Save changes").click()
    assert "Invalid id (" + "0" * 64 + ") (InvalidArgument)." in page.locator(".flash-error").inner_text()
    page.get_by_label("Another user: Objects List").check()  # the box only: no grantee named
    page.get_by_role("button", name="Save changes").click()
    assert "Enter the canonical ID of the grantee" in page.locator(".flash-error").inner_text()
    page.get_by_label(f"{EVERYONE}: Objects List").uncheck()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the bucket ACL.").wait_for()
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])

    section(page, "Object Ownership").get_by_label("ACLs disabled (recommended)", exact=False).check()
    page.get_by_role("button", name="Save Object Ownership").click()
    page.get_by_text("Object Ownership: Bucket owner enforced (ACLs disabled).").wait_for()
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    acl_card = section(page, "Access control list (ACL)")
    assert "use bucket policies to control access" in acl_card.locator("[data-acl-disabled]").inner_text()
    assert acl_card.get_by_role("link", name="Edit ACL").count() == 0
    page.goto(f"{console.url}/buckets/{bucket}/permissions/acl")
    assert page.locator("[data-acl-form]").count() == 0  # shown, never editable
    assert '"event": "bucket.ownership.put"' in console.server.log()


def test_block_public_acls_refuses_a_public_grant_with_the_reason(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("bpaacl")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerPreferred")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/permissions/acl")
    page.get_by_label(f"{EVERYONE}: Objects List").check()
    page.get_by_role("button", name="Save changes").click()
    alert = page.locator(".flash-error")
    alert.wait_for()
    assert "Block Public Access refuses that (BlockPublicAcls" in alert.inner_text()
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])


def test_an_objects_acl_is_shown_and_edited_on_its_overview(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("objacl")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"read me")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}?prefix=notes/")
    page.get_by_role("link", name="readme.txt").click()
    card = section(page, "Access control list (ACL)")
    owner = card.locator("tr", has=page.get_by_text("(object owner)", exact=False))
    assert owner.locator("[data-perm=READ]").inner_text() == "Yes"
    assert owner.locator("[data-perm=WRITE_ACP]").inner_text() == "Yes"
    assert anonymous_get(console, bucket, "notes/readme.txt") == 403
    card.get_by_role("link", name="Edit ACL").click()
    page.get_by_label(f"{EVERYONE}: Object Read").check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the ACL of notes/readme.txt.").wait_for()
    grants = s3.get_object_acl(Bucket=bucket, Key="notes/readme.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert anonymous_get(console, bucket, "notes/readme.txt") == 200
    section(page, "Access control list (ACL)").scroll_into_view_if_needed()
    shot(page, "object-acl", full_page=False)
    assert '"event": "object.acl.put"' in console.server.log()

    # Under BucketOwnerEnforced (a new bucket's default) the object's ACL is shown, not editable.
    enforced = unique_bucket("objacl")
    s3.create_bucket(Bucket=enforced)
    s3.put_object(Bucket=enforced, Key="x.txt", Body=b"x")
    page.goto(f"{console.url}/buckets/{enforced}/object?key=x.txt")
    card = section(page, "Access control list (ACL)")
    assert "bucket owner enforced" in card.locator("[data-acl-disabled]").inner_text()
    assert card.get_by_role("link", name="Edit ACL").count() == 0


def test_permission_pages_fit_a_phone(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("permsnarrow")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket).replace("PublicRead", "A" * 120))
    s3.put_object(Bucket=bucket, Key="a-rather-long-file-name-for-a-phone-screen (final).txt", Body=b"x")
    page.set_viewport_size(PHONE)
    sign_in(page, console)
    fits_phone(page)
    for path, name in ((f"/buckets/{bucket}/permissions", "permissions-narrow"),
                       (f"/buckets/{bucket}/permissions/policy", "policy-narrow"),
                       (f"/buckets/{bucket}/permissions/acl", "acl-edit-narrow"),
                       (f"/buckets/{bucket}/object?key=a-rather-long-file-name-for-a-phone-screen (final).txt",
                        "object-acl-narrow")):
        page.goto(console.url + path)
        fits_phone(page)
        shot(page, name)


def test_a_user_without_permission_is_refused(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("permsdeny")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"root's")
    pat = add_user(console, "pat-perms")
    sign_in(page, console, pat["access_key"], pat["secret_key"])
    for path in ("/permissions", "/permissions/policy", "/permissions/acl", "/object/acl?key=secret.txt"):
        reply = page.goto(f"{console.url}/buckets/{bucket}{path}")
        assert reply is not None and reply.status == 403, path
        assert "Access Denied" in page.locator("main").inner_text()
    s, csrf = http_session(console, pat["access_key"], pat["secret_key"])
    r = s.post(f"{console.url}/buckets/{bucket}/permissions/policy", data={"csrf": csrf, "policy": public_read(bucket)},
               timeout=30)
    assert r.status_code == 403 and "you have no permission for this (s3:PutBucketPolicy) (AccessDenied)" in r.text
    posts = [("/permissions/public-access", {"block_public_acls": "on"}),
             ("/permissions/ownership", {"ownership": "BucketOwnerEnforced"}),
             ("/permissions/acl", {"grantee": f"uri:{ALL_USERS}", "perm": "0:READ"}),
             ("/object/acl", {"key": "secret.txt", "grantee": f"uri:{ALL_USERS}", "perm": "0:READ"}),
             ("/permissions/policy/delete", {})]
    for path, form in posts:
        r = s.post(f"{console.url}/buckets/{bucket}{path}", data={"csrf": csrf, **form}, timeout=30)
        # Back to a page pat may not see (403), carrying the refusal as its message.
        assert r.history and r.history[0].status_code == 303, path
        assert "(AccessDenied)" in r.text and "You don&#39;t have" not in r.text, (path, r.text)
    # Nothing changed.
    for read in (s3.get_bucket_policy, s3.get_public_access_block):
        with pytest.raises(ClientError):
            read(Bucket=bucket)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])
    assert all(g["Grantee"].get("URI") != ALL_USERS
               for g in s3.get_object_acl(Bucket=bucket, Key="secret.txt")["Grants"])


def test_the_buckets_list_shows_each_buckets_access(page: Any, console: Console) -> None:
    """The four values of the AWS console's Access column (these readable names: the README's screenshot)."""
    s3 = console.s3()
    everything = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                  "RestrictPublicBuckets": True}
    s3.create_bucket(Bucket="acme-website")
    s3.put_bucket_policy(Bucket="acme-website", Policy=public_read("acme-website"))
    s3.create_bucket(Bucket="acme-shared", ObjectOwnership="ObjectWriter")
    s3.create_bucket(Bucket="acme-backups")
    s3.put_public_access_block(Bucket="acme-backups", PublicAccessBlockConfiguration=everything)
    s3.create_bucket(Bucket="acme-intranet")
    s3.put_bucket_policy(Bucket="acme-intranet", Policy=public_read("acme-intranet"))
    s3.put_public_access_block(Bucket="acme-intranet", PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    sign_in(page, console)
    expected = {"acme-website": "Public", "acme-shared": "Objects can be public",
                "acme-backups": "Bucket and objects not public",
                "acme-intranet": "Only authorized users of this account"}
    for bucket, access in expected.items():
        assert access_in_list(page, console, bucket) == access, bucket
    assert s3.get_bucket_policy_status(Bucket="acme-website")["PolicyStatus"]["IsPublic"] is True
    assert anonymous_get(console, "acme-intranet", "nothing") == 403  # restricted: not even NoSuchKey
    shot(page, "buckets-access", full_page=False)


def test_a_user_granted_some_reads_sees_those_parts_only(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("permspart")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    kim = add_user(console, "kim-perms")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "kim-perms"},
        "Action": ["s3:GetBucketAcl", "s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicy"],
        "Resource": f"arn:aws:s3:::{bucket}"}]}))
    sign_in(page, console, kim["access_key"], kim["secret_key"])
    reply = page.goto(f"{console.url}/buckets/{bucket}/permissions")
    assert reply is not None and reply.status == 200
    denied = page.locator("[data-denied]").all_inner_texts()
    # The policy is the owner's alone (AWS: MethodNotAllowed for others); ownership was not granted.
    assert denied == ["You don't have permission to view this (s3:GetBucketPolicy).",
                      "You don't have permission to view this (s3:GetBucketOwnershipControls)."]
    assert page.locator("[data-block-all]").inner_text() == "Off"
    assert _acl_row(page, EVERYONE).locator("[data-perm=READ]").inner_text() == "–"
    assert page.get_by_role("link", name="Edit bucket policy").count() == 0

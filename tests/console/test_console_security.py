"""CSRF protection on every state-changing request, and no script injection through keys or metadata."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.console.conftest import Console, http_session, sign_in
from tests.support import unique_bucket

HOSTILE_KEY = "<img src=x onerror=alert(1)>/\"'><svg onload=alert(2)>&amp;.txt"  # one "/": a folder, a name
HOSTILE_META = "</td><script>alert(3)</script><b onmouseover=alert(4)>hover"


def state_changing(bucket: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, form) for every state-changing console endpoint."""
    return [
        ("POST", "/buckets", {"name": unique_bucket("csrf")}),
        ("POST", f"/buckets/{bucket}/versioning", {"versioning": "Enabled"}),
        ("POST", f"/buckets/{bucket}/encryption", {"sse": "enable"}),
        ("POST", f"/buckets/{bucket}/folders", {"prefix": "", "folder": "x"}),
        ("POST", f"/buckets/{bucket}/object/encryption", {"key": "victim.txt", "sse": "enable"}),
        ("POST", f"/buckets/{bucket}/object/delete", {"key": "victim.txt"}),
        ("POST", f"/buckets/{bucket}/actions", {"sel": "k:victim.txt", "action": "encryption"}),
        ("POST", f"/buckets/{bucket}/jobs", {"sel": "k:victim.txt", "op": "delete"}),
        ("POST", f"/buckets/{bucket}/permissions/policy", {"policy": '{"Version": "2012-10-17", "Statement": []}'}),
        ("POST", f"/buckets/{bucket}/permissions/policy/delete", {}),
        ("POST", f"/buckets/{bucket}/permissions/public-access", {"block_public_acls": "on"}),
        ("POST", f"/buckets/{bucket}/permissions/ownership", {"ownership": "ObjectWriter"}),
        ("POST", f"/buckets/{bucket}/permissions/acl", {"grantee": "uri:http://acs.amazonaws.com/groups/global/AllUsers",
                                                         "perm": "0:READ"}),
        ("POST", f"/buckets/{bucket}/object/acl", {"key": "victim.txt"}),
        ("POST", f"/buckets/{bucket}/object/share", {"key": "victim.txt", "preset": "3600"}),
        ("POST", f"/buckets/{bucket}/delete", {}),
        ("POST", "/signout", {}),
    ]


def _or_empty(read: Any) -> Any:
    """The API's answer, or {} when it answers an error (e.g. no configuration)."""
    from botocore.exceptions import ClientError

    try:
        return read()
    except ClientError:
        return {}


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef012345"])
def test_state_changing_requests_without_the_right_csrf_token_are_refused(console: Console,
                                                                          token: str | None) -> None:
    s3 = console.s3()
    bucket = unique_bucket("csrf")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="victim.txt", Body=b"still here")
    s, _ = http_session(console)
    for method, path, form in state_changing(bucket):
        data = dict(form) if token is None else {**form, "csrf": token}
        r = s.request(method, console.url + path, data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 403, (path, r.status_code)
    r = s.put(console.url + f"/buckets/{bucket}/upload?key=victim.txt", data=b"overwritten",
              headers={} if token is None else {"X-CSRF-Token": token}, timeout=30)
    assert r.status_code == 403
    # Nothing changed.
    assert s3.get_object(Bucket=bucket, Key="victim.txt")["Body"].read() == b"still here"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="victim.txt")
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    assert "PublicAccessBlockConfiguration" not in _or_empty(lambda: s3.get_public_access_block(Bucket=bucket))
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s.get(console.url + "/buckets", allow_redirects=False, timeout=30).status_code == 200  # still signed in


def test_the_csrf_token_of_one_session_does_not_work_in_another(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("csrf")
    s3.create_bucket(Bucket=bucket)
    first, _ = http_session(console)
    _, other_token = http_session(console)
    r = first.post(console.url + f"/buckets/{bucket}/versioning", data={"csrf": other_token,
                                                                        "versioning": "Enabled"},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None


def test_a_right_token_from_another_origin_is_refused(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("csrf")
    s3.create_bucket(Bucket=bucket)
    s, token = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/versioning", data={"csrf": token, "versioning": "Enabled"},
               headers={"Origin": "http://evil.example"}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    r = s.post(console.url + f"/buckets/{bucket}/versioning", data={"csrf": token, "versioning": "Enabled"},
               headers={"Origin": console.url}, allow_redirects=False, timeout=30)
    assert r.status_code == 303  # the same request from the console itself goes through
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_the_sign_in_form_is_csrf_protected(console: Console) -> None:
    s = requests.Session()
    s.get(console.url + "/signin", timeout=30)  # has a pre-session cookie, but posts no token
    for data in ({}, {"csrf": "forged"}):
        r = s.post(console.url + "/signin", data={**data, "access_key": console.server.access_key,
                                                  "secret_key": console.server.secret_key},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 403
        assert "sealbox_session" not in r.headers.get("set-cookie", "")


def test_anonymous_state_changes_are_refused(console: Console) -> None:
    r = requests.post(console.url + "/buckets", data={"name": unique_bucket()}, allow_redirects=False, timeout=30)
    assert r.status_code == 401
    r = requests.put(console.url + "/buckets/x/upload?key=a", data=b"a", timeout=30)
    assert r.status_code == 401


def test_hostile_keys_and_metadata_are_shown_as_text(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("xss")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=HOSTILE_KEY, Body=b"<html><script>alert(5)</script></html>",
                  ContentType="text/html", Metadata={"note": HOSTILE_META})
    dialogs: list[str] = []
    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, console)
    page.get_by_role("link", name=bucket, exact=True).click()
    folder = HOSTILE_KEY.split("/")[0] + "/"
    page.get_by_role("link", name=folder, exact=True).click()  # the key's first part is a "folder"
    name = HOSTILE_KEY.split("/", 1)[1]
    page.get_by_role("link", name=name, exact=True).hover()
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert page.locator("[data-meta-value]").inner_text() == HOSTILE_META
    page.locator("[data-meta-value]").hover()
    assert page.locator("dd.mono").first.inner_text() == HOSTILE_KEY
    # Walk the edit page and a job over it too: the job page renders failures and keys as text.
    page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings")) \
        .get_by_role("link", name="Edit").click()
    page.get_by_label("Enable", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert s3.head_object(Bucket=bucket, Key=HOSTILE_KEY)["ServerSideEncryption"] == "AES256"
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    assert page.locator("svg[onload]").count() == 0
    # The download is an attachment, sandboxed: the stored HTML never runs as a console page.
    s, _ = http_session(console)
    r = s.get(console.url + f"/buckets/{bucket}/download", params={"key": HOSTILE_KEY}, timeout=30)
    assert r.status_code == 200 and r.content == b"<html><script>alert(5)</script></html>"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert dialogs == []


def test_pages_forbid_inline_script_and_framing(console: Console) -> None:
    s, _ = http_session(console)
    r = s.get(console.url + "/buckets", timeout=30)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)  # every script is a file


def test_malformed_requests_get_a_400_not_a_crash(console: Console) -> None:
    s, token = http_session(console)
    r = s.get(console.url + "/buckets/x/object?key=%ff%fe", timeout=30)
    assert r.status_code == 400
    r = s.post(console.url + "/buckets", data=b"csrf=" + token.encode() + b"&name=%ff",
               headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False, timeout=30)
    assert r.status_code == 400
    assert s.get(console.url + "/no/such/page", timeout=30).status_code == 404
    assert s.delete(console.url + "/buckets", timeout=30).status_code == 405


@pytest.mark.parametrize("raw, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"\x00\x01 not http\r\n\r\n", 400),
    (b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\nabc", 417),
], ids=["head too large", "no host", "malformed", "unknown expectation"])
def test_the_transports_own_errors_are_the_consoles_not_s3_xml(console: Console, raw: bytes, status: int) -> None:
    """The console shares the HTTP layer with the S3 port, but not its error vocabulary."""
    import http.client
    import socket
    import urllib.parse

    where = urllib.parse.urlsplit(console.url)
    with socket.create_connection((where.hostname or "127.0.0.1", where.port or 80), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
    assert response.status == status, body
    assert response.getheader("content-type", "").startswith("text/plain")
    assert b"<Error>" not in body and b"<Code>" not in body

"""Sign in with an access key and secret key, the session cookie, and sign out."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.console.conftest import Console, http_session, shot, sign_in, start_console_server
from tests.console.test_console_object_encryption import create_bucket_in_ui
from tests.support import SEALBOX


def test_sign_in_and_out(page: Any, console: Console) -> None:
    page.goto(console.url + "/buckets")
    page.wait_for_url(re.compile(r"/signin\?next=%2Fbuckets"))  # not signed in: sent to the sign-in form
    shot(page, "signin")
    sign_in(page, console)
    page.get_by_role("heading", name=re.compile("^Buckets")).wait_for()
    assert page.locator(".principal").inner_text() == "root"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin$"))
    page.goto(console.url + "/buckets")
    page.wait_for_url(re.compile(r"/signin"))


def test_sign_in_failure(page: Any, console: Console) -> None:
    for access_key, secret in ((console.server.access_key, "not-the-secret"), ("SBNOSUCHKEY000000000", "x"),
                               (console.server.access_key, console.server.secret_key[:-1])):
        page.goto(console.url + "/signin")
        page.get_by_label("Access key").fill(access_key)
        page.get_by_label("Secret key").fill(secret)
        with page.expect_response(lambda r: r.request.method == "POST") as reply:
            page.get_by_role("button", name="Sign in").click()
        assert reply.value.status == 401
        assert "Sign-in failed" in page.get_by_role("alert").inner_text()
        assert "/signin" in page.url
        assert not [c for c in page.context.cookies() if c["name"] == "sealbox_session"]
    shot(page, "signin-failed")


def test_session_cookie_flags(console: Console) -> None:
    s = requests.Session()
    form = s.get(console.url + "/signin", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = s.post(console.url + "/signin", data={"csrf": token.group(1), "access_key": console.server.access_key,
                                              "secret_key": console.server.secret_key}, allow_redirects=False,
               timeout=30)
    assert r.status_code == 303
    cookie = next(c for c in r.headers["set-cookie"].split(", sealbox") if c.startswith("sealbox_session="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain HTTP: a Secure cookie would never come back
    assert any(f.startswith("max-age=") for f in flags)


def test_session_cookie_is_secure_over_tls(tmp_path: Path) -> None:
    c = start_console_server(tmp_path / "data", tls=True)
    try:
        assert c.url.startswith("https://")
        s = requests.Session()
        cert = str(c.server.cert)  # per request: REQUESTS_CA_BUNDLE would override a session-wide verify
        form = s.get(c.url.replace("127.0.0.1", "localhost") + "/signin", timeout=30, verify=cert)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        assert "secure" in form.headers["set-cookie"].lower()  # the pre-session cookie too
        r = s.post(c.url.replace("127.0.0.1", "localhost") + "/signin", allow_redirects=False, timeout=30, verify=cert,
                   data={"csrf": token.group(1), "access_key": c.server.access_key,
                         "secret_key": c.server.secret_key})
        assert r.status_code == 303
        session = r.headers["set-cookie"].split(", sealbox")[0]
        assert session.startswith("sealbox_session=")
        assert {"secure", "httponly", "samesite=lax"} <= {f.strip().lower() for f in session.split(";")[1:]}
    finally:
        c.server.stop()


def test_a_session_works_on_every_worker_and_ends_at_sign_out(console: Console) -> None:
    s, csrf = http_session(console)
    cookie = s.cookies.get("sealbox_session")
    assert cookie
    # Fresh connections: the kernel hands them to either worker; each must accept the session.
    for _ in range(16):
        r = requests.get(console.url + "/buckets", cookies={"sealbox_session": cookie}, allow_redirects=False,
                         headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 200
    assert s.post(console.url + "/signout", data={"csrf": csrf}, allow_redirects=False,
                  timeout=30).status_code == 303
    for _ in range(8):  # the signed-out token is refused everywhere, even if replayed
        r = requests.get(console.url + "/buckets", cookies={"sealbox_session": cookie}, allow_redirects=False,
                         headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_forged_or_tampered_session_cookies_are_refused(console: Console) -> None:
    s, _ = http_session(console)
    cookie = s.cookies.get("sealbox_session") or ""
    body, mac = cookie.split(".")
    forged = [
        "",
        "garbage",
        body + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),  # wrong MAC
        body[:-4] + "AAAA." + mac,  # payload changed under the same MAC
    ]
    for value in forged:
        r = requests.get(console.url + "/buckets", cookies={"sealbox_session": value}, allow_redirects=False,
                         timeout=30)
        assert r.status_code == 303, value


def test_a_user_sees_only_what_their_keys_allow(page: Any, console: Console, tmp_path: Path) -> None:
    s3 = console.s3()
    s3.create_bucket(Bucket="root-private-bucket")
    out = subprocess.run([str(SEALBOX), "users", "add", "alice", "--data-dir", str(console.server.data_dir),
                          "--json"], capture_output=True, text=True, timeout=60, check=True)
    alice = json.loads(out.stdout)
    sign_in(page, console, alice["access_key"], alice["secret_key"])
    assert page.locator(".principal").inner_text() == "alice"
    assert page.get_by_role("link", name="root-private-bucket").count() == 0
    page.goto(console.url + "/buckets/root-private-bucket")
    assert "Access Denied" in page.locator("main").inner_text()
    create_bucket_in_ui(page, "alice-bucket")
    assert s3.list_objects_v2(Bucket="alice-bucket")["KeyCount"] == 0  # root may; the bucket is alice's

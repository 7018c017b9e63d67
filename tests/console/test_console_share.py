"""Share with a presigned URL: the console signs a SigV4 GET link with the signed-in user's access
key; the link downloads the object (decrypted) with plain urllib and stops working after its expiry."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in, start_console_server
from tests.console.perms_support import add_user, fits_phone
from tests.support import unique_bucket

BODY = b"quarterly numbers, encrypted at rest\n" * 100


def fetch(link: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(link, timeout=30) as reply:
            return int(reply.status), bytes(reply.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def share_card(page: Any) -> Any:
    return page.locator("#share")


def make_link(page: Any, preset: str | None = None, amount: str = "", unit: str = "hours") -> str:
    card = share_card(page)
    if preset:
        card.get_by_label(preset, exact=True).check()
    else:
        card.get_by_label("Other", exact=True).check()
        card.get_by_label("Time interval").fill(amount)
        card.get_by_label("Unit").select_option(unit)
    card.get_by_role("button", name="Create presigned URL").click()
    page.get_by_role("heading", name="Presigned URL created").wait_for()
    return str(page.locator("[data-presigned-url]").input_value())


def test_a_presigned_link_downloads_the_object_then_expires(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("share")
    s3.create_bucket(Bucket=bucket)
    key = "reports/Q1 résumé+final.txt"  # spaces, "+" and non-ASCII must survive the signing
    s3.put_object(Bucket=bucket, Key=key, Body=BODY, ServerSideEncryption="AES256")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/object?key={urllib.parse.quote(key)}")

    week = make_link(page, "7 days")
    parts = urllib.parse.urlsplit(week)
    query = urllib.parse.parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == console.server.endpoint  # the S3 port, not the console's
    assert query["X-Amz-Expires"] == ["604800"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith(console.server.access_key + "/")
    assert console.server.secret_key not in week
    assert fetch(week) == (200, BODY)  # decrypted, with no credentials but the link's
    shot(page, "share-presigned-url")
    assert '"event": "object.presign"' in console.server.log()

    page.get_by_role("link", name="Back to the object").click()
    short = make_link(page, amount="3", unit="seconds")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(short).query)["X-Amz-Expires"] == ["3"]
    status, _ = fetch(short)
    signed = time.time()
    assert status == 200
    # Wait past the expiry (3 s after X-Amz-Date, a whole second): bounded, 12 tries.
    for _ in range(12):
        time.sleep(1)
        status, body = fetch(short)
        if status != 200:
            break
    assert status == 403 and b"Request has expired" in body, (status, body[:300])
    assert time.time() - signed < 60


def test_a_link_to_an_older_version_downloads_that_version(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sharever")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"first", ServerSideEncryption="AES256")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v.txt", Body=b"second")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/object?key=v.txt&versionId={old}")
    link = make_link(page, "1 hour")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["versionId"] == [old]
    assert fetch(link) == (200, b"first")
    page.goto(f"{console.url}/buckets/{bucket}/object?key=v.txt")
    assert fetch(make_link(page, "1 hour")) == (200, b"second")


def test_the_expiry_must_be_from_one_second_to_seven_days(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sharebad")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    sign_in(page, console)
    for amount, unit in (("0", "seconds"), ("8", "days"), ("604801", "seconds"), ("abc", "hours"), ("", "hours"),
                         ("-1", "minutes")):
        page.goto(f"{console.url}/buckets/{bucket}/object?key=a.txt")
        card = share_card(page)
        card.get_by_label("Other", exact=True).check()
        card.get_by_label("Time interval").fill(amount)
        card.get_by_label("Unit").select_option(unit)
        card.get_by_role("button", name="Create presigned URL").click()
        alert = page.locator(".flash-error")
        alert.wait_for()
        assert "between 1 second and 7 days (604,800 seconds)" in alert.inner_text(), (amount, unit)
    page.goto(f"{console.url}/buckets/{bucket}/object?key=a.txt")
    link = make_link(page, amount="7", unit="days")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["X-Amz-Expires"] == ["604800"]


def test_share_from_the_objects_list(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sharelist")
    s3.create_bucket(Bucket=bucket)
    for key in ("one.txt", "two.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}")
    for key in ("one.txt", "two.txt"):
        page.locator("tr", has=page.get_by_role("link", name=key, exact=True)).locator("input").check()
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Share with a presigned URL").click()
    assert "Select one object to share." in page.locator(".flash-error").inner_text()
    page.locator("tr", has=page.get_by_role("link", name="one.txt", exact=True)).locator("input").check()
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Share with a presigned URL").click()
    page.get_by_role("heading", name="Share with a presigned URL").wait_for()
    assert page.url.endswith("#share")
    assert fetch(make_link(page, "1 hour")) == (200, b"one.txt")


def test_share_pages_fit_a_phone(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sharenarrow")
    s3.create_bucket(Bucket=bucket)
    key = "a-rather-long-folder-name/with a long file name (final) v2.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF")
    page.set_viewport_size(PHONE)
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/{bucket}/object?key={urllib.parse.quote(key)}")
    fits_phone(page)
    make_link(page, "12 hours")
    fits_phone(page)
    shot(page, "share-narrow")


def test_a_user_may_not_share_what_they_may_not_read(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sharedeny")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"root's")
    sam = add_user(console, "sam-share")
    s, csrf = http_session(console, sam["access_key"], sam["secret_key"])
    r = s.post(f"{console.url}/buckets/{bucket}/object/share",
               data={"csrf": csrf, "key": "secret.txt", "preset": "3600"}, timeout=30)
    assert "You are not allowed to share secret.txt" in r.text and "(AccessDenied)" in r.text
    assert "X-Amz-Signature" not in r.text
    r = s.post(f"{console.url}/buckets/{bucket}/object/share", data={"key": "secret.txt", "preset": "3600"},
               timeout=30)
    assert r.status_code == 403 and "CSRF" in r.text


@pytest.fixture(scope="module")
def behind_a_proxy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = start_console_server(tmp_path_factory.mktemp("public-endpoint") / "data", "--public-endpoint",
                             "https://s3.example.test")
    yield c
    c.server.stop()


def test_links_name_the_configured_public_endpoint(page: Any, behind_a_proxy: Console, tmp_path: Path) -> None:
    console = behind_a_proxy
    s3 = console.s3()
    s3.create_bucket(Bucket="proxied")
    s3.put_object(Bucket="proxied", Key="k.txt", Body=b"k")
    sign_in(page, console)
    page.goto(f"{console.url}/buckets/proxied/object?key=k.txt")
    link = make_link(page, "1 day")
    assert link.startswith("https://s3.example.test/proxied/k.txt?")
    # Signed for that host: the same path and query sent here with Host: s3.example.test is accepted.
    parts = urllib.parse.urlsplit(link)
    request = urllib.request.Request(f"{console.server.endpoint}{parts.path}?{parts.query}",
                                     headers={"Host": "s3.example.test"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.read() == b"k"


def test_a_console_over_https_links_to_the_https_s3_port(tmp_path: Path) -> None:
    """With TLS the link is https, on the S3 HTTPS listener, for the host name the browser used."""
    import html
    import re
    import ssl

    c = start_console_server(tmp_path / "data", tls=True)
    try:
        s3 = c.server.client(tls=True)
        s3.create_bucket(Bucket="tls-share")
        s3.put_object(Bucket="tls-share", Key="t.txt", Body=b"over tls", ServerSideEncryption="AES256")
        cert = str(c.server.cert)
        base = c.url.replace("127.0.0.1", "localhost")  # the certificate's name
        s = requests.Session()
        form = s.get(base + "/signin", timeout=30, verify=cert)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        s.post(base + "/signin", timeout=30, verify=cert, data={
            "csrf": token.group(1), "access_key": c.server.access_key, "secret_key": c.server.secret_key})
        found = re.search(r'name="csrf" value="([^"]+)"', s.get(base + "/buckets", timeout=30, verify=cert).text)
        assert found is not None
        r = s.post(base + "/buckets/tls-share/object/share", timeout=30, verify=cert,
                   data={"csrf": found.group(1), "key": "t.txt", "preset": "3600"})
        link = re.search(r"data-presigned-url[^>]*>([^<]+)<", r.text)
        assert link is not None, r.text
        url = html.unescape(link.group(1))
        assert url.startswith(f"https://localhost:{c.server.tls_port}/tls-share/t.txt?")
        with urllib.request.urlopen(url, timeout=30, context=ssl.create_default_context(cafile=cert)) as reply:
            assert reply.read() == b"over tls"
    finally:
        c.server.stop()

"""SSE-C objects in the console (real browser): the overview says "SSE-C" and that the console cannot open,
download or re-encrypt them; a download is refused; a bulk encryption job lists them as unchanged, with why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import Console, http_session, shot, sign_in, start_console_server
from tests.support import unique_bucket

KEY = bytes(range(7, 39))


def sse_c() -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console of its own: SSE-C objects are written over loopback HTTP (--allow-sse-c-over-http)."""
    c = start_console_server(Path(tmp_path_factory.mktemp("console-ssec")) / "data", "--allow-sse-c-over-http")
    yield c
    c.server.stop()
    assert "Traceback" not in c.server.log(), c.server.log()


def test_overview_says_sse_c_and_offers_no_download_or_edit(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("cssec")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"customer keyed", **sse_c())
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}")
    row = page.locator("tr", has=page.get_by_role("link", name="secret.txt", exact=True))
    assert row.locator("[data-encryption]").inner_text() == "SSE-C"
    row.get_by_role("link", name="secret.txt", exact=True).click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert page.locator("[data-key-type]").inner_text() == "Customer-provided key (SSE-C)"
    note = page.locator("[data-sse-c-note]").inner_text()
    assert "cannot open, download or re-encrypt" in note
    assert page.get_by_role("link", name="Download").count() == 0
    section = page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings"))
    assert section.get_by_role("link", name="Edit").count() == 0
    shot(page, "object-overview-sse-c")
    # The download URL itself refuses too, with the reason (the console has no key to send).
    s, _ = http_session(console)
    r = s.get(console.url + f"/buckets/{bucket}/download", params={"key": "secret.txt"}, timeout=30)
    assert b"customer keyed" not in r.content
    assert "customer-provided key (SSE-C)" in r.text
    # No presigned share link either: it could carry no key.
    s, csrf = http_session(console)
    r = s.post(f"{console.url}/buckets/{bucket}/object/share",
               data={"csrf": csrf, "key": "secret.txt", "preset": "3600"}, timeout=30)
    assert "No link made" in r.text and "customer-provided key (SSE-C)" in r.text
    assert "X-Amz-Signature" not in r.text
    # And the object is untouched.
    assert s3.get_object(Bucket=bucket, Key="secret.txt", **sse_c())["Body"].read() == b"customer keyed"


def test_bulk_encryption_lists_sse_c_objects_as_unchanged_with_the_reason(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("cssec")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="docs/a.txt", Body=b"plain a")
    s3.put_object(Bucket=bucket, Key="docs/b.txt", Body=b"sse-c b", **sse_c())
    sign_in(page, console)
    s, csrf = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:docs/"]})
    assert r.status_code == 303
    page.goto(console.url + r.headers["location"])
    page.locator("[data-job][data-state=done], [data-job][data-state=failed]").wait_for(timeout=120_000)
    page.reload()
    assert page.locator("[data-job-succeeded]").inner_text() == "1"
    assert page.locator("[data-job-skipped]").inner_text() == "1"
    assert page.locator("[data-job-failed]").inner_text() == "0"
    rows = page.locator("[data-job-skipped-rows] tr")
    assert rows.count() == 1
    assert "docs/b.txt" in rows.inner_text()
    assert re.search(r"customer-provided key \(SSE-C\).*without that key", rows.inner_text())
    shot(page, "job-sse-c-skipped")
    assert s3.head_object(Bucket=bucket, Key="docs/a.txt")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="docs/b.txt", **sse_c())["Body"].read() == b"sse-c b"


def test_restoring_an_sse_c_version_is_refused_with_the_reason(page: Any, console: Console) -> None:
    """Restore is a copy of the version: the console holds no customer key to read it with."""
    s3 = console.s3()
    bucket = unique_bucket("cssecv")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keyed = s3.put_object(Bucket=bucket, Key="k", Body=b"customer keyed", **sse_c())["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain, newer")
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}/versions")
    assert page.locator(f"tr[data-version='{keyed}'] [data-encryption]").inner_text() == "SSE-C"
    page.get_by_role("button", name=f"Restore version {keyed} of k").click()
    page.get_by_text(re.compile("customer-provided key \\(SSE-C\\)")).wait_for()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"plain, newer"  # unchanged

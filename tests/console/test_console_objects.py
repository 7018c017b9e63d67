"""The Objects list: folders and breadcrumbs, pages, find by prefix; upload (picker and drag-and-drop),
create folder, download, delete — each checked through boto3."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from tests.console.conftest import PHONE, Console, shot, sign_in
from tests.console.test_console_bulk_encryption import fill
from tests.support import unique_bucket


def open_bucket(page: Any, console: Console, bucket: str, prefix: str = "") -> None:
    page.goto(console.url + f"/buckets/{bucket}" + (f"?prefix={prefix}" if prefix else ""))
    page.get_by_role("heading", name="Objects").wait_for()


def test_upload_with_the_file_picker_streams_a_large_file(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("up")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    body = os.urandom(24 * 1024 * 1024 + 7)  # several pipeline buffers
    sign_in(page, console)
    open_bucket(page, console, bucket)
    page.set_input_files("[data-file-input]", files=[
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": body},
        {"name": "ünïcødé 名前.txt", "mimeType": "text/plain", "buffer": b"hello"},
    ])
    page.get_by_role("link", name="big.bin", exact=True).wait_for(timeout=120_000)
    page.get_by_role("link", name="ünïcødé 名前.txt", exact=True).wait_for()
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ServerSideEncryption"] == "AES256"  # the bucket's default encryption applies to uploads
    assert got["ContentLength"] == len(body)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    assert s3.get_object(Bucket=bucket, Key="ünïcødé 名前.txt")["Body"].read() == b"hello"


def test_drag_and_drop_uploads_into_the_current_folder(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("drop")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="inbox/", Body=b"")
    sign_in(page, console)
    open_bucket(page, console, bucket, "inbox/")
    transfer = page.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped one"], "one.txt", {type: "text/plain"}));
        dt.items.add(new File(["dropped two"], "two.csv", {type: "text/csv"}));
        return dt;
    }""")
    page.dispatch_event("[data-dropzone]", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})
    page.get_by_role("link", name="two.csv", exact=True).wait_for()
    assert s3.get_object(Bucket=bucket, Key="inbox/one.txt")["Body"].read() == b"dropped one"
    assert s3.head_object(Bucket=bucket, Key="inbox/two.csv")["ContentType"] == "text/csv"
    assert "inbox/" not in page.locator("table").inner_text()  # the folder's own marker is not listed in it


def test_folders_breadcrumbs_pages_and_find(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("nav")
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, [f"archive/2023/doc-{i:03d}.txt" for i in range(230)] + ["archive/index.html", "top.txt"])
    sign_in(page, console)
    open_bucket(page, console, bucket)
    page.get_by_role("link", name="archive/", exact=True).click()
    page.get_by_role("link", name="2023/", exact=True).click()
    crumbs = page.locator("nav.crumbs a")
    assert crumbs.all_inner_texts() == ["Buckets", bucket, "archive", "2023"]
    # 230 keys: pages of 100, continued from the last key shown.
    seen: list[str] = []
    for expected in (100, 100, 30):
        names = page.locator("table a.name").all_inner_texts()
        assert len(names) == expected
        seen += names
        if expected == 30:
            assert page.get_by_role("link", name="Next page »").count() == 0
            break
        page.get_by_role("link", name="Next page »").click()
        page.get_by_role("link", name="« First page").wait_for()
    assert seen == [f"doc-{i:03d}.txt" for i in range(230)]
    # Find by name, inside the folder.
    page.get_by_role("link", name="« First page").click()
    page.get_by_placeholder("Find by name in this folder").fill("doc-12")
    page.get_by_placeholder("Find by name in this folder").press("Enter")
    page.wait_for_url(re.compile(r"find=doc-12"))
    assert page.locator("table a.name").all_inner_texts() == [f"doc-{i}.txt" for i in range(120, 130)]
    page.get_by_role("link", name="archive", exact=True).click()  # breadcrumb back up
    assert page.locator("table a.name").all_inner_texts() == ["2023/", "index.html"]


def test_create_folder_download_and_delete(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("ops")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
    sign_in(page, console)
    open_bucket(page, console, bucket)
    page.get_by_text("Create folder").first.click()
    page.get_by_label("Folder name").fill("reports")
    page.locator("form.menu-form").get_by_role("button", name="Create folder").click()
    page.get_by_role("link", name="reports/", exact=True).wait_for()
    marker = s3.head_object(Bucket=bucket, Key="reports/")
    assert marker["ContentLength"] == 0

    page.get_by_role("link", name="data.csv", exact=True).click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "data.csv"
    assert Path(download.path()).read_bytes() == b"a,b\n1,2\n"

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", name="Objects").wait_for()
    assert "Deleted data.csv" in page.locator(".flash-ok").inner_text()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # only reports/ is left


def test_bulk_delete_removes_a_folder_and_everything_under_it(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("del")
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, [f"tmp/{i}.dat" for i in range(40)] + ["keep.txt"])
    sign_in(page, console)
    open_bucket(page, console, bucket)
    page.locator("tr", has=page.get_by_role("link", name="tmp/", exact=True)).locator("input").check()
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("heading", name="Delete objects").wait_for()
    page.get_by_role("button", name="Delete objects").click()
    page.locator("[data-job][data-state=done]").wait_for(timeout=120_000)
    assert page.locator("[data-job-succeeded]").inner_text() == "40"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["keep.txt"]


def test_pages_are_usable_at_a_narrow_width(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("narrow")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a-rather-long-folder-name/with a long file name (final) v2.pdf", Body=b"%PDF")
    page.set_viewport_size(PHONE)
    sign_in(page, console)
    shot(page, "buckets-narrow")
    open_bucket(page, console, bucket, "a-rather-long-folder-name/")
    shot(page, "objects-narrow")
    link = page.get_by_role("link", name="with a long file name (final) v2.pdf")
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]  # no sideways scrolling needed
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    link.click()
    page.get_by_role("heading", name="Object overview").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "object-overview-narrow")
    page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings")) \
        .get_by_role("link", name="Edit").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "edit-server-side-encryption-narrow")


def test_the_encryption_column_shows_each_objects_encryption(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = "acme-finance"  # a readable name: this page is the README's screenshot
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("invoices/2025-01.pdf", "reports/q1.pdf"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF-1.7", ContentType="application/pdf")
    objects = {"budget-2025.xlsx": (True, 48_213), "board-minutes.pdf": (False, 183_004), "logo.png": (True, 9_817),
               "team-photo.jpg": (False, 2_412_311)}
    types = {"xlsx": "application/vnd.ms-excel", "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
    for key, (encrypted, size) in objects.items():
        extra = {"ServerSideEncryption": "AES256"} if encrypted else {}
        s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(size), ContentType=types[key.rsplit(".", 1)[1]],
                      **extra)
    sign_in(page, console)
    open_bucket(page, console, bucket)
    for key, (encrypted, _) in objects.items():
        row = page.locator("tr", has=page.get_by_role("link", name=key, exact=True))
        assert row.locator("[data-encryption]").inner_text() == ("SSE-S3" if encrypted else "None")
    assert page.locator("tr.folder-row").all_inner_texts()[0].strip().startswith("invoices/")
    page.locator("tr", has=page.get_by_role("link", name="reports/", exact=True)).locator("input").check()
    page.locator("tr", has=page.get_by_role("link", name="board-minutes.pdf", exact=True)).locator("input").check()
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Edit server-side encryption").wait_for()
    shot(page, "objects", full_page=False)
    page.keyboard.press("Escape")
    page.get_by_role("link", name="board-minutes.pdf", exact=True).click()
    page.locator("section", has=page.get_by_role("heading", name="Server-side encryption settings")) \
        .get_by_role("link", name="Edit").click()
    page.get_by_label("Enable", exact=True).check()
    shot(page, "edit-server-side-encryption-readme", full_page=False)

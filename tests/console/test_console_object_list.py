"""The Objects list (issue 18): sort by name, size and date; object and size counts for the folder;
previous and next pages; find by substring within the folder; copy an object's S3 URI."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.console.conftest import DESKTOP, Console, shot, sign_in
from tests.console.test_console_bulk_encryption import fill
from tests.support import unique_bucket


def names(page: Any) -> list[str]:
    return page.locator("table a.name").all_inner_texts()


def test_sort_by_name_size_and_date_with_counts(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("sort")
    s3.create_bucket(Bucket=bucket)
    sizes = {"b-medium.bin": 5_000, "a-large.bin": 90_000, "c-small.bin": 10}
    for key, size in sizes.items():  # written in this order, a second apart
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
        time.sleep(1.05)
    s3.put_object(Bucket=bucket, Key="zeta/inner.txt", Body=b"i")
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}")
    assert names(page) == ["zeta/", "a-large.bin", "b-medium.bin", "c-small.bin"]
    counts = page.locator("[data-folder-counts]").inner_text()
    assert "3 objects, 92.8 KB, and 1 folder" in counts
    page.locator("a[data-sort=size]").click()
    page.wait_for_url("**sort=size**")
    assert names(page) == ["zeta/", "c-small.bin", "b-medium.bin", "a-large.bin"]
    page.locator("a[data-sort=size]").click()  # again: descending
    page.wait_for_url("**order=desc**")
    assert names(page) == ["zeta/", "a-large.bin", "b-medium.bin", "c-small.bin"]
    assert page.locator("th[aria-sort=descending] a[data-sort=size]").count() == 1
    page.locator("a[data-sort=modified]").click()
    page.wait_for_url(re.compile(r"sort=modified$"))
    assert names(page) == ["zeta/", "b-medium.bin", "a-large.bin", "c-small.bin"]
    page.locator("a[data-sort=modified]").click()
    page.wait_for_url(re.compile(r"sort=modified&order=desc$"))
    assert names(page) == ["zeta/", "c-small.bin", "a-large.bin", "b-medium.bin"]
    page.locator("a[data-sort=name]").click()
    page.wait_for_url(re.compile(rf"/buckets/{bucket}$"))
    page.locator("a[data-sort=name]").click()
    page.wait_for_url(re.compile(r"order=desc$"))
    assert names(page) == ["zeta/", "c-small.bin", "b-medium.bin", "a-large.bin"]  # folders stay first
    shot(page, "objects-sorted")


def test_previous_and_next_pages_and_find_by_substring(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("pages")
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, [f"f/item-{i:03d}.txt" for i in range(230)] + ["f/quarterly-report.csv", "f/reports/x"])
    sign_in(page, console)
    page.goto(console.url + f"/buckets/{bucket}?prefix=f/")
    assert page.locator("[data-page]").inner_text() == "Page 1 of 3"
    assert "231 objects" in page.locator("[data-folder-counts]").inner_text()
    first = names(page)
    page.get_by_role("link", name="Next page »").click()
    page.get_by_role("link", name="Next page »").click()
    assert page.locator("[data-page]").inner_text() == "Page 3 of 3"
    assert page.get_by_role("link", name="Next page »").count() == 0
    page.get_by_role("link", name="‹ Previous page").click()
    assert page.locator("[data-page]").inner_text() == "Page 2 of 3"
    page.get_by_role("link", name="‹ Previous page").click()
    assert names(page) == first
    assert page.get_by_role("link", name="‹ Previous page").count() == 0
    # A substring anywhere in the name, case-insensitive, within this folder only.
    page.get_by_placeholder("Find by name in this folder").fill("REPORT")
    page.get_by_placeholder("Find by name in this folder").press("Enter")
    page.wait_for_url("**find=REPORT**")
    assert names(page) == ["reports/", "quarterly-report.csv"]
    assert "1 of 231 objects" in page.locator("[data-folder-counts]").inner_text()
    page.get_by_placeholder("Find by name in this folder").fill("item-22")
    page.get_by_placeholder("Find by name in this folder").press("Enter")
    page.wait_for_url("**find=item-22**")
    assert names(page) == [f"item-{i}.txt" for i in range(220, 230)]


def test_copy_s3_uri(browser: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("uri")
    s3.create_bucket(Bucket=bucket)
    key = "docs/année 2025.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF")
    context = browser.new_context(viewport=DESKTOP)
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
        page = context.new_page()
        sign_in(page, console)
        page.goto(console.url + f"/buckets/{bucket}?prefix=docs/")
        page.get_by_role("link", name="année 2025.pdf").click()
        page.get_by_role("button", name="Copy S3 URI").click()
        page.get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == f"s3://{bucket}/{key}"
    finally:
        context.close()

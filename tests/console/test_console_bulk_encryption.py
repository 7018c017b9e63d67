"""Bulk: select folders and objects → Actions → Edit server-side encryption → a background job
that applies to every object under the selected folders, shows "n of N" and ends with a summary."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.console.conftest import PHONE, Console, http_session, shot, sign_in
from tests.support import unique_bucket

FOLDER_OBJECTS = 200


def fill(s3: Any, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=f"body of {k}".encode(),
                                              Metadata={"n": k[-3:]}), keys))


def choose_rows(page: Any, names: list[str]) -> None:
    for name in names:
        page.locator("tr", has=page.get_by_role("link", name=name, exact=True)).locator("input[type=checkbox]").check()


def wait_for_job_end(page: Any, timeout_ms: int = 240_000) -> None:
    page.locator("[data-job][data-state=done], [data-job][data-state=failed]").wait_for(timeout=timeout_ms)


def test_bulk_encrypt_a_folder_of_200_objects_and_a_file(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("bulk")
    s3.create_bucket(Bucket=bucket)
    inside = [f"photos/2024/img-{i:03d}.jpg" for i in range(FOLDER_OBJECTS)]
    fill(s3, bucket, [*inside, "readme.txt", "untouched.txt", "photosynthesis.txt"])

    sign_in(page, console)
    page.get_by_role("link", name=bucket, exact=True).click()
    page.get_by_role("heading", name="Objects").wait_for()
    choose_rows(page, ["photos/", "readme.txt"])
    assert page.locator("[data-selected-count]").inner_text() == "2"
    shot(page, "objects-selected")
    page.get_by_text("Actions").click()
    page.get_by_role("menuitem", name="Edit server-side encryption").click()
    page.get_by_role("heading", name="Edit server-side encryption").wait_for()
    assert "1 object and 1 folder" in page.locator("section.card").first.inner_text()
    page.get_by_label("Enable", exact=True).check()
    page.get_by_label(re.compile(r"Amazon S3 key \(SSE-S3\)")).check()
    shot(page, "bulk-edit-server-side-encryption")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    page.get_by_text(re.compile(r"of\s+\d+\s+objects")).wait_for()
    wait_for_job_end(page)
    assert page.locator("[data-job]").get_attribute("data-state") == "done"
    assert page.locator("[data-job-done]").inner_text() == str(FOLDER_OBJECTS + 1)
    assert page.locator("[data-job-total]").inner_text() == str(FOLDER_OBJECTS + 1)
    assert page.locator("[data-job-succeeded]").inner_text() == str(FOLDER_OBJECTS + 1)
    assert page.locator("[data-job-failed]").inner_text() == "0"
    shot(page, "job-summary")

    with ThreadPoolExecutor(8) as pool:
        heads = dict(zip(inside + ["readme.txt"], pool.map(lambda k: s3.head_object(Bucket=bucket, Key=k),
                                                             inside + ["readme.txt"]), strict=True))
    assert {k: h.get("ServerSideEncryption") for k, h in heads.items()} == {k: "AES256" for k in heads}
    assert all(h["Metadata"] == {"n": k[-3:]} for k, h in heads.items())
    assert s3.get_object(Bucket=bucket, Key=inside[17])["Body"].read() == f"body of {inside[17]}".encode()
    for untouched in ("untouched.txt", "photosynthesis.txt"):  # not selected; "photos" is not a prefix of it
        assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key=untouched)

    # The Objects list shows the new state in its Encryption column (page 1 of 2 inside the folder).
    page.goto(console.url + f"/buckets/{bucket}?prefix=photos/2024/")
    cells = page.locator("[data-encryption]")
    assert cells.count() == 100
    assert set(cells.all_inner_texts()) == {"SSE-S3"}


def test_a_job_goes_on_when_the_page_is_left_and_reports_failures(page: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("away")
    s3.create_bucket(Bucket=bucket)
    keys = [f"logs/{i:04d}.log" for i in range(60)]
    fill(s3, bucket, keys)
    sign_in(page, console)
    s, csrf = http_session(console)
    # A selection that names a key that is gone by the time the job reaches it: one failure with a reason.
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:logs/", "k:vanished.txt"]})
    assert r.status_code == 303
    job_url = console.url + r.headers["location"]
    page.goto(job_url)
    page.goto(console.url + "/buckets")  # navigate away at once
    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("heading", name="Jobs").wait_for()
    page.locator("table a").first.click()
    wait_for_job_end(page)
    assert page.locator("[data-job-succeeded]").inner_text() == "60"
    assert page.locator("[data-job-failed]").inner_text() == "1"
    failure = page.locator("[data-job-failure-rows] tr")
    assert failure.count() == 1
    assert "vanished.txt" in failure.inner_text() and "NoSuchKey" in failure.inner_text()
    assert all(s3.head_object(Bucket=bucket, Key=k).get("ServerSideEncryption") == "AES256" for k in keys)
    page.set_viewport_size(PHONE)
    shot(page, "job-summary-narrow")


def test_job_status_is_served_by_every_worker(console: Console) -> None:
    """The job runs in one worker; its status comes from the console store, whichever worker answers."""
    s3 = console.s3()
    bucket = unique_bucket("poll")
    s3.create_bucket(Bucket=bucket)
    fill(s3, bucket, [f"d/{i}" for i in range(30)])
    s, csrf = http_session(console)
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:d/"]})
    status_url = console.url + r.headers["location"] + "/status"
    cookies = s.cookies.get_dict()
    states = []
    for _ in range(600):  # bounded: at most ~60 s
        # a fresh connection each time, so the kernel spreads the polls over both workers
        got = s.get(status_url, headers={"Connection": "close"}, timeout=30).json()
        states.append(got["state"])
        if got["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert states[-1] == "done" and got["succeeded"] == 30 and got["total"] == 30
    assert cookies  # the poll used the signed session cookie only
    # Decrypt the folder again ("Disable"): every object comes back unencrypted.
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "encryption", "sse": "disable", "sel": ["p:d/"]})
    status_url = console.url + r.headers["location"] + "/status"
    for _ in range(600):
        got = s.get(status_url, timeout=30).json()
        if got["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert got["state"] == "done" and got["succeeded"] == 30
    assert all("ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key=f"d/{i}") for i in range(30))


def test_a_job_cut_short_by_a_server_restart_is_resumed(tmp_path: Any) -> None:
    import signal

    from tests.console.conftest import start_console_server

    data_dir = tmp_path / "data"
    c = start_console_server(data_dir, workers=2)
    keys = [f"big/{i:04d}" for i in range(600)]
    try:
        s3 = c.s3()
        s3.create_bucket(Bucket="restart")
        fill(s3, "restart", keys)
        s, csrf = http_session(c)
        r = s.post(c.url + "/buckets/restart/jobs", allow_redirects=False, timeout=30,
                   data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:big/"]})
        assert r.status_code == 303
        job_path = r.headers["location"]
    finally:
        c.server.stop(signal.SIGKILL)  # at once: 600 rewrites cannot be done yet
    cookie = s.cookies.get("sealbox_session")
    c = start_console_server(data_dir, workers=2)
    try:
        status = requests_json(c.url + job_path + "/status", cookie)
        assert status["state"] in ("listing", "running") and status["done"] < len(keys)  # it was cut short
        for _ in range(1200):  # bounded: at most ~2 minutes
            status = requests_json(c.url + job_path + "/status", cookie)
            if status["state"] not in ("listing", "running"):
                break
            time.sleep(0.1)
        assert status["state"] == "done", status
        assert status["total"] == len(keys) and status["succeeded"] == len(keys) and status["failed"] == 0
        s3 = c.s3()
        with ThreadPoolExecutor(8) as pool:
            states = list(pool.map(lambda k: s3.head_object(Bucket="restart", Key=k).get("ServerSideEncryption"),
                                   keys))
        assert states == ["AES256"] * len(keys)
        assert "resuming here" in c.server.log()
    finally:
        c.server.stop()


def requests_json(url: str, cookie: str | None) -> Any:
    import requests

    r = requests.get(url, cookies={"sealbox_session": cookie or ""}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()

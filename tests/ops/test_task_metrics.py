"""Progress of scrub, gc, key rotation, lifecycle passes and console bulk jobs in GET /_sealbox/metrics
(issue 18), on a real two-worker server, with the maintenance commands run as their own processes
(as an operator runs them) and reporting into the server's metrics directory."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.console.conftest import http_session, start_console_server
from tests.support import SEALBOX, Server, unique_bucket

TASK_METRICS = ("sealbox_task_items", "sealbox_task_items_processed_total", "sealbox_task_running",
                "sealbox_task_last_start_timestamp_seconds", "sealbox_task_last_end_timestamp_seconds")


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = requests.get(f"{server.endpoint}/_sealbox/metrics", timeout=10)
    assert r.status_code == 200, r.text
    found = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def wait_for(server: Server, check: Callable[[dict[tuple[str, frozenset[tuple[str, str]]], float]], bool],
             seconds: float = 30) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    deadline = time.monotonic() + seconds
    while True:
        samples = scrape(server)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def run(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run([str(SEALBOX), *args, "--data-dir", str(server.data_dir)], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def test_task_progress_is_visible_in_the_servers_metrics(tmp_path: Path) -> None:
    c = start_console_server(tmp_path / "data", "--lifecycle-day-seconds", "5", workers=2)
    server = c.server
    try:
        s3 = c.s3()
        bucket = unique_bucket("tasks")
        s3.create_bucket(Bucket=bucket)
        for i in range(12):
            extra = {"ServerSideEncryption": "AES256"} if i % 2 else {}
            # every third one large enough for a blob file of its own (small ones are stored inline)
            body = b"x" * (300_000 if i % 3 == 0 else 100 + i)
            s3.put_object(Bucket=bucket, Key=f"d/{i}", Body=body, **extra)  # type: ignore[arg-type]
        before = time.time()
        assert all(value(scrape(server), "sealbox_task_running", task=t) in (None, 0.0)
                   for t in ("scrub", "gc", "key_rotation", "console_job"))

        # sealbox scrub, its own process: 12 versions checked of 12, no problem, not running any more
        run(server, "scrub")
        m = scrape(server)
        assert value(m, "sealbox_task_items", task="scrub", state="total") == 12
        assert value(m, "sealbox_task_items", task="scrub", state="done") == 12
        assert value(m, "sealbox_task_items", task="scrub", state="failed") == 0
        assert value(m, "sealbox_task_items_processed_total", task="scrub", outcome="done") == 12
        assert value(m, "sealbox_task_running", task="scrub") == 0
        started = value(m, "sealbox_task_last_start_timestamp_seconds", task="scrub")
        ended = value(m, "sealbox_task_last_end_timestamp_seconds", task="scrub")
        assert started is not None and ended is not None and before <= started <= ended <= time.time()

        # A second pass adds to the counter; the gauges describe the latest pass
        run(server, "scrub")
        m = scrape(server)
        assert value(m, "sealbox_task_items_processed_total", task="scrub", outcome="done") == 24
        assert value(m, "sealbox_task_items", task="scrub", state="done") == 12

        # sealbox gc: every blob file examined (the 4 large objects'), none removed (all referenced)
        run(server, "gc")
        m = scrape(server)
        total = value(m, "sealbox_task_items", task="gc", state="total")
        assert total is not None and total >= 4
        assert value(m, "sealbox_task_items", task="gc", state="done") == total
        assert value(m, "sealbox_task_running", task="gc") == 0

        # sealbox keys rotate: every sealed value re-sealed (6 SSE objects, the root credential...)
        run(server, "keys", "rotate")
        m = scrape(server)
        total = value(m, "sealbox_task_items", task="key_rotation", state="total")
        assert total is not None and total >= 6
        assert value(m, "sealbox_task_items", task="key_rotation", state="done") == total
        assert value(m, "sealbox_task_items", task="key_rotation", state="failed") == 0
        assert value(m, "sealbox_task_running", task="key_rotation") == 0

        # the lifecycle worker inside the server: a pass over the bucket's 12 versions
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "never-yet", "Filter": {"Prefix": "other/"}, "Status": "Enabled", "Expiration": {"Days": 30}}]})
        m = wait_for(server, lambda m: (value(m, "sealbox_task_items", task="lifecycle", state="done") or 0) >= 12
                     and value(m, "sealbox_task_items", task="lifecycle", state="total") ==
                     value(m, "sealbox_task_items", task="lifecycle", state="done"))
        assert (value(m, "sealbox_task_items", task="lifecycle", state="done") or 0) >= 12
        assert value(m, "sealbox_task_items", task="lifecycle", state="total") == \
            value(m, "sealbox_task_items", task="lifecycle", state="done")  # no total up front: the count so far
        assert (value(m, "sealbox_task_last_end_timestamp_seconds", task="lifecycle") or 0) >= before

        # a console bulk job (encrypt the folder): 12 of 12, in whichever worker ran it
        s, csrf = http_session(c)
        r = s.post(c.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
                   data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:d/"]})
        assert r.status_code == 303, r.text
        status_url = c.url + r.headers["location"] + "/status"
        for _ in range(300):  # bounded: ~30 s
            got = s.get(status_url, timeout=30).json()
            if got["state"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert got["state"] == "done", got
        m = wait_for(server, lambda m: value(m, "sealbox_task_running", task="console_job") == 0 and
                     value(m, "sealbox_task_items", task="console_job", state="done") == 12)
        assert value(m, "sealbox_task_items", task="console_job", state="total") == 12
        assert value(m, "sealbox_task_items", task="console_job", state="done") == 12
        assert value(m, "sealbox_task_items_processed_total", task="console_job", outcome="done") == 12
        assert value(m, "sealbox_task_running", task="console_job") == 0
        assert "Traceback" not in server.log(), server.log()
    finally:
        server.stop()


def test_a_running_scrub_shows_as_running_and_a_killed_one_does_not_stay_running(tmp_path: Path) -> None:
    from tests.support import running_server

    with running_server(tmp_path / "data", workers=2) as server:
        s3 = server.client()
        bucket = unique_bucket("slow")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(4 * 1024 * 1024))
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        # --rate 0.5 MB/s over 4 MiB: the pass lasts ~8 s
        scrub = subprocess.Popen([str(SEALBOX), "scrub", "--data-dir", str(server.data_dir), "--rate", "0.5"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            m = wait_for(server, lambda m: value(m, "sealbox_task_running", task="scrub") == 1, seconds=20)
            assert value(m, "sealbox_task_running", task="scrub") == 1
            assert value(m, "sealbox_task_items", task="scrub", state="total") == 1
        finally:
            scrub.send_signal(signal.SIGKILL)
            scrub.wait(timeout=10)
        # killed: nothing cleared its flag; the scrape drops the live gauges of processes that are gone
        assert value(scrape(server), "sealbox_task_running", task="scrub") == 0

"""Bucket policies see the console's requests as they see S3 requests: the browser's source
address, TLS, User-Agent and Referer reach aws:SourceIp, aws:SecureTransport, aws:UserAgent and
aws:Referer, so a Deny that stops the S3 API stops the console; bulk jobs act with the context of
the request that started them, also after another worker resumed them.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.console.conftest import Console, start_console_server
from tests.support import SEALBOX, unique_bucket

EVIL_AGENT = "EvilAgent/6.6"


def deny(bucket: str, actions: list[str], condition: dict[str, Any], objects: bool = True) -> str:
    resources = [f"arn:aws:s3:::{bucket}/*"] if objects else []
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": actions,
        "Resource": [f"arn:aws:s3:::{bucket}", *resources], "Condition": condition}]})


def signed_in(console: Console, access_key: str | None = None, secret: str | None = None,
              verify: str | bool = True) -> tuple[requests.Session, str]:
    """A requests session signed in to the console (default: root), and its CSRF token. ``verify``
    goes with each request: REQUESTS_CA_BUNDLE would override a session-wide one."""
    s = requests.Session()
    form = s.get(console.url + "/signin", timeout=30, verify=verify)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = s.post(console.url + "/signin", allow_redirects=False, timeout=30, verify=verify, data={
        "csrf": token.group(1), "access_key": access_key or console.server.access_key,
        "secret_key": secret or console.server.secret_key})
    assert r.status_code == 303, r.text
    page = s.get(console.url + "/buckets", timeout=30, verify=verify)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return s, found.group(1)


def s3_denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc.response
        return True
    return False


def wait_job(s: requests.Session, url: str, job_path: str, polls: int = 1200) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for _ in range(polls):  # bounded: at most ~2 minutes
        got = s.get(url + job_path + "/status", timeout=30).json()
        if got["state"] not in ("listing", "running"):
            return got
        time.sleep(0.1)
    raise AssertionError(f"job did not end: {got}")


def test_a_source_ip_deny_stops_the_console_like_the_s3_api(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("ipdeny")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"internal")
    s, csrf = signed_in(console)
    # An address range that is not ours: everything works, in both.
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(bucket, ["s3:*"], {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"internal"
    assert s.get(console.url + f"/buckets/{bucket}", timeout=30).status_code == 200
    assert s.get(console.url + f"/buckets/{bucket}/download?key=doc.txt", timeout=30).content == b"internal"
    # Our own address: the S3 API refuses, and so does the console, page by page.
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(bucket, ["s3:*"],
                                                    {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert s3_denied(s3.get_object, Bucket=bucket, Key="doc.txt")
    assert s3_denied(s3.list_objects_v2, Bucket=bucket)
    for path in (f"/buckets/{bucket}", f"/buckets/{bucket}/download?key=doc.txt",
                 f"/buckets/{bucket}/object?key=doc.txt", f"/buckets/{bucket}/properties"):
        r = s.get(console.url + path, timeout=30)
        assert r.status_code == 403 and "Access Denied" in r.text, (path, r.status_code)
    r = s.put(console.url + f"/buckets/{bucket}/upload?key=new.txt", data=b"x", headers={"X-CSRF-Token": csrf},
              timeout=30)
    assert r.json() == {"ok": False, "error": f"You are not allowed to upload new.txt to {bucket}: the bucket"
                        " policy does not allow it (AccessDenied)."}
    s.post(console.url + f"/buckets/{bucket}/object/delete", data={"csrf": csrf, "key": "doc.txt"}, timeout=30)
    s3.delete_bucket_policy(Bucket=bucket)  # the owner may always (no lock-out)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc.txt"]  # nothing changed


def test_a_user_agent_or_referer_deny_stops_the_console(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("uadeny")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"aaa")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(deny(bucket, ["s3:GetObject", "s3:PutObject"],
                        {"StringLike": {"aws:UserAgent": "*EvilAgent*"}}))["Statement"][0],
        json.loads(deny(bucket, ["s3:GetObject"],
                        {"StringLike": {"aws:Referer": "https://evil.example/*"}}))["Statement"][0]]}))
    evil_s3 = console.server.client(user_agent_extra=EVIL_AGENT)
    assert s3_denied(evil_s3.get_object, Bucket=bucket, Key="a.txt")
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"aaa"
    s, csrf = signed_in(console)
    download = console.url + f"/buckets/{bucket}/download?key=a.txt"
    assert s.get(download, timeout=30).content == b"aaa"
    assert s.get(download, headers={"User-Agent": EVIL_AGENT}, timeout=30).status_code == 403
    assert s.get(download, headers={"Referer": "https://evil.example/page"}, timeout=30).status_code == 403
    r = s.put(console.url + f"/buckets/{bucket}/upload?key=b.txt", data=b"bbb", timeout=30,
              headers={"X-CSRF-Token": csrf, "User-Agent": EVIL_AGENT})
    assert r.json()["ok"] is False
    r = s.put(console.url + f"/buckets/{bucket}/upload?key=b.txt", data=b"bbb", timeout=30,
              headers={"X-CSRF-Token": csrf})
    assert r.json()["ok"] is True


def test_a_browser_with_a_denied_user_agent_is_refused(browser: Any, console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("uabrowser")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"aaa")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(bucket, ["s3:ListBucket"],
                                                    {"StringLike": {"aws:UserAgent": "*EvilAgent*"}}, objects=False))
    context = browser.new_context(user_agent=f"Mozilla/5.0 {EVIL_AGENT}")
    try:
        page = context.new_page()
        page.goto(console.url + "/signin")
        page.get_by_label("Access key").fill(console.server.access_key)
        page.get_by_label("Secret key").fill(console.server.secret_key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/buckets"))
        page.goto(console.url + f"/buckets/{bucket}")
        assert "Access Denied" in page.locator("main").inner_text()
    finally:
        context.close()


def test_console_encryption_under_a_deny_unencrypted_writes_policy(console: Console) -> None:
    """The console's "Edit server-side encryption" is a CopyObject with x-amz-server-side-encryption:
    the classic "deny PutObject without AES256" lets it encrypt and stops it decrypting."""
    s3 = console.s3()
    bucket = unique_bucket("sseonly")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    s3.put_object(Bucket=bucket, Key="sealed.txt", Body=b"sealed", ServerSideEncryption="AES256")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(bucket, ["s3:PutObject"], {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}))
    assert s3_denied(s3.copy_object, Bucket=bucket, Key="sealed.txt", CopySource=f"{bucket}/sealed.txt",
                     MetadataDirective="COPY")
    s, csrf = signed_in(console)
    s.post(console.url + f"/buckets/{bucket}/object/encryption", timeout=30,
           data={"csrf": csrf, "key": "plain.txt", "sse": "enable"})
    s.post(console.url + f"/buckets/{bucket}/object/encryption", timeout=30,
           data={"csrf": csrf, "key": "sealed.txt", "sse": "disable"})
    assert s3.head_object(Bucket=bucket, Key="plain.txt").get("ServerSideEncryption") == "AES256"
    assert s3.head_object(Bucket=bucket, Key="sealed.txt").get("ServerSideEncryption") == "AES256"


def test_a_bulk_job_acts_with_the_context_of_the_request_that_started_it(console: Console) -> None:
    s3 = console.s3()
    bucket = unique_bucket("jobctx")
    s3.create_bucket(Bucket=bucket)
    keys = [f"d/{i}" for i in range(6)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(bucket, ["s3:DeleteObject"],
                                                    {"StringLike": {"aws:UserAgent": "*EvilAgent*"}}))
    s, csrf = signed_in(console)
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               headers={"User-Agent": EVIL_AGENT}, data={"csrf": csrf, "op": "delete", "sel": ["p:d/"]})
    assert r.status_code == 303
    got = wait_job(s, console.url, r.headers["location"])  # polled with an ordinary user agent
    assert got["state"] == "done" and got["failed"] == len(keys) and got["succeeded"] == 0, got
    assert {f["reason"] for f in got["failures"]} == {
        f"You are not allowed to delete {k} from {bucket}: the bucket policy does not allow it (AccessDenied)."
        for k in keys}
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == len(keys)
    r = s.post(console.url + f"/buckets/{bucket}/jobs", allow_redirects=False, timeout=30,
               data={"csrf": csrf, "op": "delete", "sel": ["p:d/"]})
    got = wait_job(s, console.url, r.headers["location"])
    assert got["state"] == "done" and got["succeeded"] == len(keys), got
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_resumed_job_keeps_the_context_of_the_request_that_started_it(tmp_path: Path) -> None:
    """Alice may write the bucket only from one user agent; her job, cut short by a restart and
    resumed by a worker that knows nothing but the console store, still acts with it."""
    data_dir = tmp_path / "data"
    c = start_console_server(data_dir, workers=2)
    keys = [f"big/{i:04d}" for i in range(300)]
    try:
        s3 = c.s3()
        s3.create_bucket(Bucket="resume-ctx")
        for key in keys:
            s3.put_object(Bucket="resume-ctx", Key=key, Body=b"y" * 100)
        out = subprocess.run([str(SEALBOX), "users", "add", "alice", "--data-dir", str(data_dir), "--json"],
                             capture_output=True, text=True, timeout=60, check=True)
        alice = json.loads(out.stdout)
        s3.put_bucket_policy(Bucket="resume-ctx", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["alice"]},
            "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"],
            "Resource": ["arn:aws:s3:::resume-ctx", "arn:aws:s3:::resume-ctx/*"],
            "Condition": {"StringLike": {"aws:UserAgent": "GoodAgent/*"}}}]}))
        s, csrf = signed_in(c, alice["access_key"], alice["secret_key"])
        r = s.post(c.url + "/buckets/resume-ctx/jobs", allow_redirects=False, timeout=30,
                   headers={"User-Agent": "GoodAgent/1.0"},
                   data={"csrf": csrf, "op": "encryption", "sse": "enable", "sel": ["p:big/"]})
        assert r.status_code == 303, r.text
        job_path = r.headers["location"]
    finally:
        c.server.stop(signal.SIGKILL)  # at once: 300 rewrites cannot be done yet
    c = start_console_server(data_dir, workers=2)
    try:
        first = s.get(c.url + job_path + "/status", timeout=30).json()
        assert first["state"] in ("listing", "running") and first["done"] < len(keys)  # it was cut short
        got = wait_job(s, c.url, job_path)  # polled with requests' own user agent
        assert got["state"] == "done" and got["succeeded"] == len(keys) and got["failed"] == 0, got
        assert "resuming here" in c.server.log()
        states = {c.s3().head_object(Bucket="resume-ctx", Key=k).get("ServerSideEncryption") for k in keys}
        assert states == {"AES256"}
    finally:
        c.server.stop()


@pytest.fixture(scope="module")
def tls_console(tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = start_console_server(tmp_path_factory.mktemp("tlsctx") / "data", tls=True)
    yield c
    c.server.stop()


def test_a_console_over_https_is_secure_transport(tls_console: Console) -> None:
    """"Deny unless aws:SecureTransport" stops plain HTTP on both APIs, and lets the HTTPS console in."""
    c = tls_console
    tls_s3 = c.server.client(tls=True)
    bucket = unique_bucket("tlsonly")
    tls_s3.create_bucket(Bucket=bucket)
    tls_s3.put_object(Bucket=bucket, Key="k", Body=b"over tls")
    tls_s3.put_bucket_policy(Bucket=bucket, Policy=deny(
        bucket, ["s3:*"], {"Bool": {"aws:SecureTransport": "false"}}))
    assert s3_denied(c.s3().get_object, Bucket=bucket, Key="k")
    cert = str(c.server.cert)
    s, _ = signed_in(c, verify=cert)
    assert s.get(c.url + f"/buckets/{bucket}", timeout=30, verify=cert).status_code == 200
    assert s.get(c.url + f"/buckets/{bucket}/download?key=k", timeout=30, verify=cert).content == b"over tls"

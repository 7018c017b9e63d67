"""CORS in a real browser: headless Chromium on a page from another origin talks to sealbox.

The page is served from another port on loopback (another origin). Its script uploads with a
presigned PUT carrying ``x-amz-server-side-encryption`` (so Chromium sends a preflight naming that
header), uploads with a POST Object form (``fetch`` with ``FormData``), and reads the object back
with a presigned GET, reading ``ETag`` and ``x-amz-server-side-encryption`` from the responses
(which the rule's ExposeHeader lets it). With the rule removed, Chromium blocks the same calls: the
preflight of the PUT is refused, so the PUT is never sent; the form POST and the GET are "simple"
requests, which a browser sends without asking, but their answers are withheld from the page (as
on AWS: CORS decides what a page may read, not what it may send — a bucket policy decides that).

Chromium is Debian's /usr/bin/chromium driven by Playwright, as the console tests do.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import Server

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title></head>
<body><p>A page of another origin.</p>
<script>
async function attempt(call) {
  try { return await call(); } catch (e) { return {error: String(e)}; }
}
window.presignedPut = (url, text) => attempt(async () => {
  const r = await fetch(url, {method: "PUT", headers: {"x-amz-server-side-encryption": "AES256"},
                              body: new Blob([text])});
  return {status: r.status, etag: r.headers.get("ETag"), sse: r.headers.get("x-amz-server-side-encryption")};
});
window.postForm = (url, fields, text) => attempt(async () => {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([text]), "hello.txt");
  const r = await fetch(url, {method: "POST", body: form});
  return {status: r.status, body: await r.text(), etag: r.headers.get("ETag")};
});
window.presignedGet = (url) => attempt(async () => {
  const r = await fetch(url);
  return {status: r.status, body: await r.text(), sse: r.headers.get("x-amz-server-side-encryption")};
});
</script></body></html>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The test page's origin: another port on loopback, served from a thread of this process."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="cors-test-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)




@pytest.fixture
def page(browser: Any, page_origin: str) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context()  # a fresh profile: no preflight answers cached from another test
    context.set_default_timeout(20_000)
    p = context.new_page()
    console: list[str] = []
    p.on("console", lambda msg: console.append(msg.text))
    p.goto(page_origin + "/")
    yield p, console
    context.close()


def _rule(origin: str) -> dict[str, Any]:
    return {"CORSRules": [{"AllowedOrigins": [origin], "AllowedMethods": ["PUT", "POST", "GET"],
                           "AllowedHeaders": ["x-amz-server-side-encryption"],
                           "ExposeHeaders": ["ETag", "x-amz-server-side-encryption"], "MaxAgeSeconds": 5}]}


def _post_fields(s3: Any, bucket: str, key: str) -> tuple[str, dict[str, str]]:
    post = s3.generate_presigned_post(
        bucket, key, Fields={"x-amz-server-side-encryption": "AES256", "success_action_status": "201"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}, {"success_action_status": "201"}], ExpiresIn=300)
    return post["url"], post["fields"]


def test_browser_uploads_and_reads_back_across_origins(server: Server, s3: Any, bucket: str,
                                                       page_origin: str, page: tuple[Any, list[str]]) -> None:
    p, _ = page
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=_rule(page_origin))

    put_url = s3.generate_presigned_url("put_object", ExpiresIn=300, Params={
        "Bucket": bucket, "Key": "from-browser.txt", "ServerSideEncryption": "AES256"})
    put = p.evaluate("([url, text]) => presignedPut(url, text)", [put_url, "uploaded by Chromium"])
    assert put.get("status") == 200, put
    assert put["sse"] == "AES256" and put["etag"].startswith('"')  # readable: exposed by the rule
    head = s3.head_object(Bucket=bucket, Key="from-browser.txt")
    assert head["ServerSideEncryption"] == "AES256" and head["ETag"] == put["etag"]

    url, fields = _post_fields(s3, bucket, "form.txt")
    posted = p.evaluate("([url, fields, text]) => postForm(url, fields, text)", [url, fields, "posted by a form"])
    assert posted.get("status") == 201, posted
    assert "<Key>form.txt</Key>" in posted["body"] and posted["etag"]
    assert s3.head_object(Bucket=bucket, Key="form.txt")["ServerSideEncryption"] == "AES256"

    for key, text in (("from-browser.txt", "uploaded by Chromium"), ("form.txt", "posted by a form")):
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        got = p.evaluate("(url) => presignedGet(url)", get_url)
        assert got == {"status": 200, "body": text, "sse": "AES256"}


def test_browser_is_blocked_once_the_rule_is_removed(server: Server, s3: Any, bucket: str, page_origin: str,
                                                     page: tuple[Any, list[str]]) -> None:
    p, console = page
    s3.put_object(Bucket=bucket, Key="readable.txt", Body=b"secret to other origins", ServerSideEncryption="AES256")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=_rule(page_origin))
    s3.delete_bucket_cors(Bucket=bucket)

    put_url = s3.generate_presigned_url("put_object", ExpiresIn=300, Params={
        "Bucket": bucket, "Key": "blocked.txt", "ServerSideEncryption": "AES256"})
    put = p.evaluate("([url, text]) => presignedPut(url, text)", [put_url, "never sent"])
    assert "Failed to fetch" in put.get("error", ""), put
    with pytest.raises(ClientError):  # the preflight was refused: the PUT itself never left the browser
        s3.head_object(Bucket=bucket, Key="blocked.txt")

    url, fields = _post_fields(s3, bucket, "blocked-form.txt")
    posted = p.evaluate("([url, fields, text]) => postForm(url, fields, text)", [url, fields, "posted"])
    assert "Failed to fetch" in posted.get("error", ""), posted

    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "readable.txt"}, ExpiresIn=300)
    got = p.evaluate("(url) => presignedGet(url)", get_url)
    assert "Failed to fetch" in got.get("error", ""), got

    blocked = [m for m in console if "blocked by CORS policy" in m]
    assert len(blocked) >= 3, console  # Chromium says why: once per call
    assert any("preflight" in m for m in blocked), blocked

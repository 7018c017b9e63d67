"""What CORS costs a request at the S3 edge, in process (``python bench/cors.py``).

The S3 app reads ``Origin`` from the request headers once; only a request that carries one asks
``sealbox.http.cors.response_headers`` for the bucket's matching rule: the worker's memo of the stored
text (kept until a bucket changes, like bucket rows), then the parse of that text (cached by text),
then the rules in order. This times each step against a real SQLite metadata store, for a bucket
without CORS, with 3 rules (match on the first, on the last, none) and with 100 rules (no match:
the worst case), and a preflight answer. Figures: median of 7 rounds, µs per request.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sealbox.core.types import Bucket
from sealbox.http.cors import preflight, response_headers
from sealbox.http.request import Incoming
from sealbox.service.buckets import BucketService
from sealbox.service.cors import CorsConfiguration, CorsRule, CorsService
from sealbox.service.identity import ROOT, Principal
from sealbox.storage.meta.sqlite import SqliteMetaStore

HEADERS = {"host": "127.0.0.1:9000", "user-agent": "bench", "accept": "*/*", "x-amz-date": "20261127T120000Z",
           "authorization": "AWS4-HMAC-SHA256 Credential=...", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}


def _time(call: Callable[[], object], n: int, rounds: int = 7) -> float:
    """Median µs per call over ``rounds`` rounds of ``n`` calls."""
    per = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            call()
        per.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(per)


def _rules(count: int) -> CorsConfiguration:
    rules = [CorsRule(("GET", "PUT"), (f"https://app{i}.example", f"http://*.site{i}.example"),
                      ("x-amz-*", "content-type"), ("ETag",), 600) for i in range(count)]
    return CorsConfiguration(tuple(rules))


async def _no_body() -> bytes | None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20000, help="calls per round (default 20000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        meta = SqliteMetaStore(Path(tmp) / "meta.sqlite3")
        buckets = BucketService(meta, "us-east-1", None)
        service = CorsService(meta, buckets)
        root = Principal(ROOT, "AKBENCH")
        for name, count in (("plain", 0), ("three", 3), ("hundred", 100)):
            meta.create_bucket(Bucket(name, ROOT, time.time(), "us-east-1"))
            if count:
                service.put(root, name, _rules(count))
        no_origin = dict(HEADERS)
        rows = [("no Origin header (the S3 app's one lookup)", lambda: no_origin.get("origin"))]
        for label, bucket, origin in (
                ("Origin, bucket without CORS", "plain", "https://app0.example"),
                ("Origin, 3 rules, first matches", "three", "https://app0.example"),
                ("Origin, 3 rules, last matches (wildcard)", "three", "http://www.site2.example"),
                ("Origin, 3 rules, none matches", "three", "https://elsewhere.example"),
                ("Origin, 100 rules, none matches", "hundred", "https://elsewhere.example")):
            headers = {**HEADERS, "origin": origin}
            rows.append((label, lambda b=bucket, h=headers, o=origin: response_headers(service, b, "GET", h, o)))
        pre = Incoming(method="OPTIONS", raw_path="/three/k", raw_query="", query={},
                       headers={**HEADERS, "origin": "https://app0.example", "access-control-request-method": "PUT",
                                "access-control-request-headers": "x-amz-server-side-encryption, content-type"},
                       receive=_no_body, secure=False, client_ip="127.0.0.1", request_id="BENCH",
                       bucket="three", key="k")
        rows.append(("preflight answer (OPTIONS, 3 rules, first matches)", lambda: preflight(service, pre)))
        width = max(len(label) for label, _ in rows)
        print(f"{'case':<{width}}  µs/request")
        for label, call in rows:
            call()  # warm the memo and the parse cache, as a worker does after its first request
            print(f"{label:<{width}}  {_time(call, args.n):8.2f}")
        meta.close()


if __name__ == "__main__":
    main()

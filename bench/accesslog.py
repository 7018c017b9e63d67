"""In-process cost of what sealbox.ops adds to every request: the access-log line, the request
metrics (prometheus_client in multiprocess mode, as the server runs it) and the observer around them.

    .venv/bin/python bench/accesslog.py [--n 200000]

Prints microseconds per request for: metrics only (access log off, the default), metrics + an
access-log line written to a file, and the access-log line alone. Compare with the server CPU time of
a 4 KiB GET (bench/run.py reports it, "srv CPU/op").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000, help="requests to simulate per case")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sealbox-accesslog-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work)  # before prometheus_client is imported

    from sealbox.http.request import Incoming, Response
    from sealbox.http.router import Op, Route
    from sealbox.ops.accesslog import AccessLog
    from sealbox.ops.health import OpsEndpoints
    from sealbox.ops.metrics import metrics
    from sealbox.ops.observe import RequestObserver
    from sealbox.service.identity import Principal

    async def receive() -> dict[str, object]:
        return {}

    request = Incoming(method="GET", raw_path="/bench/obj-000123", raw_query="", query={},
                       headers={"host": "127.0.0.1:9000", "user-agent": "sealbox-bench/1.0"}, receive=receive,
                       secure=False, client_ip="127.0.0.1", request_id="0123456789ABCDEF", bucket="bench",
                       key="obj-000123", route=Route(Op.GET_OBJECT, "bench", "obj-000123"),
                       principal=Principal("root", "SBTESTROOTACCESSKEY1"))
    response = Response(200, {"x-amz-server-side-encryption": "AES256"})

    class FakeExchange:
        bytes_in = 0
        bytes_out = 4096

    exchange = FakeExchange()
    m = metrics()
    endpoints = OpsEndpoints(None, lambda: None)  # type: ignore[arg-type]

    def run(observer: RequestObserver) -> float:
        start = time.perf_counter()
        for _ in range(args.n):
            began = time.perf_counter()
            observer.started()
            observer.finished(request, response, exchange, began, 1.7e9)  # type: ignore[arg-type]
        return (time.perf_counter() - start) / args.n * 1e6

    off = AccessLog("off")
    to_file = AccessLog(str(work / "access.log"))
    results = {
        "metrics, access log off (default)": run(RequestObserver(off, m, endpoints)),
        "metrics + access log to a file": run(RequestObserver(to_file, m, endpoints)),
        "access log to a file, no metrics": run(RequestObserver(to_file, None, endpoints)),
        "neither (observer call only)": run(RequestObserver(off, None, endpoints)),
    }
    for name, micros in results.items():
        print(f"{name:<40} {micros:6.2f} µs/request")
    to_file.close()
    for path in work.iterdir():
        path.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()

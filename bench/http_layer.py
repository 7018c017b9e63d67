"""CPU per request of the HTTP layer alone (sealbox.http.connection), in process, without sockets.

A fake transport feeds ``HttpConnection`` one request at a time on one keep-alive connection and
an app answers a 4 KiB body (GET) or reads a 4 KiB body and answers empty (PUT), so what is
measured is parsing, the Exchange, the response head and the bookkeeping (limits, caps) — the part
of every request this layer adds. Run it against two source trees to compare them:

    PYTHONPATH=/path/to/tree .venv/bin/python bench/http_layer.py [--requests N] [--rounds R]

It prints microseconds of CPU (process time) per request, min and median over the rounds. On a
busy machine, instructions are steadier than time: run it under ``valgrind --tool=callgrind`` with
``--rounds 1 --op GET`` at two request counts; the difference of the totals over the difference of
the counts is the instructions one request costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop

from sealbox.http import connection as http

BODY = b"x" * 4096
GET = (b"GET /bucket/key HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUser-Agent: bench\r\nAccept-Encoding: identity\r\n"
       b"X-Amz-Date: 20261127T000000Z\r\nX-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\n"
       b"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/s3/aws4_request, "
       b"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + b"0" * 64 + b"\r\n\r\n")
PUT = GET.replace(b"GET ", b"PUT ", 1).replace(b"\r\n\r\n", b"\r\nContent-Length: 4096\r\n\r\n", 1) + BODY


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.waiter: asyncio.Future[None] | None = None

    def write(self, data: Any) -> None:
        self.responses += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))

    def close(self) -> None:
        raise AssertionError("the connection closed")

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class App:
    def __init__(self, put: bool) -> None:
        self.put = put
        self.head = [("content-length", str(0 if put else len(BODY))), ("etag", '"abc"'), ("server", "sealbox"),
                     ("x-amz-request-id", "0123456789ABCDEF"), ("last-modified", "Fri, 27 Nov 2026 00:00:00 GMT")]

    async def __call__(self, exchange: Any) -> None:
        if self.put:
            while True:
                piece = await exchange.receive()
                if piece is None or isinstance(piece, dict) and not piece.get("more_body"):
                    break
            exchange.start(200, self.head, b"")
        else:
            exchange.start(200, self.head, BODY)

    def refusal(self, refusal: Any, message: str) -> Any:
        raise AssertionError(f"refused: {refusal}")


async def one_round(put: bool, requests: int, caps: bool) -> float:
    kwargs: dict[str, Any] = {"connections": http.ConnectionSet()}
    if caps:
        try:  # the default caps (trees from before the caps have a plain set)
            kwargs["connections"] = http.ConnectionSet(1024, 256 << 20)
        except TypeError:
            pass
    conn = http.HttpConnection(App(put), secure=False, timeout=30, **kwargs)
    transport = Transport()
    conn.connection_made(transport)
    loop = asyncio.get_running_loop()
    data = PUT if put else GET
    start = time.process_time()
    for _ in range(requests):
        transport.waiter = loop.create_future()
        conn.data_received(data)
        await transport.waiter
    elapsed = time.process_time() - start
    assert transport.responses == requests
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--op", choices=("GET", "PUT"), help="only this one (e.g. under valgrind)")
    parser.add_argument("--no-caps", action="store_true", help="no connection or body-memory caps")
    args = parser.parse_args()
    for put in (False, True):
        if args.op and args.op != ("PUT" if put else "GET"):
            continue
        results = [uvloop.run(one_round(put, args.requests, not args.no_caps)) for _ in range(args.rounds)]
        print(f"{'PUT' if put else 'GET'} 4 KiB: {min(results):.2f} us/request min, "
              f"{statistics.median(results):.2f} median ({args.rounds} x {args.requests}) [{http.__file__}]")


if __name__ == "__main__":
    main()

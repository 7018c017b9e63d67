"""sealbox.http.connection driven through a fake transport: pipelining, 100-continue, limits,
timeouts, response framing, and the transport's own answers rendered by the app's hook.

(The same layer seen from real sockets: tests/hostile/test_http_connection.py, test_raw_http.py,
test_slow_clients.py; the caps on a real server: tests/hostile/test_overload.py.)
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sealbox.http import connection as connection_module
from sealbox.http.connection import (
    BODY_BUFFER,
    BODY_RESERVE,
    LINGER_BYTES,
    MAX_HEAD_BYTES,
    MAX_PIPELINED,
    ConnectionSet,
)
from sealbox.http.exchange import BodyIncomplete, BodyTimeout, Exchange, Refusal
from tests.support import run_async
from tests.unit.http.wire import App, Wire, get, ok_handler, put


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 10)

    run_async(bounded())


# -- pipelining --------------------------------------------------------------------------------------

def test_pipelined_requests_are_answered_in_order_one_at_a_time() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        running: list[str] = []

        async def handler(exchange: Exchange) -> None:
            running.append(exchange.raw_path)
            if exchange.raw_path == "/a":
                await gate.wait()
            await ok_handler(exchange)

        wire = Wire(App(handler))
        wire.send(get("/a") + get("/b") + put("/c", b"xyz"))
        await wire.settle()
        assert running == ["/a"]  # the others wait
        assert not wire.transport.reading  # and nothing more is read meanwhile
        gate.set()
        await wire.settle()
        assert running == ["/a", "/b", "/c"]
        assert [r.body for r in wire.responses()] == [b"GET /a 0", b"GET /b 0", b"PUT /c 3"]
        assert wire.transport.reading and not wire.transport.ended  # keep-alive

    run(scenario)


def test_pipelining_depth_is_bounded() -> None:
    """A flood of pipelined requests in one read is not parsed into an unbounded queue: the first
    MAX_PIPELINED behind the current one are answered, the next gets the overload refusal, and the
    connection closes after it."""
    async def scenario() -> None:
        gate = asyncio.Event()

        async def handler(exchange: Exchange) -> None:
            await gate.wait()
            await ok_handler(exchange)

        connections = ConnectionSet()
        wire = Wire(App(handler), connections=connections)
        wire.send(b"".join(get(f"/{i}") for i in range(MAX_PIPELINED + 50)))
        await wire.settle()
        assert len(wire.conn._queue) == MAX_PIPELINED + 1  # the refusal queued last
        gate.set()
        await wire.settle(200)
        responses = wire.responses()
        assert [r.status for r in responses] == [200] * (MAX_PIPELINED + 1) + [503]
        assert responses[-1].headers["x-refusal"] == "overloaded"
        assert responses[-1].headers["connection"] == "close"
        assert wire.transport.ended

    run(scenario)


def test_pipelined_heads_waiting_hold_at_most_one_head_limit() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def handler(exchange: Exchange) -> None:
            await gate.wait()
            await ok_handler(exchange)

        wire = Wire(App(handler))
        big = "X-Pad: " + "p" * (MAX_HEAD_BYTES // 3) + "\r\n"
        wire.send(get("/0") + b"".join(get(f"/{i}", big) for i in range(1, 5)))
        await wire.settle()
        gate.set()
        await wire.settle(100)
        assert [r.status for r in wire.responses()] == [200, 200, 200, 503]  # two thirds of a head wait, not three
        assert wire.transport.ended

    run(scenario)


def test_a_pipelined_body_counts_against_the_body_memory_cap() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def handler(exchange: Exchange) -> None:
            await gate.wait()
            await ok_handler(exchange)

        connections = ConnectionSet(max_body_memory=BODY_RESERVE + 100)
        wire = Wire(App(handler), connections=connections)
        wire.send(put("/big", b"a" * 1000, length=10 * BODY_RESERVE))  # reserves BODY_RESERVE
        await wire.settle()
        other = Wire(App(handler), connections=connections)
        other.send(put("/small", b"b" * 50) + put("/second", b"c" * 60))  # 50 fits, 60 more does not
        await other.settle()
        assert connections.body_memory == BODY_RESERVE + 50
        gate.set()
        await other.settle()
        assert [r.status for r in other.responses()] == [200, 503]
        assert other.transport.ended
        await wire.settle()
        assert connections.body_memory == BODY_RESERVE  # /small's share came back, /big still holds its own
        wire.transport.close()
        await wire.settle()
        assert connections.body_memory == 0

    run(scenario)


# -- 100-continue and Expect -----------------------------------------------------------------------------

def test_100_continue_goes_out_when_the_app_first_asks_for_the_body() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(put("/k", b"", "Expect: 100-continue\r\n", length=5))
        await wire.settle()
        assert wire.transport.out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        wire.send(b"hello")
        await wire.settle()
        interim, final = wire.responses()
        assert (interim.status, final.status, final.body) == (100, 200, b"PUT /k 5")

    run(scenario)


def test_no_100_continue_for_an_early_answer_and_the_connection_closes() -> None:
    async def scenario() -> None:
        async def refuse(exchange: Exchange) -> None:
            exchange.start(403, [("content-length", "0")])

        wire = Wire(App(refuse))
        wire.send(put("/k", b"", "Expect: 100-continue\r\n", length=5))
        await wire.settle()
        (response,) = wire.responses()
        assert response.status == 403 and response.headers["connection"] == "close"
        assert b"100 Continue" not in wire.transport.out
        assert wire.transport.ended  # the client may never send that body

    run(scenario)


@pytest.mark.parametrize("expect", ["something-else", "100-continue, x-other"])
def test_an_unknown_expectation_gets_417_from_the_hook(expect: str) -> None:
    async def scenario() -> None:
        app = App()
        wire = Wire(app)
        wire.send(put("/k", b"hello", f"Expect: {expect}\r\n"))
        await wire.settle()
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (417, "expectation-failed")
        assert app.calls == 0 and wire.transport.ended

    run(scenario)


def test_http_1_0_ignores_100_continue() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(b"PUT /k HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
        await wire.settle()
        assert b"100 Continue" not in wire.transport.out
        (response,) = wire.responses()
        assert response.body == b"PUT /k 2"

    run(scenario)


# -- limits --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pieces", [1, 40], ids=["one piece", "many pieces"])
def test_a_head_over_the_limit_is_refused_through_the_hook(pieces: int) -> None:
    async def scenario() -> None:
        app = App()
        wire = Wire(app)
        head = get("/", "X-Big: " + "a" * MAX_HEAD_BYTES + "\r\n")
        step = len(head) // pieces + 1
        for i in range(0, len(head), step):
            wire.send(head[i:i + step])
        await wire.settle()
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (431, "head-too-large")
        assert app.calls == 0 and wire.transport.ended

    run(scenario)


def test_a_head_just_under_the_limit_is_served() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(get("/", "X-Big: " + "a" * (MAX_HEAD_BYTES - 100) + "\r\n"))
        await wire.settle()
        assert [r.status for r in wire.responses()] == [200]

    run(scenario)


def test_reading_pauses_while_a_full_body_buffer_waits_for_the_app() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def slow(exchange: Exchange) -> None:
            await gate.wait()
            await ok_handler(exchange)

        wire = Wire(App(slow))
        wire.send(put("/k", b"", length=3 * BODY_BUFFER))
        for _ in range(BODY_BUFFER // 65536):
            wire.send(b"x" * 65536)
        assert not wire.transport.reading
        gate.set()
        await wire.settle()
        assert wire.transport.reading  # the app took what was buffered

    run(scenario)


def test_receive_returns_the_pieces_then_none() -> None:
    async def scenario() -> None:
        got: list[bytes | None] = []

        async def handler(exchange: Exchange) -> None:
            got.append(await exchange.receive())
            got.append(await exchange.receive())
            got.append(await exchange.receive())
            exchange.start(204, [])

        wire = Wire(App(handler))
        wire.send(put("/k", b"ab", length=4))
        await wire.settle()
        wire.send(b"cd")
        await wire.settle()
        assert got == [b"ab", b"cd", None]

    run(scenario)


def test_a_get_receives_none_at_once() -> None:
    async def scenario() -> None:
        got: list[bytes | None] = []

        async def handler(exchange: Exchange) -> None:
            got.append(await exchange.receive())
            exchange.start(204, [])

        wire = Wire(App(handler))
        wire.send(get())
        await wire.settle()
        assert got == [None]

    run(scenario)


# -- timeouts and half-close ---------------------------------------------------------------------------

def test_an_incomplete_head_times_out_through_the_hook() -> None:
    async def scenario() -> None:
        wire = Wire(App(), timeout=0.05)
        wire.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        await asyncio.sleep(0.2)
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (408, "head-timeout")
        assert wire.transport.ended

    run(scenario)


def test_a_silent_connection_is_closed_without_an_answer() -> None:
    async def scenario() -> None:
        wire = Wire(App(), timeout=0.05)
        await asyncio.sleep(0.2)
        assert wire.transport.ended and wire.transport.out == b""

    run(scenario)


def test_a_silent_body_fails_receive_with_body_timeout() -> None:
    async def scenario() -> None:
        seen: list[type[BaseException]] = []

        async def handler(exchange: Exchange) -> None:
            try:
                while await exchange.receive() is not None:
                    pass
            except BodyTimeout as exc:
                seen.append(type(exc))
                exchange.start(400, [("content-length", "0")])

        wire = Wire(App(handler), timeout=0.05)
        wire.send(put("/k", b"abc", length=100))
        await asyncio.sleep(0.2)
        assert seen == [BodyTimeout]
        assert [r.status for r in wire.responses()] == [400] and wire.transport.ended

    run(scenario)


def test_an_idle_keep_alive_connection_is_closed() -> None:
    async def scenario() -> None:
        wire = Wire(App(), idle_timeout=0.05)
        wire.send(get())
        await wire.settle()
        assert not wire.transport.ended
        await asyncio.sleep(0.2)
        assert wire.transport.ended

    run(scenario)


def test_a_client_that_reads_nothing_of_a_response_is_dropped() -> None:
    async def scenario() -> None:
        ended = asyncio.Event()

        async def stream(exchange: Exchange) -> None:
            exchange.start(200, [("content-length", str(10 * 65536))], end=False)
            for _ in range(10):
                await exchange.write(b"z" * 65536)
                if exchange.client_gone:
                    break
            ended.set()
            exchange.finish()

        wire = Wire(App(stream), timeout=0.05)
        wire.conn.pause_writing()  # the socket's buffer is full and stays full
        wire.send(get())
        await asyncio.wait_for(ended.wait(), 2)
        assert wire.transport.aborted

    run(scenario)


def test_a_half_close_after_part_of_the_body_still_gets_its_answer() -> None:
    async def scenario() -> None:
        seen: list[str] = []

        async def handler(exchange: Exchange) -> None:
            try:
                while await exchange.receive() is not None:
                    pass
            except BodyIncomplete:
                seen.append("incomplete")
                exchange.start(400, [("content-length", "0")])

        wire = Wire(App(handler))
        wire.send(put("/k", b"abc", length=10))
        await wire.settle()
        assert wire.conn.eof_received() is True  # keep the write side open for the answer
        await wire.settle()
        assert seen == ["incomplete"] and [r.status for r in wire.responses()] == [400]
        assert wire.transport.ended

    run(scenario)


# -- lingering close -----------------------------------------------------------------------------------

def test_after_an_early_answer_what_still_arrives_is_dropped_until_the_client_closes() -> None:
    """Closing with unread input would reset the connection, and a reset can destroy the answer
    before the client reads it: the sending side is shut and the rest of the body dropped."""
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(put("/k", b"x" * 1000, "Expect: nonsense\r\n", length=10_000_000))
        await wire.settle()
        assert wire.transport.eof_sent and not wire.transport.closed
        written = len(wire.transport.out)
        for _ in range(10):
            wire.send(b"y" * 65536)  # the rest of the body: dropped, nothing parsed or answered
        assert len(wire.transport.out) == written and wire.transport.reading
        assert wire.conn.eof_received() is False  # the client's close: the transport closes now

    run(scenario)


def test_lingering_is_bounded_in_bytes() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(put("/k", b"", "Expect: nonsense\r\n", length=100_000_000))
        for _ in range(LINGER_BYTES // 65536 + 1):
            wire.send(b"y" * 65536)
        assert wire.transport.closed

    run(scenario)


def test_lingering_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "LINGER_SECONDS", 0.05)

    async def scenario() -> None:
        wire = Wire(App())
        wire.send(put("/k", b"", "Expect: nonsense\r\n", length=100))
        await asyncio.sleep(0.2)
        assert wire.transport.closed

    run(scenario)


def test_a_plain_connection_close_does_not_linger() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(get("/", "Connection: close\r\n"))
        await wire.settle()
        assert wire.transport.closed and not wire.transport.eof_sent

    run(scenario)


# -- response framing ----------------------------------------------------------------------------------

def test_a_body_shorter_than_its_content_length_is_logged_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async def short(exchange: Exchange) -> None:
            exchange.start(200, [("content-length", "10")], b"abc", end=False)
            await exchange.write(b"de")
            exchange.finish()

        app = App(short)
        wire = Wire(app)
        wire.send(get("/a") + get("/b"))
        await wire.settle()
        assert wire.transport.ended and app.calls == 1  # never a client waiting for 5 more bytes
        assert wire.transport.out.endswith(b"abcde")

    with caplog.at_level(logging.ERROR, "sealbox.http"):
        run(scenario)
    assert "5 bytes short of its content-length" in caplog.text


def test_a_body_longer_than_its_content_length_is_cut_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async def long(exchange: Exchange) -> None:
            exchange.start(200, [("content-length", "4")], b"abc", end=False)
            await exchange.write(b"defgh")
            await exchange.write(b"ijk")
            exchange.finish()

        wire = Wire(App(long))
        wire.send(get("/a") + get("/b"))
        await wire.settle()
        (response,) = wire.responses()
        assert response.body == b"abcd" and wire.transport.out.endswith(b"\r\n\r\nabcd")
        assert wire.transport.ended

    with caplog.at_level(logging.ERROR, "sealbox.http"):
        run(scenario)
    assert "longer than its content-length" in caplog.text


def test_a_whole_body_longer_than_its_content_length_is_cut() -> None:
    async def scenario() -> None:
        async def long(exchange: Exchange) -> None:
            exchange.start(200, [("content-length", "2")], b"abc")

        wire = Wire(App(long))
        wire.send(get())
        await wire.settle()
        assert wire.transport.out.endswith(b"\r\n\r\nab") and wire.transport.ended

    run(scenario)


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_carry_no_content_length_and_no_body(status: int) -> None:
    async def scenario() -> None:
        async def handler(exchange: Exchange) -> None:
            exchange.start(status, [("content-length", "0"), ("etag", '"x"')], b"")

        wire = Wire(App(handler))
        wire.send(get() + get())
        await wire.settle()
        out = bytes(wire.transport.out)
        assert b"content-length" not in out.lower() and b"transfer-encoding" not in out.lower()
        assert out.count(b"etag") == 2 and not wire.transport.ended  # still keep-alive

    run(scenario)


def test_head_keeps_the_content_length_and_sends_no_body() -> None:
    async def scenario() -> None:
        async def handler(exchange: Exchange) -> None:
            exchange.start(200, [("content-length", "5")], end=False)
            await exchange.write(b"hello")
            exchange.finish()

        wire = Wire(App(handler))
        wire.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get())
        await wire.settle()
        out = bytes(wire.transport.out)
        assert out.count(b"content-length: 5\r\n") == 2 and out.endswith(b"\r\n\r\nhello")
        assert out.count(b"hello") == 1 and not wire.transport.ended

    run(scenario)


def test_a_streamed_body_without_content_length_is_chunked() -> None:
    async def scenario() -> None:
        async def handler(exchange: Exchange) -> None:
            exchange.start(200, [], b"ab", end=False)
            await exchange.write(b"cde")
            exchange.finish()

        wire = Wire(App(handler))
        wire.send(get())
        await wire.settle()
        (response,) = wire.responses()
        assert response.headers["transfer-encoding"] == "chunked" and response.body == b"abcde"

    run(scenario)


# -- the transport's own answers -----------------------------------------------------------------------

def test_malformed_http_is_refused_through_the_hook() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(b"\x00\x01garbage\r\n\r\n")
        await wire.settle()
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (400, "malformed")
        assert wire.transport.ended

    run(scenario)


def test_garbage_behind_a_request_is_answered_after_it() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(get("/a") + b"NOT HTTP AT ALL\r\n\r\n")
        await wire.settle()
        assert [r.status for r in wire.responses()] == [200, 400]
        assert wire.transport.ended

    run(scenario)


def test_a_request_without_host_is_refused_through_the_hook() -> None:
    async def scenario() -> None:
        wire = Wire(App())
        wire.send(b"GET / HTTP/1.1\r\n\r\n")
        await wire.settle()
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (400, "no-host")

    run(scenario)


def test_an_app_that_fails_before_answering_is_answered_through_the_hook(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async def broken(exchange: Exchange) -> None:
            raise RuntimeError("bug")

        wire = Wire(App(broken))
        wire.send(get())
        await wire.settle()
        (response,) = wire.responses()
        assert (response.status, response.headers["x-refusal"]) == (500, "internal-error")
        assert wire.transport.ended

    with caplog.at_level(logging.ERROR, "sealbox.http"):
        run(scenario)
    assert "unhandled error" in caplog.text


def test_a_failing_hook_falls_back_to_plain_text(caplog: pytest.LogCaptureFixture) -> None:
    class BadHook(App):
        def refusal(self, refusal: Refusal, message: str) -> Any:
            raise RuntimeError("hook bug")

    async def scenario() -> None:
        wire = Wire(BadHook())
        wire.send(b"GET / HTTP/1.1\r\n\r\n")
        await wire.settle()
        (response,) = wire.responses()
        assert response.status == 400 and response.headers["content-type"].startswith("text/plain")

    with caplog.at_level(logging.ERROR, "sealbox.http"):
        run(scenario)


def test_the_transport_does_not_import_the_s3_error_table() -> None:
    code = ("import sys, sealbox.http.connection; "
            "bad = [m for m in ('sealbox.http.errors', 'sealbox.http.xml', 'sealbox.core.errors') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the caps of a worker ------------------------------------------------------------------------------

def test_connections_over_the_cap_get_503_and_service_resumes_when_one_closes() -> None:
    async def scenario() -> None:
        connections = ConnectionSet(max_connections=2)
        first, second = Wire(App(), connections=connections), Wire(App(), connections=connections)
        app = App()
        over = Wire(app, connections=connections)
        over.send(get("/over") + get("/again"))  # the pipelined one is not served either
        await over.settle()
        (response,) = over.responses()
        assert (response.status, response.headers["x-refusal"]) == (503, "overloaded")
        assert response.headers["connection"] == "close" and over.transport.ended and app.calls == 0
        first.transport.close()
        await first.settle()
        assert connections.admitted == 1
        served = Wire(App(), connections=connections)
        served.send(get("/now"))
        await served.settle()
        assert [r.status for r in served.responses()] == [200]
        assert connections.admitted == 2 and not second.transport.ended

    run(scenario)


def test_a_connection_over_the_cap_that_sends_nothing_is_closed_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "OVER_CAP_WAIT", 0.05)

    async def scenario() -> None:
        connections = ConnectionSet(max_connections=1)
        Wire(App(), connections=connections)
        over = Wire(App(), connections=connections, timeout=30)
        await asyncio.sleep(0.2)
        assert over.transport.ended and over.transport.out == b""
        assert connections.admitted == 1

    run(scenario)


def test_bodies_over_the_memory_cap_get_503_and_uploads_resume_when_one_ends() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def stall(exchange: Exchange) -> None:
            await gate.wait()
            await ok_handler(exchange)

        connections = ConnectionSet(max_body_memory=2 * BODY_RESERVE)
        uploads = [Wire(App(stall), connections=connections) for _ in range(2)]
        for wire in uploads:
            wire.send(put("/big", b"x" * 1000, length=100 * BODY_RESERVE))  # stalled large uploads
        refused = Wire(App(), connections=connections)
        refused.send(put("/more", b"y" * 10))
        reader = Wire(App(), connections=connections)
        reader.send(get("/read"))  # no body: never refused for body memory
        await refused.settle()
        assert [r.status for r in refused.responses()] == [503] and refused.transport.ended
        assert [r.status for r in reader.responses()] == [200]
        assert connections.body_memory == 2 * BODY_RESERVE
        uploads[0].transport.close()  # that client gave up
        gate.set()
        await uploads[0].settle()
        assert connections.body_memory == BODY_RESERVE
        again = Wire(App(), connections=connections)
        again.send(put("/more", b"y" * 10))
        await again.settle()
        assert [r.status for r in again.responses()] == [200]
        assert connections.body_memory == BODY_RESERVE

    run(scenario)


def test_without_caps_nothing_is_counted() -> None:
    async def scenario() -> None:
        connections = ConnectionSet()
        wire = Wire(App(), connections=connections)
        wire.send(put("/k", b"abc"))
        await wire.settle()
        assert connections.body_memory == 0 and [r.status for r in wire.responses()] == [200]

    run(scenario)

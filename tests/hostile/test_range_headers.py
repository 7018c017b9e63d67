"""Hostile Range headers on GetObject: ignored when malformed (as S3 does), 416 when unsatisfiable, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile.conftest import assert_serving
from tests.hostile.raw import send_signed
from tests.support import Server

BODY = bytes(range(256)) * 40  # 10240 bytes
SIZE = len(BODY)

# Syntactically invalid or multi-range: S3 ignores the header and returns the whole object (200).
IGNORED = ["bytes=abc", "bytes=5-1", "bytes=--1", "bytes=0-1,3-4", "items=0-1", "bytes=1-2-3", "bytes=", "bytes",
           "=0-1", "bytes=-", "bytes=+1-2", "bytes=1-+2", "bytes=0x10-0x20", "bytes=1.5-2", "bytes=-1-2",
           "bytes=0-1;", "bytes=0-1, 2-3", "bytes=" + "9" * 5000 + "-" + "1"]
# Valid syntax but unsatisfiable for a 10240-byte object: 416 InvalidRange.
UNSATISFIABLE = [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 10}", "bytes=-0", "bytes=99999999999999999999999-",
                 f"bytes={2**64}-{2**64 + 1}"]
# Valid and satisfiable: 206 with exactly these bytes.
SATISFIABLE = {"bytes=0-0": (0, 1), "bytes=-1": (SIZE - 1, 1), "bytes=10-": (10, SIZE - 10),
               f"bytes=0-{SIZE * 10}": (0, SIZE), "bytes=-99999999999999999999": (0, SIZE),
               f"bytes=100-{2**70}": (100, SIZE - 100), "BYTES=1-2": (1, 2)}


@pytest.fixture
def ranged(server: Server, hostile_bucket: str) -> str:
    s3: Any = server.client()
    s3.put_object(Bucket=hostile_bucket, Key="r", Body=BODY, ServerSideEncryption="AES256")
    return f"/{hostile_bucket}/r"


@pytest.mark.parametrize("value", IGNORED)
def test_get_object_ignores_malformed_range(server: Server, ranged: str, value: str) -> None:
    reply = send_signed(server, "GET", ranged, headers={"Range": value})
    assert reply.status == 200, (value, reply.status, reply.body[:300])
    assert reply.body == BODY and "content-range" not in reply.headers


@pytest.mark.parametrize("value", UNSATISFIABLE)
def test_get_object_refuses_unsatisfiable_range(server: Server, ranged: str, value: str) -> None:
    reply = send_signed(server, "GET", ranged, headers={"Range": value})
    assert (reply.status, reply.code) == (416, "InvalidRange"), (value, reply)
    assert_serving(server)


@pytest.mark.parametrize("value", sorted(SATISFIABLE))
def test_get_object_serves_odd_but_valid_range(server: Server, ranged: str, value: str) -> None:
    start, length = SATISFIABLE[value]
    reply = send_signed(server, "GET", ranged, headers={"Range": value})
    assert reply.status == 206, (value, reply.status, reply.body[:300])
    assert reply.body == BODY[start:start + length]
    assert reply.headers["content-range"] == f"bytes {start}-{start + length - 1}/{SIZE}"


def test_range_on_empty_object_is_416(server: Server, hostile_bucket: str) -> None:
    s3: Any = server.client()
    s3.put_object(Bucket=hostile_bucket, Key="empty", Body=b"")
    for value in ("bytes=0-0", "bytes=-1", "bytes=0-"):
        reply = send_signed(server, "GET", f"/{hostile_bucket}/empty", headers={"Range": value})
        assert (reply.status, reply.code) == (416, "InvalidRange"), (value, reply)


def test_part_number_with_range_and_silly_part_numbers(server: Server, ranged: str) -> None:
    reply = send_signed(server, "GET", ranged + "?partNumber=1", headers={"Range": "bytes=0-1"})
    assert (reply.status, reply.code) == (400, "InvalidRequest"), reply
    for part in ("0", "-1", "10001", "abc", "99999999999999999999", "1e3"):
        reply = send_signed(server, "GET", f"{ranged}?partNumber={part}")
        assert (reply.status, reply.code) == (400, "InvalidArgument"), (part, reply)
    assert_serving(server)

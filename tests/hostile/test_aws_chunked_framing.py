"""Broken aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): every break is an S3 error, nothing is stored.

Each body is signed for real (seed signature from botocore's header signing, chained chunk signatures)
and then broken in one way, so the test isolates that one fault.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile.conftest import assert_serving
from tests.hostile.raw import StreamingSigner, streaming_put
from tests.support import Server

DATA = os.urandom(200_000)
CHUNK = 65536


def _chunks(signer: StreamingSigner, data: bytes = DATA) -> list[bytes]:
    return [signer.chunk(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]


def wrong_signature(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    chunks[1] = _resign(chunks[1], "0" * 64)
    return b"".join(chunks) + s.chunk(b"") + b"\r\n"


def _resign(chunk: bytes, signature: str) -> bytes:
    head, _, rest = chunk.partition(b"\r\n")
    size = head.split(b";")[0]
    return size + b";chunk-signature=" + signature.encode() + b"\r\n" + rest


def missing_signature(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    head, _, rest = chunks[0].partition(b"\r\n")
    return head.split(b";")[0] + b"\r\n" + rest + b"".join(chunks[1:]) + s.chunk(b"") + b"\r\n"


def swapped_chunks(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    chunks[0], chunks[1] = chunks[1], chunks[0]
    return b"".join(chunks) + s.chunk(b"") + b"\r\n"


def tampered_data(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    tampered = bytearray(chunks[2])
    tampered[-10] ^= 1
    return b"".join(chunks[:2]) + bytes(tampered) + b"".join(chunks[3:]) + s.chunk(b"") + b"\r\n"


def no_final_chunk(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s))


def truncated_mid_chunk(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s))[:100_000]


def size_too_big(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    head, _, rest = chunks[-1].partition(b"\r\n")
    return b"".join(chunks[:-1]) + b"ffffff" + head[head.index(b";"):] + b"\r\n" + rest + s.chunk(b"") + b"\r\n"


def huge_size_field(s: StreamingSigner) -> bytes:
    return b"f" * 40 + b";chunk-signature=" + b"0" * 64 + b"\r\n" + DATA


def non_hex_size(s: StreamingSigner) -> bytes:
    return b"zz;chunk-signature=" + b"0" * 64 + b"\r\n" + DATA


def negative_size(s: StreamingSigner) -> bytes:
    return b"-10;chunk-signature=" + b"0" * 64 + b"\r\n" + DATA


def no_crlf_after_data(s: StreamingSigner) -> bytes:
    chunks = _chunks(s)
    return chunks[0][:-2] + b"XX" + b"".join(chunks[1:]) + s.chunk(b"") + b"\r\n"


def garbage_after_end(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s)) + s.chunk(b"") + b"\r\nGARBAGE"


def long_header_line(s: StreamingSigner) -> bytes:
    return b"10;" + b"x" * 100_000 + b"\r\n" + DATA


def unsigned_trailer_in_signed_body(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s)) + s.chunk(b"") + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"


def oversized_chunk(s: StreamingSigner) -> bytes:
    return b"%x;chunk-signature=%s\r\n" % (64 * 1024 * 1024, b"0" * 64)


def more_than_declared(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s, DATA + b"extra")) + s.chunk(b"") + b"\r\n"


def fewer_than_declared(s: StreamingSigner) -> bytes:
    return b"".join(_chunks(s, DATA[:-5])) + s.chunk(b"") + b"\r\n"


def empty_body(s: StreamingSigner) -> bytes:
    return b""


BROKEN: dict[Callable[[StreamingSigner], bytes], tuple[int, str]] = {
    wrong_signature: (403, "SignatureDoesNotMatch"),
    missing_signature: (403, "SignatureDoesNotMatch"),
    swapped_chunks: (403, "SignatureDoesNotMatch"),
    tampered_data: (403, "SignatureDoesNotMatch"),
    no_final_chunk: (400, "IncompleteBody"),
    truncated_mid_chunk: (400, "IncompleteBody"),
    size_too_big: (400, "IncompleteBody"),
    huge_size_field: (400, "InvalidRequest"),
    non_hex_size: (400, "InvalidRequest"),
    negative_size: (400, "InvalidRequest"),
    no_crlf_after_data: (400, "InvalidRequest"),
    garbage_after_end: (400, "InvalidRequest"),
    long_header_line: (400, "InvalidRequest"),
    unsigned_trailer_in_signed_body: (400, "InvalidRequest"),
    oversized_chunk: (403, "InvalidChunkSizeError"),
    more_than_declared: (400, "IncompleteBody"),
    fewer_than_declared: (400, "IncompleteBody"),
    empty_body: (400, "IncompleteBody"),
}


def test_put_object_with_valid_signed_chunks_is_stored(server: Server, hostile_bucket: str) -> None:
    reply = streaming_put(server, f"/{hostile_bucket}/ok", DATA)
    assert reply.status == 200, reply
    s3: Any = server.client()
    assert s3.get_object(Bucket=hostile_bucket, Key="ok")["Body"].read() == DATA


@pytest.mark.parametrize("encode", list(BROKEN), ids=[f.__name__ for f in BROKEN])
def test_put_object_with_broken_aws_chunked_body(server: Server, hostile_bucket: str,
                                                 encode: Callable[[StreamingSigner], bytes]) -> None:
    reply = streaming_put(server, f"/{hostile_bucket}/broken", DATA, encode)
    assert (reply.status, reply.code) == BROKEN[encode], reply
    s3: Any = server.client()
    assert "Contents" not in s3.list_objects_v2(Bucket=hostile_bucket)  # nothing half-stored
    assert os.listdir(server.data_dir / "tmp") == []  # the cut upload's temp file is gone (tests run one by one)
    assert_serving(server)

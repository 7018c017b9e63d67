"""The streaming multipart/form-data reader: parts, split delimiters, streaming, caps, malformed bodies."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable

import pytest

from tests.support import run_async

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.formdata import MAX_FIELDS_BYTES, FormDataReader, FormPart, boundary_of

BOUNDARY = "----sealbox-boundary-7MA4YWxkTrZu0gW"


def form(parts: Iterable[tuple[str, bytes] | tuple[str, bytes, str]], close: bool = True,
         preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = [preamble]
    for part in parts:
        name, value = part[0], part[1]
        disposition = f'form-data; name="{name}"'
        if len(part) == 3:
            disposition += f'; filename="{part[2]}"'
        out.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n")
    if close:
        out.append(f"--{BOUNDARY}--\r\n".encode())
    out.append(epilogue)
    return b"".join(out)


async def source(body: bytes, sizes: Iterable[int]) -> AsyncIterator[bytes]:
    at = 0
    for size in sizes:
        if at >= len(body):
            break
        yield body[at: at + size]
        at += size
    if at < len(body):
        yield body[at:]


def fixed(size: int) -> Iterable[int]:
    while True:
        yield size


def randomly(seed: int, top: int) -> Iterable[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(0, top)  # 0: empty chunks happen on the wire too


async def read_all(body: bytes, sizes: Iterable[int]) -> tuple[list[tuple[FormPart, bytes]], int]:
    """Every part with its body (fields as text, the 'file' part streamed); and what drain() dropped."""
    reader = FormDataReader(source(body, sizes), BOUNDARY)
    parts: list[tuple[FormPart, bytes]] = []
    while (part := await reader.next_part()) is not None:
        if part.name == "file":
            data = b"".join([piece async for piece in reader.stream()])
            parts.append((part, data))
            return parts, await reader.drain()
        parts.append((part, (await reader.read_text()).encode("utf-8", "surrogateescape")))
    return parts, 0


run = run_async  # the session-wide Playwright browser keeps an event loop running on the main thread


def refused(body: bytes, code: ErrorCode, sizes: Iterable[int] | None = None) -> None:
    with pytest.raises(SealboxError) as caught:
        run(read_all(body, sizes or fixed(1 << 16)))
    assert caught.value.code is code, caught.value


FILE = bytes(range(256)) * 64 + b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n-\r\n--"  # near-delimiters inside


@pytest.mark.parametrize("sizes", [fixed(1), fixed(2), fixed(7), fixed(len(BOUNDARY) + 3), fixed(1 << 20),
                                   randomly(1, 50), randomly(2, 5000)],
                         ids=["1", "2", "7", "boundary+3", "1MiB", "random50", "random5000"])
def test_parts_survive_any_chunking(sizes: Iterable[int]) -> None:
    body = form([("key", b"photos/${filename}"), ("Content-Type", b"image/png"), ("empty", b""),
                 ("file", FILE, "cat.png"), ("submit", b"ignored")], preamble=b"junk before\r\n")
    parts, dropped = run(read_all(body, sizes))
    assert [(p.name, p.filename, v) for p, v in parts] == [
        ("key", None, b"photos/${filename}"), ("Content-Type", None, b"image/png"), ("empty", None, b""),
        ("file", "cat.png", FILE)]
    tail = form([("submit", b"ignored")])  # after the file's own delimiter line
    assert dropped == len(tail) - len(f"--{BOUNDARY}\r\n")  # read to the end, not parsed


def test_file_streams_before_the_body_ends() -> None:
    pulled = 0

    async def counting() -> AsyncIterator[bytes]:
        nonlocal pulled
        async for chunk in source(form([("key", b"k"), ("file", b"x" * 100_000, "f")]), fixed(1000)):
            pulled += 1
            yield chunk

    async def first_piece() -> tuple[int, int]:
        reader = FormDataReader(counting(), BOUNDARY)
        while (part := await reader.next_part()) is not None and part.name != "file":
            await reader.read_text()
        stream = reader.stream()
        piece = await anext(stream)
        return pulled, len(piece)

    pulled_then, size = run(first_piece())
    assert size > 0
    assert pulled_then < 10  # of ~100 chunks: the file is yielded as it arrives, not buffered


def test_file_pieces_stay_small_with_large_input() -> None:
    async def sizes() -> list[int]:
        body = form([("key", b"k"), ("file", b"z" * 300_000, "f")])
        reader = FormDataReader(source(body, fixed(4096)), BOUNDARY)
        await reader.next_part()
        await reader.read_text()
        await reader.next_part()
        return [len(p) async for p in reader.stream()]

    pieces = run(sizes())
    assert sum(pieces) == 300_000
    assert max(pieces) <= 4096


def test_headers_and_quoting() -> None:
    body = (f"--{BOUNDARY}\r\n"
            'content-disposition: form-data; name="a\\"b"; filename="C:\\dir\\x.txt"\r\n'
            "Content-Type: text/plain\r\n\r\nv\r\n"
            f"--{BOUNDARY}   \r\n"  # transport padding after the delimiter
            "Content-Disposition: form-data; name=file; filename*=UTF-8''%E2%82%AC.txt\r\n\r\ndata\r\n"
            f"--{BOUNDARY}--").encode()
    parts, _ = run(read_all(body, fixed(3)))
    assert parts[0][0] == FormPart('a"b', "C:\\dir\\x.txt", "text/plain")
    assert parts[1][0] == FormPart("file", "\u20ac.txt", None)
    assert parts[1][1] == b"data"


def test_form_without_file_ends_with_none() -> None:
    parts, _ = run(read_all(form([("key", b"k"), ("acl", b"private")]), fixed(5)))
    assert [p.name for p, _ in parts] == ["key", "acl"]


def test_fields_cap_counts_everything_before_the_file() -> None:
    small = form([("x-ignore-pad", b"p" * (MAX_FIELDS_BYTES - 500)), ("file", b"f" * 100_000, "f")])
    parts, _ = run(read_all(small, fixed(997)))
    assert parts[-1][1] == b"f" * 100_000  # the file itself is not capped
    big = form([("x-ignore-pad", b"p" * MAX_FIELDS_BYTES), ("file", b"f", "f")])
    refused(big, ErrorCode.MAX_POST_PRE_DATA_LENGTH_EXCEEDED, fixed(997))
    many = form([(f"x-ignore-{i}", b"") for i in range(1000)] + [("file", b"f", "f")])
    refused(many, ErrorCode.MAX_POST_PRE_DATA_LENGTH_EXCEEDED)


def test_unterminated_header_block_is_capped() -> None:
    """A header block is never buffered without bound, whatever the fields cap."""
    body = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"k\"\r\nX: ".encode() + b"y" * 100_000
    refused(body, ErrorCode.MALFORMED_POST_REQUEST, fixed(1000))

    async def unlimited() -> None:
        reader = FormDataReader(source(body, fixed(1000)), BOUNDARY, max_fields_bytes=10**9)
        await reader.next_part()

    with pytest.raises(SealboxError) as caught:
        run(unlimited())
    assert caught.value.code is ErrorCode.MALFORMED_POST_REQUEST


@pytest.mark.parametrize("body", [
    b"",
    b"key=k&file=x",
    form([("key", b"k"), ("file", b"x", "f")], close=False)[:-2],  # the file never ends
    form([("key", b"k")], close=False),  # the last field never ends either
    f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nv\r\n--{BOUNDARY}--".encode(),  # no disposition
    f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--{BOUNDARY}--".encode(),
    f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--{BOUNDARY}--".encode(),  # no name
    f"--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n--{BOUNDARY}--".encode(),
    f"--{BOUNDARY}X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--{BOUNDARY}--".encode(),
], ids=["empty", "urlencoded", "open-file", "open-field", "no-disposition", "not-form-data", "no-name",
        "bad-header", "longer-boundary"])
def test_malformed_bodies(body: bytes) -> None:
    refused(body, ErrorCode.MALFORMED_POST_REQUEST)
    refused(body, ErrorCode.MALFORMED_POST_REQUEST, fixed(1))


@pytest.mark.parametrize("content_type, expected", [
    (f"multipart/form-data; boundary={BOUNDARY}", BOUNDARY),
    (f'Multipart/Form-Data;boundary="{BOUNDARY}"; charset=utf-8', BOUNDARY),
    ("multipart/mixed; boundary=x", None),
    ("application/x-www-form-urlencoded", None),
    ("", None),
])
def test_boundary_of(content_type: str, expected: str | None) -> None:
    assert boundary_of(content_type) == expected


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          "multipart/form-data; boundary=" + "b" * 71])
def test_form_data_without_usable_boundary(content_type: str) -> None:
    with pytest.raises(SealboxError) as caught:
        boundary_of(content_type)
    assert caught.value.code is ErrorCode.MALFORMED_POST_REQUEST

"""aws-chunked decoding, held to the AWS documentation's signed examples and to botocore's own encoder."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.chunked import AwsChunkedDecoder
from sealbox.http.sigv4 import (
    AuthContext,
    PayloadMode,
    SigningRequest,
    authenticate,
    chunk_string_to_sign,
    derive_signing_key,
    hmac_sha256_hex,
    trailer_string_to_sign,
)

# ------------------------------------------------------------------------------------------- helpers

DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_DATE = "20130524T000000Z"
DOC_SCOPE = "20130524/us-east-1/s3/aws4_request"
DOC_KEY = derive_signing_key(DOC_SECRET, "20130524", "us-east-1")
DOC_DATA = b"a" * 66560
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
# The same upload with a signed trailing CRC32C ("Signature calculations for trailing headers").
DOC_TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
DOC_TRAILER_SIGNATURES = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
DOC_TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def doc_body(signatures: tuple[str, str, str] = DOC_SIGNATURES, tail: bytes = b"\r\n") -> bytes:
    return (
        f"10000;chunk-signature={signatures[0]}\r\n".encode()
        + DOC_DATA[:65536]
        + f"\r\n400;chunk-signature={signatures[1]}\r\n".encode()
        + DOC_DATA[65536:]
        + f"\r\n0;chunk-signature={signatures[2]}\r\n".encode()
        + tail
    )


def doc_trailer_body(trailer_signature: str = DOC_TRAILER_SIGNATURE, value: str = "sOO8/Q==") -> bytes:
    tail = f"x-amz-checksum-crc32c:{value}\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n"
    return doc_body(DOC_TRAILER_SIGNATURES, tail.encode())


def context(
    mode: PayloadMode,
    seed: str = DOC_SEED,
    key: bytes = DOC_KEY,
    amz_date: str = DOC_DATE,
    scope: str = DOC_SCOPE,
) -> AuthContext:
    return AuthContext(
        access_key="AKIAIOSFODNN7EXAMPLE",
        payload_mode=mode,
        payload_sha256=None,
        presigned=False,
        signing_key=key,
        seed_signature=seed,
        amz_date=amz_date,
        scope=scope,
    )


SIGNED = context(PayloadMode.STREAMING_SIGNED)
SIGNED_TRAILER = context(PayloadMode.STREAMING_SIGNED_TRAILER, seed=DOC_TRAILER_SEED)
UNSIGNED_TRAILER = context(PayloadMode.STREAMING_UNSIGNED_TRAILER)


def encode_signed(
    data: bytes,
    chunk_size: int,
    auth: AuthContext,
    trailers: list[tuple[str, str]] | None = None,
    final_crlf: bool = True,
) -> bytes:
    """An independent aws-chunked encoder with chained chunk signatures (and an optional signed trailer)."""
    assert auth.signing_key and auth.seed_signature and auth.amz_date and auth.scope
    previous = auth.seed_signature
    out = io.BytesIO()
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for piece in pieces:
        string_to_sign = chunk_string_to_sign(
            auth.amz_date, auth.scope, previous, hashlib.sha256(piece).hexdigest()
        )
        previous = hmac_sha256_hex(auth.signing_key, string_to_sign)
        out.write(b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode()))
        if piece:
            out.write(piece + b"\r\n")
    if trailers:
        canonical = "".join(f"{name}:{value}\n" for name, value in trailers).encode()
        string_to_sign = trailer_string_to_sign(
            auth.amz_date, auth.scope, previous, hashlib.sha256(canonical).hexdigest()
        )
        for name, value in trailers:
            out.write(f"{name}:{value}\r\n".encode())
        out.write(f"x-amz-trailer-signature:{hmac_sha256_hex(auth.signing_key, string_to_sign)}\r\n".encode())
    if final_crlf:
        out.write(b"\r\n")
    return out.getvalue()


def encode_unsigned(data: bytes, chunk_size: int, crc32: bool = True) -> bytes:
    """botocore's own aws-chunked encoder (what boto3 sends with STREAMING-UNSIGNED-PAYLOAD-TRAILER)."""
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum if crc32 else None,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    body: bytes = wrapper.read()
    return body


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def splits(body: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    pos = 0
    for size in sizes:
        if pos >= len(body):
            return
        yield body[pos : pos + size]
        pos += size
    if pos < len(body):
        yield body[pos:]


def pieces_of(body: bytes, how: str, seed: int = 7) -> list[bytes]:
    if how == "whole":
        return [body]
    if how == "1":
        return [body[i : i + 1] for i in range(len(body))]
    if how == "7":
        return list(splits(body, iter(lambda: 7, None)))
    if how == "4099":
        return list(splits(body, iter(lambda: 4099, None)))
    rng = random.Random(seed)
    return list(splits(body, iter(lambda: rng.randint(1, 3000), None)))


SPLITS = ["whole", "7", "4099", "random"]


def decode(body: bytes | list[bytes], auth: AuthContext, **kwargs: Any) -> tuple[bytes, AwsChunkedDecoder]:
    decoder = AwsChunkedDecoder(auth, **kwargs)
    out = bytearray()
    for piece in [body] if isinstance(body, bytes) else body:
        for decoded in decoder.feed(piece):
            assert isinstance(decoded, bytes)
            out += decoded
    decoder.finish()
    assert decoder.complete
    assert decoder.decoded_length == len(out)
    return bytes(out), decoder


def refused(body: bytes | list[bytes], auth: AuthContext, code: ErrorCode, **kwargs: Any) -> SealboxError:
    with pytest.raises(SealboxError) as caught:
        decode(body, auth, **kwargs)
    assert caught.value.code is code, repr(caught.value)
    return caught.value


# ------------------------------------------------------------------------------ AWS documentation


def test_doc_body_has_the_documented_length() -> None:
    assert len(doc_body()) == 66824


@pytest.mark.parametrize("how", [*SPLITS, "1"])
def test_doc_signed_example(how: str) -> None:
    data, decoder = decode(pieces_of(doc_body(), how), SIGNED)
    assert data == DOC_DATA
    assert decoder.trailers == {}


def test_doc_signed_example_seed_comes_from_authenticate() -> None:
    request = SigningRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        {
            "host": "s3.amazonaws.com",
            "x-amz-date": DOC_DATE,
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "content-length": "66824",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
            f"x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={DOC_SEED}",
        },
    )
    auth = authenticate(request, {"AKIAIOSFODNN7EXAMPLE": DOC_SECRET}.get, datetime(2013, 5, 24, tzinfo=UTC))
    data, _ = decode(pieces_of(doc_body(), "random"), auth, decoded_content_length=66560)
    assert data == DOC_DATA


@pytest.mark.parametrize("index", [0, 1, 2])
def test_doc_signed_example_with_a_changed_signature(index: int) -> None:
    signatures = list(DOC_SIGNATURES)
    signatures[index] = signatures[index][:-1] + ("0" if signatures[index][-1] != "0" else "1")
    body = doc_body((signatures[0], signatures[1], signatures[2]))
    refused(body, SIGNED, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_doc_signed_example_with_a_changed_byte() -> None:
    body = bytearray(doc_body())
    body[1000] = ord("b")
    refused(bytes(body), SIGNED, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_doc_signed_example_with_another_seed() -> None:
    refused(
        doc_body(), context(PayloadMode.STREAMING_SIGNED, seed="0" * 64), ErrorCode.SIGNATURE_DOES_NOT_MATCH
    )


def test_signed_data_is_released_only_after_its_signature_checks_out() -> None:
    decoder = AwsChunkedDecoder(SIGNED)
    body = doc_body()
    assert decoder.feed(body[:60000]) == []
    first = decoder.feed(body[60000:65700])  # past the end of the first chunk's data and its CRLF
    assert b"".join(first) == DOC_DATA[:65536]
    assert decoder.decoded_length == 65536


@pytest.mark.parametrize("how", [*SPLITS, "1"])
def test_doc_signed_trailer_example(how: str) -> None:
    data, decoder = decode(pieces_of(doc_trailer_body(), how), SIGNED_TRAILER)
    assert data == DOC_DATA
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_doc_signed_trailer_changed_value_or_signature() -> None:
    refused(doc_trailer_body(value="sOO8/A=="), SIGNED_TRAILER, ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    refused(doc_trailer_body("0" * 64), SIGNED_TRAILER, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_doc_signed_trailer_without_its_signature() -> None:
    body = doc_trailer_body().replace(f"x-amz-trailer-signature:{DOC_TRAILER_SIGNATURE}\r\n".encode(), b"")
    refused(body, SIGNED_TRAILER, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_doc_signed_trailer_lf_variant() -> None:
    # Some SDKs end the checksum line with "\n" before the CRLF.
    body = doc_trailer_body().replace(b"sOO8/Q==\r\n", b"sOO8/Q==\n\r\n")
    data, decoder = decode(pieces_of(body, "7"), SIGNED_TRAILER)
    assert data == DOC_DATA and decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_doc_signed_trailer_without_final_crlf() -> None:
    body = doc_trailer_body()
    assert body.endswith(b"\r\n\r\n")
    data, decoder = decode(body[:-2], SIGNED_TRAILER)
    assert data == DOC_DATA
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


# ---------------------------------------------------------------------------- signed, own encoder


PAYLOAD = bytes(random.Random(1).getrandbits(8) for _ in range(50_000))
OWN = context(PayloadMode.STREAMING_SIGNED, seed="1" * 64)
OWN_TRAILER = context(PayloadMode.STREAMING_SIGNED_TRAILER, seed="2" * 64)


@pytest.mark.parametrize("chunk_size", [1, 100, 8192, 50_000, 80_000])
@pytest.mark.parametrize("how", SPLITS)
def test_signed_round_trip(chunk_size: int, how: str) -> None:
    data = PAYLOAD[:500] if chunk_size == 1 else PAYLOAD
    body = encode_signed(data, chunk_size, OWN)
    assert decode(pieces_of(body, how), OWN)[0] == data


def test_signed_empty_body() -> None:
    assert decode(encode_signed(b"", 8192, OWN), OWN)[0] == b""


def test_signed_trailer_round_trip() -> None:
    trailers = [("x-amz-checksum-crc32", crc32_b64(PAYLOAD))]
    body = encode_signed(PAYLOAD, 8192, OWN_TRAILER, trailers)
    data, decoder = decode(pieces_of(body, "random"), OWN_TRAILER)
    assert data == PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(PAYLOAD)}


def test_signed_trailer_several_trailers_in_either_order() -> None:
    trailers = [("x-amz-checksum-sha256", "abc="), ("x-amz-checksum-crc32", "def=")]
    for order in (trailers, sorted(trailers)):
        body = encode_signed(PAYLOAD, 8192, OWN_TRAILER, order)
        assert decode(body, OWN_TRAILER)[1].trailers == dict(trailers)


def test_signed_trailer_mode_without_a_trailer() -> None:
    body = encode_signed(PAYLOAD, 8192, OWN_TRAILER)
    assert decode(body, OWN_TRAILER)[1].trailers == {}
    assert decode(body[:-2], OWN_TRAILER)[0] == PAYLOAD  # and without the final CRLF


def test_signed_chunks_swapped() -> None:
    body = encode_signed(PAYLOAD[:200], 100, OWN)
    first_end = body.index(b"\r\n", body.index(b"\r\n") + 2) + 2
    second_end = body.index(b"\r\n", body.index(b"\r\n", first_end) + 2) + 2
    swapped = body[first_end:second_end] + body[:first_end] + body[second_end:]
    refused(swapped, OWN, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_signed_chunk_without_signature() -> None:
    body = encode_signed(PAYLOAD, 8192, OWN)
    stripped = body.replace(b";chunk-signature=", b";x=", 1)
    refused(stripped, OWN, ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    refused(b"0\r\n\r\n", OWN, ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_signed_mode_refuses_unsigned_trailers() -> None:
    body = encode_signed(PAYLOAD, 8192, OWN, final_crlf=False) + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    refused(body, OWN, ErrorCode.INVALID_REQUEST)


def test_signed_mode_needs_signing_material() -> None:
    with pytest.raises(ValueError):
        AwsChunkedDecoder(context(PayloadMode.STREAMING_SIGNED, seed=""))


# ---------------------------------------------------------------------------------------- unsigned


@pytest.mark.parametrize("chunk_size", [1, 1000, 65536, 1 << 20])
@pytest.mark.parametrize("how", [*SPLITS, "1"])
def test_botocore_unsigned_trailer(chunk_size: int, how: str) -> None:
    data = PAYLOAD[:300] if chunk_size == 1 or how == "1" else PAYLOAD
    body = encode_unsigned(data, chunk_size)
    decoded, decoder = decode(pieces_of(body, how), UNSIGNED_TRAILER)
    assert decoded == data
    assert decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(data)}


def test_botocore_unsigned_without_trailer() -> None:
    body = encode_unsigned(PAYLOAD, 4096, crc32=False)
    assert body.endswith(b"\r\n0\r\n\r\n")
    assert decode(body, UNSIGNED_TRAILER)[0] == PAYLOAD
    # What the AWS SDK for JavaScript sends when it has no checksum: the body stops after "0\r\n".
    data, decoder = decode(body[:-2], UNSIGNED_TRAILER)
    assert data == PAYLOAD and decoder.trailers == {}


def test_botocore_unsigned_empty_body() -> None:
    body = encode_unsigned(b"", 4096)
    data, decoder = decode(body, UNSIGNED_TRAILER)
    assert data == b"" and decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(b"")}


def test_unsigned_ignores_chunk_signatures() -> None:
    body = encode_signed(PAYLOAD, 8192, OWN)
    assert decode(body, UNSIGNED_TRAILER)[0] == PAYLOAD


def test_unsigned_trailer_signature_line_is_not_a_trailer() -> None:
    body = (
        b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\nx-amz-trailer-signature:"
        + b"0" * 64
        + b"\r\n\r\n"
    )
    assert decode(body, UNSIGNED_TRAILER)[1].trailers == {"x-amz-checksum-crc32": "NSRBwg=="}


def test_boto3_put_object_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """What boto3 sends for put_object over https: authenticate it, then decode its body."""
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: now.replace(tzinfo=None)
    )
    try:
        import botocore.crt.auth as crt_auth

        monkeypatch.setattr(crt_auth, "get_current_datetime", lambda remove_tzinfo=True: now)
    except ImportError:  # pragma: no cover - awscrt absent
        pass
    captured: list[Any] = []

    class Captured(Exception):
        pass

    def before_send(request: Any, **_: Any) -> None:
        captured.append(request)
        raise Captured

    client = boto3.client(
        "s3",
        endpoint_url="https://s3.example.test",
        region_name="us-east-1",
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )
    client.meta.events.register("before-send", before_send)
    with pytest.raises(Captured):
        client.put_object(Bucket="b", Key="k", Body=PAYLOAD)
    prepared = captured[0]
    headers = {
        name.lower(): value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }
    path, _, query = prepared.url.partition("://")[2].partition("/")[2].partition("?")
    request = SigningRequest(prepared.method, "/" + path, query, headers)
    auth = authenticate(request, {"AK": "SK"}.get, now)
    assert auth.payload_mode is PayloadMode.STREAMING_UNSIGNED_TRAILER
    body = prepared.body.read()
    expected_length = int(headers["x-amz-decoded-content-length"])
    data, decoder = decode(pieces_of(body, "random"), auth, decoded_content_length=expected_length)
    assert data == PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(PAYLOAD)}


# ----------------------------------------------------------------------------------- broken bodies


@pytest.mark.parametrize(
    ("auth", "body"),
    [
        (OWN, encode_signed(PAYLOAD[:3000], 1000, OWN)),
        (
            OWN_TRAILER,
            encode_signed(PAYLOAD[:3000], 1000, OWN_TRAILER, [("x-amz-checksum-crc32", "AAAAAA==")]),
        ),
        (UNSIGNED_TRAILER, encode_unsigned(PAYLOAD[:3000], 1000)),
    ],
    ids=["signed", "signed-trailer", "unsigned-trailer"],
)
def test_every_truncation_is_incomplete(auth: AuthContext, body: bytes) -> None:
    """Cut anywhere, the body is refused as incomplete, except where clients legitimately stop.

    Once the terminating chunk is in, the body may end after any trailer line (the final CRLF is
    optional): the decoder cannot tell a dropped trailer from an absent one, so the caller must hold
    the trailers to x-amz-trailer. A signed trailer cut before its signature fails its signature.
    """
    last_chunk = body.rindex(b"\r\n0") + 2
    line_ends = {i + 2 for i in range(last_chunk, len(body)) if body.startswith(b"\r\n", i)}
    for cut in range(len(body)):
        if cut in line_ends:
            try:
                assert decode(body[:cut], auth)[0] == PAYLOAD[:3000]
            except SealboxError as error:
                assert auth.payload_mode is PayloadMode.STREAMING_SIGNED_TRAILER
                assert error.code is ErrorCode.SIGNATURE_DOES_NOT_MATCH
            continue
        decoder = AwsChunkedDecoder(auth)
        decoder.feed(body[:cut])
        with pytest.raises(SealboxError) as caught:
            decoder.finish()
        assert caught.value.code is ErrorCode.INCOMPLETE_BODY, cut
        assert caught.value.message == (
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        )


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nab\r\n0\r\n\r\n",
        b"0x2\r\nab\r\n0\r\n\r\n",
        b"+2\r\nab\r\n0\r\n\r\n",
        b"-2\r\nab\r\n0\r\n\r\n",
        b"2_0\r\nab\r\n0\r\n\r\n",
        b"\r\nab\r\n0\r\n\r\n",
        b"2\nab\r\n0\r\n\r\n",  # bare LF after the size
        b"2\r\nabc\r\n0\r\n\r\n",  # more data than announced
        b"2\r\nab\n0\r\n\r\n",
        b"2\r\nabXY0\r\n\r\n",
        b"2\r\nab\r\n0\r\n\r\ngarbage",
        b"2\r\nab\r\n0\r\nno-colon-here\r\n\r\n",
        b"2\r\nab\r\n0\r\n:value\r\n\r\n",
        b"11111111111111111\r\n",  # 17 hex digits
        b"2" * 5000,  # a "line" that never ends
    ],
)
def test_malformed_framing(body: bytes) -> None:
    for pieces in ([body], pieces_of(body, "1")):
        refused(pieces, UNSIGNED_TRAILER, ErrorCode.INVALID_REQUEST)


def test_stray_crlf_after_the_end_is_tolerated() -> None:
    assert decode(b"2\r\nab\r\n0\r\n\r\n\r\n", UNSIGNED_TRAILER)[0] == b"ab"


def test_chunk_larger_than_the_limit() -> None:
    error = refused(b"1001\r\n", UNSIGNED_TRAILER, ErrorCode.INVALID_CHUNK_SIZE, max_chunk_size=4096)
    assert "4097" in (error.message or "")
    assert decode(b"1000\r\n" + b"x" * 4096 + b"\r\n0\r\n\r\n", UNSIGNED_TRAILER, max_chunk_size=4096)


def test_decoded_content_length_is_enforced() -> None:
    body = encode_unsigned(PAYLOAD, 8192)
    assert decode(body, UNSIGNED_TRAILER, decoded_content_length=len(PAYLOAD))[0] == PAYLOAD
    refused(body, UNSIGNED_TRAILER, ErrorCode.INCOMPLETE_BODY, decoded_content_length=len(PAYLOAD) + 1)
    refused(body, UNSIGNED_TRAILER, ErrorCode.INCOMPLETE_BODY, decoded_content_length=len(PAYLOAD) - 1)


def test_too_many_trailers() -> None:
    trailers = b"".join(b"x-amz-t%d:v\r\n" % i for i in range(100))
    refused(b"0\r\n" + trailers + b"\r\n", UNSIGNED_TRAILER, ErrorCode.INVALID_REQUEST)


def test_a_failed_decoder_stays_failed() -> None:
    decoder = AwsChunkedDecoder(UNSIGNED_TRAILER)
    with pytest.raises(SealboxError):
        decoder.feed(b"zz\r\n")
    with pytest.raises(SealboxError):
        decoder.feed(b"0\r\n\r\n")
    with pytest.raises(SealboxError):
        decoder.finish()
    assert not decoder.complete


def test_memoryview_and_bytearray_input() -> None:
    body = encode_unsigned(PAYLOAD, 8192)
    decoder = AwsChunkedDecoder(UNSIGNED_TRAILER)
    out = decoder.feed(memoryview(body)[:5000]) + decoder.feed(bytearray(body[5000:]))
    decoder.finish()
    assert b"".join(out) == PAYLOAD


# ------------------------------------------------------------------------------------- performance


@pytest.mark.parametrize("auth", [UNSIGNED_TRAILER, OWN], ids=["unsigned", "signed"])
def test_large_body_is_linear(auth: AuthContext) -> None:
    """64 MiB in 64 KiB pieces: a quadratic buffer would take minutes, this takes well under a second."""
    data = bytes(range(256)) * 4096 * 64  # 64 MiB
    chunk = 1 << 20
    if auth is OWN:
        body = encode_signed(data, chunk, OWN)
    else:
        body = encode_unsigned(data, chunk)
    start = time.perf_counter()
    decoder = AwsChunkedDecoder(auth)
    total = 0
    view = memoryview(body)
    for offset in range(0, len(body), 65536 + 3):  # unaligned, so boundaries fall inside headers too
        for piece in decoder.feed(view[offset : offset + 65536 + 3]):
            total += len(piece)
    decoder.finish()
    elapsed = time.perf_counter() - start
    assert total == len(data)
    assert elapsed < 5.0, elapsed

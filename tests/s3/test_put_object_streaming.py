"""PutObject bodies as real clients send them: aws-chunked (signed and unsigned, with trailers),
chunked transfer without Content-Length, Expect: 100-continue, boto3's checksum modes over HTTP and HTTPS."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import socket
import zlib

import pytest

from tests.support import REGION, Server, signed_headers, sse_args


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("mode", ["when_supported", "when_required"])
@pytest.mark.parametrize("sse", [False, True])
def test_boto3_checksum_modes(server: Server, bucket: str, tls: bool, mode: str, sse: bool) -> None:
    s3 = server.client(tls=tls, request_checksum_calculation=mode)
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **sse_args(sse))
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # framing never ends up in the object
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ServerSideEncryption") == ("AES256" if sse else None)
    if mode == "when_supported":
        assert got["ChecksumCRC32"] == _crc32_b64(body)
    assert "ContentEncoding" not in got  # aws-chunked is transfer framing, not stored


def test_boto3_upload_fileobj_streams_over_https(server: Server, bucket: str, tmp_path) -> None:
    s3 = server.client(tls=True)
    path = tmp_path / "f.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    with open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key="file", Body=f, ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="file")["Body"].read() == data


# -- hand-built aws-chunked bodies -------------------------------------------------------------


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] + [b""]


def _signing_key(secret: str, day: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signed_chunked(server: Server, path: str, data: bytes, *, corrupt: int | None = None,
                    trailer: bool = False) -> tuple[dict[str, str], bytes]:
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if trailer else "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    now = dt.datetime.now(dt.UTC)
    extra = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        extra["x-amz-trailer"] = "x-amz-checksum-crc32"
    headers = signed_headers(server, "PUT", path, b"", headers=extra, payload_hash=mode, when=now)
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = _signing_key(server.secret_key, amz_date[:8])
    previous, out = seed, []
    empty = hashlib.sha256(b"").hexdigest()
    for index, chunk in enumerate(_chunks(data, 64 * 1024)):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty, hashlib.sha256(chunk).hexdigest()])
        signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if corrupt == index:
            signature = "0" * 64
        out.append(f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + chunk + (b"\r\n" if chunk else b""))
    if trailer:
        trailer_text = f"x-amz-checksum-crc32:{_crc32_b64(data)}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                         hashlib.sha256(trailer_text.encode()).hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out.append(f"x-amz-checksum-crc32:{_crc32_b64(data)}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode())
    else:
        out.append(b"\r\n")
    body = b"".join(out)
    headers["Content-Length"] = str(len(body))
    return headers, body


def _read_response(sock: socket.socket, response: bytes) -> tuple[int, bytes, bool]:
    """Read one whole response (head, then Content-Length bytes of body) from ``sock``."""
    while b"\r\n\r\n" not in response:
        more = sock.recv(65536)
        if not more:
            break
        response += more
    head_bytes, _, rest = response.partition(b"\r\n\r\n")
    length = 0
    for line in head_bytes.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            break
        rest += more
    return int(response.split(b" ")[1]), head_bytes + b"\r\n\r\n" + rest, False


def _raw_put(server: Server, path: str, headers: dict[str, str], body: bytes, *, expect_continue: bool = False,
             chunked_transfer: bool = False) -> tuple[int, bytes, bool]:
    """A PUT over a raw socket; returns (status, response bytes, whether 100 Continue was sent)."""
    lines = [f"PUT {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    headers = dict(headers)
    headers.pop("Host", None)
    if chunked_transfer:
        headers.pop("Content-Length", None)
        headers["Transfer-Encoding"] = "chunked"
    if expect_continue:
        headers["Expect"] = "100-continue"
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        got_continue = False
        if expect_continue:
            first = sock.recv(65536)
            got_continue = first.startswith(b"HTTP/1.1 100")
            if not got_continue:
                return _read_response(sock, first)
        if chunked_transfer:
            for i in range(0, len(body), 10000):
                piece = body[i:i + 10000]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        else:
            sock.sendall(body)
        status, raw, _ = _read_response(sock, b"")
        return status, raw, got_continue


@pytest.mark.parametrize("trailer", [False, True])
def test_signed_streaming_chunks(server: Server, s3, bucket: str, trailer: bool) -> None:
    data = os.urandom(200_000)
    headers, body = _signed_chunked(server, f"/{bucket}/signed", data, trailer=trailer)
    status, raw, _ = _raw_put(server, f"/{bucket}/signed", headers, body)
    assert status == 200, raw
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data


@pytest.mark.parametrize("chunk", [0, 2, 4])
def test_bad_chunk_signature_is_rejected(server: Server, s3, bucket: str, chunk: int) -> None:
    data = os.urandom(200_000)
    headers, body = _signed_chunked(server, f"/{bucket}/bad", data, corrupt=chunk)
    status, raw, _ = _raw_put(server, f"/{bucket}/bad", headers, body)
    assert status == 403 and b"SignatureDoesNotMatch" in raw
    assert server.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def _unsigned_trailer_body(data: bytes, checksum: str | None) -> bytes:
    body = b"".join(f"{len(c):x}\r\n".encode() + c + (b"\r\n" if c else b"") for c in _chunks(data, 8192))
    if checksum is not None:
        body += f"x-amz-checksum-crc32:{checksum}\r\n".encode()
    return body + b"\r\n"


@pytest.mark.parametrize("announce", ["content-encoding", "sha256-only"])
def test_unsigned_trailer_with_and_without_content_encoding(server: Server, s3, bucket: str, announce: str) -> None:
    data = os.urandom(50_000)
    extra = {"x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": "x-amz-checksum-crc32"}
    if announce == "content-encoding":
        extra["Content-Encoding"] = "aws-chunked"
    headers = signed_headers(server, "PUT", f"/{bucket}/t", headers=extra,
                             payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    body = _unsigned_trailer_body(data, _crc32_b64(data))
    headers["Content-Length"] = str(len(body))
    status, raw, _ = _raw_put(server, f"/{bucket}/t", headers, body)
    assert status == 200, raw
    got = s3.get_object(Bucket=bucket, Key="t", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == _crc32_b64(data)


def test_unsigned_trailer_wrong_checksum_and_missing_trailer(server: Server, s3, bucket: str) -> None:
    data = os.urandom(20_000)
    extra = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
             "x-amz-trailer": "x-amz-checksum-crc32"}
    headers = signed_headers(server, "PUT", f"/{bucket}/w", headers=extra,
                             payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    wrong = _unsigned_trailer_body(data, _crc32_b64(b"different"))
    status, raw, _ = _raw_put(server, f"/{bucket}/w", {**headers, "Content-Length": str(len(wrong))}, wrong)
    assert status == 400 and b"BadDigest" in raw
    missing = _unsigned_trailer_body(data, None)  # a trailer announced but never sent still succeeds
    status, raw, _ = _raw_put(server, f"/{bucket}/w", {**headers, "Content-Length": str(len(missing))}, missing)
    assert status == 200, raw
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == data


def test_aws_chunked_without_content_length(server: Server, s3, bucket: str) -> None:
    data = os.urandom(40_000)
    extra = {"x-amz-decoded-content-length": str(len(data)), "Content-Encoding": "aws-chunked"}
    headers = signed_headers(server, "PUT", f"/{bucket}/nocl", headers=extra,
                             payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    body = _unsigned_trailer_body(data, None)
    status, raw, _ = _raw_put(server, f"/{bucket}/nocl", headers, body, chunked_transfer=True)
    assert status == 200, raw
    assert s3.get_object(Bucket=bucket, Key="nocl")["Body"].read() == data


def test_expect_100_continue(server: Server, s3, bucket: str) -> None:
    data = os.urandom(100_000)
    headers = signed_headers(server, "PUT", f"/{bucket}/cont", data, payload_hash="UNSIGNED-PAYLOAD")
    headers["Content-Length"] = str(len(data))
    status, raw, continued = _raw_put(server, f"/{bucket}/cont", headers, data, expect_continue=True)
    assert continued and status == 200, raw
    assert s3.get_object(Bucket=bucket, Key="cont")["Body"].read() == data
    # A request refused up front gets its final status instead of 100 Continue, and no body is read.
    bad = signed_headers(server, "PUT", f"/{bucket}/" + "k" * 1100, data, payload_hash="UNSIGNED-PAYLOAD")
    bad["Content-Length"] = str(len(data))
    status, raw, continued = _raw_put(server, f"/{bucket}/" + "k" * 1100, bad, data, expect_continue=True)
    assert not continued and status == 400 and b"KeyTooLongError" in raw


def test_truncated_aws_chunked_body_is_incomplete(server: Server, s3, bucket: str) -> None:
    data = os.urandom(30_000)
    extra = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data) + 500)}
    headers = signed_headers(server, "PUT", f"/{bucket}/short", headers=extra,
                             payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    body = _unsigned_trailer_body(data, None)
    headers["Content-Length"] = str(len(body))
    status, raw, _ = _raw_put(server, f"/{bucket}/short", headers, body)
    assert status == 400 and b"IncompleteBody" in raw
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

"""The request body as a verified payload stream.

Only a request that passed authentication gets a ``RequestPayload`` (principle 4). It undoes
aws-chunked framing (whether announced by Content-Encoding or only by x-amz-content-sha256 /
x-amz-decoded-content-length), checks chunk signatures, and tells the write pipeline what to
verify once the last byte is in: the signed SHA-256, Content-MD5 and flexible checksums from
headers or trailers.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.chunked import AwsChunkedDecoder
from sealbox.http.exchange import BodyIncomplete, BodyTimeout
from sealbox.http.headers import checksum_request, content_md5, trailer_checksum
from sealbox.http.sigv4 import AuthContext, PayloadMode
from sealbox.service.pipeline import PayloadChecks

Receive = Callable[[], Awaitable[bytes | None]]  # Exchange.receive: the next piece, None at the end
MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB: the largest S3 object
MAX_PUT_SIZE = 5 * 1024**3  # 5 GiB: the largest single PUT / part

_STREAMING = {PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER,
              PayloadMode.STREAMING_UNSIGNED_TRAILER}


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"Invalid {name} header", ArgumentName=name,
                           ArgumentValue=value)
    return int(value)


def incomplete_body() -> SealboxError:
    return SealboxError(ErrorCode.INCOMPLETE_BODY, "You did not provide the number of bytes specified by the"
                        " Content-Length HTTP header")


class RequestPayload:
    def __init__(self, receive: Receive, headers: Mapping[str, str], auth: AuthContext,
                 max_size: int = MAX_PUT_SIZE) -> None:
        self._receive = receive
        self._auth = auth
        self.content_length = _int_header(headers, "content-length")
        self.decoded_length = _int_header(headers, "x-amz-decoded-content-length")
        encodings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
        # A body whose SHA-256 was signed is that body, whatever Content-Encoding says (botocore sends
        # ``gzip, aws-chunked`` on a plain signed PUT when asked to; AWS stores it and drops the coding);
        # Content-Encoding alone announces framing only with the decoded length that framing needs.
        self.chunked = auth.payload_mode in _STREAMING or (
            "aws-chunked" in encodings and auth.payload_mode is not PayloadMode.SIGNED
            and self.decoded_length is not None)
        if self.chunked and self.decoded_length is None and auth.payload_mode in _STREAMING:
            raise SealboxError(ErrorCode.MISSING_CONTENT_LENGTH, "You must provide the Content-Length HTTP header.")
        size = self.decoded_length if self.chunked else self.content_length
        if size is not None and size > max_size:
            raise SealboxError(ErrorCode.ENTITY_TOO_LARGE, "Your proposed upload exceeds the maximum allowed size",
                               ProposedSize=str(size), MaxSizeAllowed=str(max_size))
        self.expected_size = size
        self._max_size = max_size
        algorithms, expected, trailer_alg = checksum_request(headers)
        self._decoder = AwsChunkedDecoder(auth) if self.chunked else None
        sha = auth.payload_sha256 if auth.payload_mode is PayloadMode.SIGNED else None
        self.checks = PayloadChecks(content_md5=content_md5(headers), sha256_hex=sha, algorithms=algorithms,
                                    expected=lambda: {**expected, **self._trailer_checksums(trailer_alg)})

    def _trailer_checksums(self, algorithm: str | None) -> dict[str, str]:
        return trailer_checksum(self._decoder.trailers, algorithm) if self._decoder else {}

    async def _raw(self) -> AsyncIterator[bytes]:
        received = 0
        while True:
            try:
                body = await self._receive()
            except BodyIncomplete:
                raise incomplete_body() from None
            except BodyTimeout:
                raise SealboxError(ErrorCode.REQUEST_TIMEOUT) from None
            if body is None:
                break
            received += len(body)
            if received > self._max_size + (1 << 20) and self._decoder is None:
                raise SealboxError(ErrorCode.ENTITY_TOO_LARGE, MaxSizeAllowed=str(self._max_size))
            yield body
        if self.content_length is not None and received != self.content_length:
            raise incomplete_body()

    async def chunks(self) -> AsyncIterator[bytes]:
        produced = 0
        async for body in self._raw():
            pieces = self._decoder.feed(body) if self._decoder else (body,)
            for piece in pieces:
                produced += len(piece)
                if produced > self._max_size:
                    raise SealboxError(ErrorCode.ENTITY_TOO_LARGE, MaxSizeAllowed=str(self._max_size))
                yield piece
        if self._decoder is not None:
            self._decoder.finish()
        if self.expected_size is not None and produced != self.expected_size:
            raise incomplete_body()

    async def read_all(self, limit: int) -> bytes:
        """Small bodies only (XML documents); larger than ``limit`` is refused."""
        parts: list[bytes] = []
        size = 0
        async for piece in self.chunks():
            size += len(piece)
            if size > limit:
                raise SealboxError(ErrorCode.MALFORMED_XML, "The XML you provided was too large")
            parts.append(piece)
        body = b"".join(parts)
        self._verify_small(body)
        return body

    def _verify_small(self, body: bytes) -> None:
        """The same claims the write pipeline verifies, for a body read into memory."""
        from sealbox.core.checksums import b64, new_checksum

        if self.checks.sha256_hex is not None and hashlib.sha256(body).hexdigest() != self.checks.sha256_hex.lower():
            raise SealboxError(ErrorCode.X_AMZ_CONTENT_SHA256_MISMATCH)
        if self.checks.content_md5 is not None and hashlib.md5(body).digest() != self.checks.content_md5:
            raise SealboxError(ErrorCode.BAD_DIGEST)
        for algorithm, value in self.checks.expected().items():
            c = new_checksum(algorithm)
            c.update(body)
            if b64(c.digest()) != value:
                raise SealboxError(ErrorCode.BAD_DIGEST,
                                   f"The {algorithm} you specified did not match the calculated checksum.")

"""Incremental decoder for ``Content-Encoding: aws-chunked`` request bodies.

Wire form (CRLF everywhere)::

    hex-size[;chunk-signature=<64 hex>]\\r\\n <data> \\r\\n      repeated
    0[;chunk-signature=<64 hex>]\\r\\n                         the terminating chunk
    name:value\\r\\n ...                                       optional trailers
    [x-amz-trailer-signature:<64 hex>\\r\\n]                   signed-trailer mode
    \\r\\n

In the signed modes every chunk signature is verified, chained from the request's seed signature, and a
chunk's data is handed out only once its signature matched. In the unsigned modes data is handed out
as it arrives and chunk signatures, if any, are ignored.

Leniency matching real clients: the final empty line may be missing at end of input, and a trailer
line ending ``\\n\\r\\n`` (sent by some SDKs) is read as one line. The caller still has to check the
decoded length against ``x-amz-decoded-content-length`` (or pass it in) and any trailing checksum.
"""

from __future__ import annotations

import hashlib
import hmac

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.sigv4 import AuthContext, PayloadMode, chunk_string_to_sign, trailer_string_to_sign

MAX_LINE = 4096  # a chunk header is ~90 bytes; anything this long is garbage, not a slow client
MAX_TRAILER_LINES = 64
TRAILER_SIGNATURE = "x-amz-trailer-signature"

_CRLF = b"\r\n"
_HEX = b"0123456789abcdefABCDEF"
_SIGNATURE_EXT = b"chunk-signature"
_INCOMPLETE = "You did not provide the number of bytes specified by the Content-Length HTTP header"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)

# Decoder states.
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _malformed(detail: str) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_REQUEST, f"Invalid aws-chunked encoding: {detail}")


def _mismatch(detail: str) -> SealboxError:
    return SealboxError(ErrorCode.SIGNATURE_DOES_NOT_MATCH, f"{_MISMATCH} ({detail})")


class AwsChunkedDecoder:
    """Feed raw body bytes in any pieces; get the decoded payload back in order.

    ``decoded_content_length`` (from ``x-amz-decoded-content-length``), when given, is enforced: a
    body announcing more data fails as soon as the chunk header says so, a shorter one in finish().
    """

    def __init__(
        self,
        auth: AuthContext,
        *,
        max_chunk_size: int = 16 * 1024 * 1024,
        decoded_content_length: int | None = None,
    ) -> None:
        mode = auth.payload_mode
        self._signed = mode in (PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER)
        # Trailers are unauthenticated in a STREAMING_SIGNED body, so none may follow it.
        self._trailers_allowed = mode is not PayloadMode.STREAMING_SIGNED
        self._key = b""
        self._amz_date = self._scope = self._previous = ""
        if self._signed:
            if not (auth.signing_key and auth.seed_signature and auth.amz_date and auth.scope):
                raise ValueError("a signed aws-chunked body needs the signing key, seed, date and scope")
            self._key = auth.signing_key
            self._amz_date, self._scope = auth.amz_date, auth.scope
            self._previous = auth.seed_signature
        self._max_chunk = max_chunk_size
        self._expected_length = decoded_content_length

        self.trailers: dict[str, str] = {}
        self.decoded_length = 0
        self.complete = False

        self._state = _SIZE
        self._pending = bytearray()  # unconsumed tail of the previous feed: a partial line, at most
        self._remaining = 0  # data bytes still due in the current chunk
        self._chunk_signature = b""
        self._chunk_pieces: list[bytes] = []  # signed mode: data held until its signature checks out
        self._hasher = hashlib.sha256()
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_signature: str | None = None
        self._failure: SealboxError | None = None

    # ------------------------------------------------------------------------------------- public

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Consume ``data``; return the payload pieces it completed (possibly none)."""
        if self._failure is not None:
            raise self._failure
        if isinstance(data, memoryview):
            data = data.tobytes()
        out: list[bytes] = []
        # Only a partial header/trailer line (or half a CRLF) is ever left over. When there is one, the
        # new piece is appended to it, which costs one copy of that piece; otherwise the piece is
        # parsed in place. Either way every byte is handled a bounded number of times.
        src: bytes | bytearray
        if self._pending:
            self._pending += data
            src = self._pending
        else:
            src = data
        try:
            with memoryview(src) as view:
                pos = self._consume(src, view, out)
                if pos < len(src):
                    self._pending = bytearray(view[pos:])
                elif self._pending:
                    self._pending = bytearray()
        except SealboxError as error:
            self._failure = error
            raise
        return out

    def finish(self) -> None:
        """Declare the end of input; raise unless the body was complete."""
        if self._failure is not None:
            raise self._failure
        try:
            self._finish()
        except SealboxError as error:
            self._failure = error
            raise

    # ----------------------------------------------------------------------------------- parsing

    def _consume(self, src: bytes | bytearray, view: memoryview, out: list[bytes]) -> int:
        """Parse as much of ``src`` as possible; return the offset of the first byte left over."""
        pos, end = 0, len(src)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                # A piece lying wholly inside one chunk's data (the common case) is passed on uncopied.
                if take == end and isinstance(src, bytes):
                    self._take_data(src, out)
                else:
                    self._take_data(bytes(view[pos : pos + take]), out)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if end - pos < 2:
                    if src[pos] != 13:
                        raise _malformed("chunk data is not followed by CRLF")
                    break
                if src[pos : pos + 2] != _CRLF:
                    raise _malformed("chunk data is not followed by CRLF")
                pos += 2
                self._end_chunk(out)
                self._state = _SIZE
            elif state == _DONE:
                # Tolerate stray CRLFs after the end; anything else is not part of an aws-chunked body.
                if src[pos] not in b"\r\n":
                    raise _malformed("data after the final chunk")
                pos += 1
            else:
                newline = src.find(_CRLF, pos, pos + MAX_LINE + 2)
                if newline < 0:
                    if end - pos > MAX_LINE:
                        raise _malformed("chunk header or trailer line too long")
                    break
                line = bytes(view[pos:newline])
                pos = newline + 2
                if state == _SIZE:
                    self._size_line(line)
                else:
                    self._trailer_line(line)
        return pos

    def _take_data(self, piece: bytes, out: list[bytes]) -> None:
        if self._signed:
            self._hasher.update(piece)
            self._chunk_pieces.append(piece)
        else:
            out.append(piece)
            self.decoded_length += len(piece)

    def _size_line(self, line: bytes) -> None:
        size_field, _, extensions = line.partition(b";")
        size_field = size_field.strip(b" \t")
        if not size_field or len(size_field) > 16 or size_field.translate(None, _HEX):
            raise _malformed(f"bad chunk size {size_field[:32]!r}")
        size = int(size_field, 16)
        if size > self._max_chunk:
            raise SealboxError(
                ErrorCode.INVALID_CHUNK_SIZE,
                f"Chunk size {size} exceeds the maximum of {self._max_chunk} bytes",
            )
        if self._expected_length is not None and self.decoded_length + size > self._expected_length:
            # Checked before the data arrives; every earlier chunk is already counted, signed or not.
            raise SealboxError(
                ErrorCode.INCOMPLETE_BODY,
                "The decoded body is longer than x-amz-decoded-content-length",
            )
        if self._signed:
            self._chunk_signature = self._signature_extension(extensions)
        self._remaining = size
        if size:
            self._state = _DATA
        else:
            self._end_chunk([])
            self._state = _TRAILER

    def _signature_extension(self, extensions: bytes) -> bytes:
        for extension in extensions.split(b";"):
            name, _, value = extension.partition(b"=")
            if name.strip() == _SIGNATURE_EXT:
                return value.strip()
        raise _mismatch("chunk-signature missing")

    def _end_chunk(self, out: list[bytes]) -> None:
        """A chunk's data is complete: in signed mode verify it, then release its data."""
        if not self._signed:
            return
        string_to_sign = chunk_string_to_sign(
            self._amz_date, self._scope, self._previous, self._hasher.hexdigest()
        )
        expected = hmac.digest(self._key, string_to_sign.encode("ascii"), "sha256").hex()
        if not hmac.compare_digest(expected.encode("ascii"), self._chunk_signature):
            raise _mismatch("chunk-signature")
        self._previous = expected
        self._hasher = hashlib.sha256()
        pieces, self._chunk_pieces = self._chunk_pieces, []
        out.extend(pieces)
        self.decoded_length += sum(map(len, pieces))

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        name_field, sep, value_field = line.partition(b":")
        name = name_field.strip().lower()
        if not sep or not name or not name.isascii():
            raise _malformed(f"bad trailer line {line[:64]!r}")
        # strip() also drops the stray '\n' of the "name:value\n\r\n" form some SDKs send.
        entry = (name.decode("ascii"), value_field.strip().decode("latin-1"))
        if entry[0] == TRAILER_SIGNATURE:
            self._trailer_signature = entry[1]
            return
        if not self._trailers_allowed:
            raise _malformed("trailing headers need a -TRAILER x-amz-content-sha256")
        if len(self._trailer_lines) >= MAX_TRAILER_LINES:
            raise _malformed("too many trailing headers")
        self._trailer_lines.append(entry)

    def _end_trailers(self) -> None:
        if self._signed and (self._trailer_lines or self._trailer_signature is not None):
            self._verify_trailers()
        self.trailers = dict(self._trailer_lines)
        self._state = _DONE
        self.complete = True

    def _verify_trailers(self) -> None:
        provided = self._trailer_signature
        if provided is None:
            raise _mismatch(f"{TRAILER_SIGNATURE} missing")
        if not provided.isascii():
            raise _mismatch(TRAILER_SIGNATURE)
        # Canonical trailers are "name:value\n" each. Signers list them in the order they send them,
        # which for several trailers may or may not be sorted: both orders are accepted.
        orders = [self._trailer_lines]
        if sorted(self._trailer_lines) != self._trailer_lines:
            orders.append(sorted(self._trailer_lines))
        for lines in orders:
            canonical = "".join([f"{name}:{value}\n" for name, value in lines]).encode("latin-1")
            string_to_sign = trailer_string_to_sign(
                self._amz_date, self._scope, self._previous, hashlib.sha256(canonical).hexdigest()
            )
            expected = hmac.digest(self._key, string_to_sign.encode("ascii"), "sha256").hex()
            if hmac.compare_digest(expected, provided):
                return
        raise _mismatch(TRAILER_SIGNATURE)

    def _finish(self) -> None:
        if self._state == _TRAILER and not self._pending:
            # The body stopped right after "0\r\n" or after its last trailer line: clients omit the
            # final empty line often enough that S3 accepts it.
            self._end_trailers()
        if self._state != _DONE:
            raise SealboxError(ErrorCode.INCOMPLETE_BODY, _INCOMPLETE)
        if self._expected_length is not None and self.decoded_length != self._expected_length:
            raise SealboxError(ErrorCode.INCOMPLETE_BODY, _INCOMPLETE)

"""A streaming ``multipart/form-data`` reader for S3 POST Object forms (RFC 7578 / RFC 2046).

The body is read from an async iterator of byte chunks of any size (the request body as received);
a delimiter split across chunks is found because the reader keeps the last ``len(delimiter) - 1``
bytes of a chunk until the next one arrives. Every byte is searched a bounded number of times and
copied at most twice, so reading is O(n) and memory stays at about one chunk plus the delimiter.

S3 semantics that live here because they are about the wire:

* the fields before the streamed part (the file) are capped as a whole — everything read before
  :meth:`FormDataReader.stream` starts counts, headers and delimiters included — and exceeding the
  cap is ``MaxPostPreDataLengthExceededError``; a field value is never held beyond that cap;
* anything that is not well-formed multipart is ``MalformedPOSTRequest``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote

from sealbox.core.errors import ErrorCode, SealboxError

MAX_FIELDS_BYTES = 20 * 1024  # AWS: the fields preceding the file are limited to 20 KB
_MAX_BOUNDARY = 70  # RFC 2046
_MAX_HEADER_BLOCK = 16 * 1024  # one part's headers, whatever the fields cap
_PARAM_RE = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_QUOTED_ESCAPES = re.compile(r'\\(["\\])')


def malformed() -> SealboxError:
    return SealboxError(ErrorCode.MALFORMED_POST_REQUEST,
                        "The body of your POST request is not well-formed multipart/form-data.")


def fields_too_large() -> SealboxError:
    return SealboxError(ErrorCode.MAX_POST_PRE_DATA_LENGTH_EXCEEDED,
                        "Your POST request fields preceding the upload file were too large.")


def boundary_of(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type; None if the type is something else.

    Raises MalformedPOSTRequest for form-data without a usable boundary.
    """
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "multipart/form-data":
        return None
    for name, value in _PARAM_RE.findall(";" + params):
        if name.lower() == "boundary":
            boundary = _unquote_param(value.strip())
            if 0 < len(boundary) <= _MAX_BOUNDARY and boundary.isascii():
                return boundary
            break
    raise malformed()


@dataclass(frozen=True)
class FormPart:
    """The headers of one part; its body is read through the reader."""

    name: str  # as sent (S3 compares field names case-insensitively)
    filename: str | None  # None for a plain field; '' for a file input with no file chosen
    content_type: str | None


class FormDataReader:
    """Reads parts in order: :meth:`next_part`, then :meth:`read_text` or :meth:`stream` for its body."""

    def __init__(self, source: AsyncIterator[bytes], boundary: str, max_fields_bytes: int = MAX_FIELDS_BYTES
                 ) -> None:
        self._source = source
        self._delimiter = b"\r\n--" + boundary.encode("ascii")
        # The first delimiter may open the body without a preceding CRLF: supply one (not counted).
        self._buf = bytearray(b"\r\n")
        self._parsed = -2  # bytes taken out of the buffer
        self._eof = False
        self._in_body = True  # the preamble is skipped like the body of a part
        self._finished = False  # the closing delimiter was read
        self._budget: int | None = max_fields_bytes  # None once a part's body is being streamed

    @property
    def consumed(self) -> int:
        """Bytes of the request body parsed so far."""
        return max(0, self._parsed)

    async def next_part(self) -> FormPart | None:
        """The next part's headers (skipping what is left of the current body); None after the last part."""
        if self._in_body:
            async for _ in self._body():
                pass
        if self._finished:
            return None
        part = _parse_part_headers(await self._read_headers())
        self._in_body = True
        return part

    async def read_text(self) -> str:
        """The current part's whole body as text; it counts against the fields cap."""
        if not self._in_body:
            raise malformed()
        pieces = [piece async for piece in self._body()]
        return b"".join(pieces).decode("utf-8", "surrogateescape")

    def stream(self) -> AsyncIterator[bytes]:
        """The current part's body, as it arrives; the fields cap stops applying."""
        if not self._in_body:
            raise malformed()
        self._budget = None
        return self._body()

    async def drain(self) -> int:
        """Read the rest of the request without parsing it (what follows the file is ignored, as on S3)."""
        self._budget = None
        dropped = len(self._buf)
        self._take(dropped)
        while (chunk := await self._next_chunk()) is not None:
            dropped += len(chunk)
        self._in_body, self._finished = False, True
        return dropped

    # -- internals ----------------------------------------------------------------------------

    async def _next_chunk(self) -> bytes | None:
        while not self._eof:
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                self._eof = True
                break
            if chunk:
                return chunk
        return None

    async def _fill(self) -> bool:
        """Append the next chunk to the buffer; False at the end of the body."""
        chunk = await self._next_chunk()
        if chunk is None:
            return False
        self._buf += chunk
        return True

    def _take(self, count: int) -> bytes:
        with memoryview(self._buf) as view:
            data = bytes(view[:count])
        del self._buf[:count]
        self._parsed += count
        if self._budget is not None and self._parsed > self._budget:
            raise fields_too_large()
        return data

    async def _body(self) -> AsyncIterator[bytes]:
        """The current body up to the next delimiter; then what follows the delimiter is classified."""
        delimiter = self._delimiter
        keep = len(delimiter) - 1
        while True:
            at = self._buf.find(delimiter)
            if at >= 0:
                if at:
                    yield self._take(at)
                self._take(len(delimiter))
                self._in_body = False
                await self._after_delimiter()
                return
            # No delimiter yet: all but its possible start (the last keep bytes) is body.
            if len(self._buf) > keep:
                yield self._take(len(self._buf) - keep)
            if not await self._fill():
                raise malformed()

    async def _after_delimiter(self) -> None:
        """``--`` closes the form; otherwise optional padding and CRLF open the next part."""
        while len(self._buf) < 2:
            if not await self._fill():
                raise malformed()
        if self._buf[:2] == b"--":
            self._take(2)
            self._finished = True
            return
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                if self._buf[:end].strip(b" \t"):
                    raise malformed()  # something other than transport padding follows the boundary
                self._take(end + 2)
                return
            if len(self._buf) > 1024 or not await self._fill():
                raise malformed()

    async def _read_headers(self) -> list[bytes]:
        while True:
            if self._buf[:2] == b"\r\n":  # a part without headers
                self._take(2)
                return []
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                return self._take(end + 4)[:-4].split(b"\r\n")
            # Header bytes are field bytes: they may not grow past the cap while unterminated.
            if self._budget is not None and self._parsed + len(self._buf) > self._budget:
                raise fields_too_large()
            if len(self._buf) > _MAX_HEADER_BLOCK or not await self._fill():
                raise malformed()


def _unquote_param(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # Only \" and \\ are escapes: browsers send backslashes of Windows paths unescaped.
        return _QUOTED_ESCAPES.sub(r"\1", value[1:-1])
    return value


def _parse_part_headers(lines: list[bytes]) -> FormPart:
    disposition: str | None = None
    content_type: str | None = None
    for raw in lines:
        line = raw.decode("utf-8", "surrogateescape")
        name, colon, value = line.partition(":")
        if not colon:
            raise malformed()
        lowered = name.strip().lower()
        if lowered == "content-disposition":
            disposition = value.strip()
        elif lowered == "content-type":
            content_type = value.strip()
    if disposition is None:
        raise malformed()
    kind, _, rest = disposition.partition(";")
    if kind.strip().lower() != "form-data":
        raise malformed()
    params: dict[str, str] = {}
    for key, value in _PARAM_RE.findall(";" + rest):
        params.setdefault(key.lower(), value.strip())
    if "name" not in params:
        raise malformed()
    filename = _unquote_param(params["filename"]) if "filename" in params else None
    extended = params.get("filename*")
    if extended is not None:  # RFC 5987: charset'language'percent-encoded
        charset, _, encoded = extended.partition("'")
        encoded = encoded.partition("'")[2]
        try:
            filename = unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            raise malformed() from None
    return FormPart(_unquote_param(params["name"]), filename, content_type)

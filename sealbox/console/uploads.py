"""A browser upload as a ``Payload`` for ``ObjectService.put``: the request body, streamed, never buffered.

The browser PUTs the file itself as the body (XMLHttpRequest with a ``File``), so the bytes flow
from the socket through the write pipeline (hashing, encryption) to the blob file a buffer at a
time. Nothing is claimed about the body beyond its length, so there is nothing else to verify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sealbox.console.web import Request
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.pipeline import PayloadChecks

MAX_UPLOAD = 5 * 1024**3  # a single PUT's limit; larger files need multipart, which the console lacks


def too_large(size: int) -> SealboxError:
    return SealboxError(ErrorCode.ENTITY_TOO_LARGE, "Your proposed upload exceeds the maximum allowed size",
                        ProposedSize=str(size), MaxSizeAllowed=str(MAX_UPLOAD))


class BrowserUpload:
    def __init__(self, req: Request) -> None:
        self._req = req
        self.checks = PayloadChecks()
        length = req.headers.get("content-length")
        if length is None or not length.isdigit():
            raise SealboxError(ErrorCode.MISSING_CONTENT_LENGTH, "You must provide the Content-Length HTTP header.")
        self.length = int(length)
        if self.length > MAX_UPLOAD:
            raise too_large(self.length)

    async def chunks(self) -> AsyncIterator[bytes]:
        received = 0
        try:
            async for chunk in self._req.stream():
                received += len(chunk)
                if received > self.length:
                    raise too_large(received)
                yield chunk
        except ConnectionAbortedError:
            raise SealboxError(ErrorCode.INCOMPLETE_BODY, "The upload was interrupted.") from None
        if received != self.length:
            raise SealboxError(ErrorCode.INCOMPLETE_BODY, "You did not provide the number of bytes specified by"
                               " the Content-Length HTTP header")


class EmptyPayload:
    """The body of a folder object ("name/", zero bytes)."""

    def __init__(self) -> None:
        self.checks = PayloadChecks()

    async def chunks(self) -> AsyncIterator[bytes]:
        return
        yield b""  # pragma: no cover - makes this an async generator

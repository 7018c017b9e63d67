"""Object integrity digests: the MD5 behind the ETag and S3's flexible checksums.

Checksum values travel base64-encoded (as in ``x-amz-checksum-crc32``); CRC values are the
big-endian bytes of the integer. CRC32C and CRC64NVME come from awscrt's C implementations,
the same ones botocore uses.
"""

from __future__ import annotations

from sealbox.core.types import Buffer

import base64
import hashlib
import zlib
from typing import Protocol

from awscrt import checksums as crt

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
HEADER_PREFIX = "x-amz-checksum-"


class Checksum(Protocol):
    def update(self, data: Buffer) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, width: int, fn: object) -> None:
        self._value = 0
        self._width = width
        self._fn = fn

    def update(self, data: Buffer) -> None:
        self._value = self._fn(data, self._value)  # type: ignore[operator]

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _zlib_crc32(data: Buffer, value: int) -> int:
    return zlib.crc32(data, value)


def _crt_crc32c(data: Buffer, value: int) -> int:
    return int(crt.crc32c(bytes(data) if isinstance(data, memoryview) else data, value))


def _crt_crc64nvme(data: Buffer, value: int) -> int:
    return int(crt.crc64nvme(bytes(data) if isinstance(data, memoryview) else data, value))


class _Hash:
    def __init__(self, name: str) -> None:
        self._h = hashlib.new(name)

    def update(self, data: Buffer) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()


def new_checksum(algorithm: str) -> Checksum:
    """A running checksum for one of ``ALGORITHMS`` (upper-case name)."""
    if algorithm == "CRC32":
        return _Crc(4, _zlib_crc32)
    if algorithm == "CRC32C":
        return _Crc(4, _crt_crc32c)
    if algorithm == "CRC64NVME":
        return _Crc(8, _crt_crc64nvme)
    if algorithm == "SHA1":
        return _Hash("sha1")
    if algorithm == "SHA256":
        return _Hash("sha256")
    raise ValueError(algorithm)


def digest_size(algorithm: str) -> int:
    return {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}[algorithm]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def combine_composite(algorithm: str, part_digests: list[bytes]) -> str:
    """S3's COMPOSITE multipart checksum: checksum of the concatenated part checksums, '-N'."""
    c = new_checksum(algorithm)
    for d in part_digests:
        c.update(d)
    return f"{b64(c.digest())}-{len(part_digests)}"

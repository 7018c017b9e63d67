"""The access log: one JSON line per S3 request.

Fields, in this order: ``time`` (when the request arrived, UTC), ``request_id``, ``principal``,
``access_key``, ``remote`` (source address), ``tls``, ``method``, ``operation`` (the S3 operation
name, e.g. ``GetObject``; ``null`` when the request was refused before it could be routed), ``bucket``,
``key``, ``version_id``, ``status``, ``error`` (the S3 error code, or ``null``), ``bytes_in`` (request
body bytes received), ``bytes_out`` (response body bytes sent), ``duration_ms`` and ``user_agent``.

Targets (``--access-log``): ``-`` is standard error, a path is a file opened for appending (created
0640), ``off`` writes nothing. Every line is one ``write(2)`` on an ``O_APPEND`` descriptor, so the
lines of several worker processes never interleave; a file is reopened on SIGHUP (rotate it with
``mv`` then ``kill -HUP <supervisor pid>``, as with nginx). The record is built from what the app
already knows and serialised by hand for the fixed fields (``json.dumps`` only escapes strings):
measured in ``bench/accesslog.py``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _s(value: str | None) -> str:
    if value is None:
        return "null"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'  # nothing to escape (most fields): skip the encoder
    return _dumps(value)


_second: list[tuple[int, str]] = [(-1, "")]


def _time(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds; the part up to the second is formatted once per second."""
    whole = int(epoch)
    cached = _second[0]
    if cached[0] != whole:
        cached = _second[0] = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{int((epoch - whole) * 1000):03d}Z"


class AccessLog:
    """Writes access records to one descriptor (see the module docstring)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.fd = -1
        self.enabled = target != "off"
        self._owned = False
        self.reopen()

    def reopen(self) -> None:
        """Open (again) the target: after a rotation, the new file at the same path."""
        if not self.enabled:
            return
        if self.target == "-":
            self.fd, self._owned = 2, False
            return
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        old, self.fd, owned = self.fd, fd, self._owned
        self._owned = True
        if owned and old >= 0:
            os.close(old)

    def close(self) -> None:
        if self._owned and self.fd >= 0:
            os.close(self.fd)
        self.fd, self._owned = -1, False

    def write(self, *, started: float, duration: float, request_id: str, principal: str | None,
              access_key: str | None, remote: str, tls: bool, method: str, operation: str | None,
              bucket: str | None, key: str | None, version_id: str | None, status: int, error: str | None,
              bytes_in: int, bytes_out: int, user_agent: str | None) -> None:
        line = (f'{{"time":"{_time(started)}","request_id":"{request_id}","principal":{_s(principal)},'
                f'"access_key":{_s(access_key)},"remote":{_s(remote)},"tls":{"true" if tls else "false"},'
                f'"method":{_s(method)},"operation":{_s(operation)},"bucket":{_s(bucket)},"key":{_s(key)},'
                f'"version_id":{_s(version_id)},"status":{status},"error":{_s(error)},'
                f'"bytes_in":{bytes_in},"bytes_out":{bytes_out},"duration_ms":{duration * 1000:.3f},'
                f'"user_agent":{_s(user_agent)}}}\n')
        data = line.encode("utf-8", "backslashreplace")
        try:
            os.write(self.fd, data)
        except OSError:
            pass  # a full disk or a closed stderr must not fail the request the line describes


def open_access_log(target: str | None) -> AccessLog:
    """``None`` means off."""
    if target not in (None, "off", "-"):
        Path(str(target)).parent.mkdir(parents=True, exist_ok=True)
    return AccessLog(target or "off")

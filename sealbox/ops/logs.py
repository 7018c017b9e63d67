"""Server messages and the audit stream.

Human-readable messages stay as they were (``--log-format text``); ``--log-format json`` writes each
one as a JSON object on one line: ``time``, ``level``, ``logger``, ``message`` and any structured
fields the call attached.

The audit stream is the ``sealbox.audit`` logger: what an operator must be able to reconstruct
(failed authentications, policy and encryption changes, console sign-ins, deletes, key rotations,
user and key changes). Its lines are always JSON, whatever ``--log-level`` quiets, in the access
log's form: ``{"time": ..., "logger": "sealbox.audit", "event": "policy.put", "principal": ...,
"message": ...}``. Call :func:`audit` with an event name and fields; never pass a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

AUDIT = "sealbox.audit"
audit_log = logging.getLogger(AUDIT)

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has: anything else on a record came from ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": iso_time(record.created), "level": record.levelname.lower(),
                                 "logger": record.name, "pid": record.process}
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text") -> None:
    """The root handler (stderr, text or JSON) and the audit stream (stderr, JSON, always at INFO)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for existing in list(audit_log.handlers):
        audit_log.removeHandler(existing)
    audit_handler = logging.StreamHandler(sys.stderr)
    audit_handler.setFormatter(JsonFormatter())
    audit_log.addHandler(audit_handler)
    audit_log.propagate = False
    audit_log.setLevel(logging.INFO)


def audit(event: str, message: str = "", *, level: int = logging.INFO, **fields: Any) -> None:
    """One audit record: ``event`` names what happened (``auth.failure``, ``bucket.policy.put``,
    ``user.add``, ``keys.rotate``...), ``fields`` say who, what and from where."""
    audit_log.log(level, message or event, extra={"event": event, **fields})

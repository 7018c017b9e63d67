"""XML codec for S3: fast string building for responses, a hardened parser for request bodies."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET  # refuses entity expansion, DTDs and external entities

from sealbox.core.errors import ErrorCode, SealboxError

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BODY = 1024 * 1024

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_NEEDS_ESCAPE = re.compile(r"[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\r\t\n]")


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    return _ESCAPES.get(ch) or f"&#{ord(ch)};"


def escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(_escape_char, text) if _NEEDS_ESCAPE.search(text) else text


def el(name: str, value: Any) -> str:
    """One element; booleans render as true/false like AWS."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def doc(root: str, children: Iterable[str]) -> bytes:
    return f'{HEADER}<{root} xmlns="{S3_NS}">{"".join(children)}</{root}>'.encode()


def iso8601(ts: float) -> str:
    """S3 timestamps in XML: 2026-11-27T15:55:36.000Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def http_date(ts: float) -> str:
    return _http_date(int(ts))  # whole seconds, as gmtime would take them


@functools.lru_cache(maxsize=4096)  # Last-Modified of the objects being read: few distinct seconds
def _http_date(second: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(second))


def parse(body: bytes, limit: int = MAX_XML_BODY) -> Element:
    """Parse a request body; namespaces are stripped so handlers match on local names."""
    if len(body) > limit:
        raise SealboxError(ErrorCode.MALFORMED_XML, "The XML you provided was too large")
    try:
        # No S3 document has a DOCTYPE: refuse every DTD, not only the entity tricks defusedxml knows.
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        raise SealboxError(ErrorCode.MALFORMED_XML) from exc
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    return root


def child_text(node: Element, name: str) -> str | None:
    found = node.find(name)
    return found.text or "" if found is not None else None


def int_text(text: str | None) -> int | None:
    """An element's whole-number text (None when the element is absent); anything else is
    MalformedXML, as S3 answers a configuration document with a non-number where one belongs."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise SealboxError(ErrorCode.MALFORMED_XML) from None

"""Bucket CORS configurations: the rules, their validation, their two document forms, and matching.

A configuration is an ordered list of rules (at most 100, the document at most 64 KB). A rule allows
some origins (``AllowedOrigin``, each with at most one ``*`` wildcard) to use some methods (GET,
PUT, HEAD, POST, DELETE) with some request headers (``AllowedHeader``, case-insensitive, each with
at most one ``*``), lets the browser read some response headers (``ExposeHeader``) and cache a
preflight answer (``MaxAgeSeconds``). As on AWS the *first* rule that matches a request decides:

* the request's ``Origin`` matches one of its origins (``*`` matches any run of characters, none
  included: ``start*end`` matches ``startend``; origins compare case-sensitively);
* the method — the ``Access-Control-Request-Method`` header when the request carries one (a
  preflight; AWS honours it on any request), else the request's own — is one of its methods;
* every header named in ``Access-Control-Request-Headers``, when present, matches one of its
  headers (a rule without headers allows none).

Documents: the XML of PutBucketCors / GetBucketCors, and JSON in the names the AWS console and CLI
use (``[{"AllowedOrigins": [...], ...}]`` or ``{"CORSRules": [...]}``). Stored text is versioned
JSON (``{"v": 1, "rules": [...]}``); parsed configurations are cached per worker by their text,
so the edge pays a dict lookup or two per request that carries an ``Origin`` header, and nothing
for the requests that do not.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.buckets import BucketService
from sealbox.service.identity import Principal
from sealbox.storage.meta.base import MetaStore

METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_RULES = 100
MAX_DOCUMENT = 64 * 1024  # bytes of the XML or JSON document
MAX_ID = 255
MAX_AGE_LIMIT = 2**31 - 1
# Matching requested headers costs (requested headers) × (header patterns of the rules tried), and a
# preflight is unauthenticated: one whose worst case exceeds this many pattern checks matches no rule
# (403). Browsers name the few headers a request really sets (a 100-rule configuration with three
# wildcard headers per rule still matches 40 requested headers); the worst configuration the limits
# allow against 100 names would otherwise cost ~40 ms of CPU per preflight.
MATCH_BUDGET = 20_000
STORED_VERSION = 1
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass(frozen=True)
class _Names:
    """Names with at most one ``*`` each, compiled for matching: exact names in a set, wildcards as
    (prefix, suffix) pairs (``*`` matches any run of characters, none included)."""

    anything: bool  # a bare "*"
    exact: frozenset[str]
    wild: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, names: tuple[str, ...]) -> _Names:
        exact, wild = set(), []
        for name in names:
            head, star, tail = name.partition("*")
            if star:
                wild.append((head, tail))
            else:
                exact.add(name)
        return cls("*" in names, frozenset(exact), tuple(wild))

    def matches(self, value: str) -> bool:
        if self.anything or value in self.exact:
            return True
        for head, tail in self.wild:
            if len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail):
                return True
        return False


@dataclass(frozen=True)
class CorsRule:
    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    # Compiled once per parsed configuration (which is cached by its text); cached_property writes
    # the instance __dict__ directly, so it works on a frozen dataclass.
    @functools.cached_property
    def _origins(self) -> _Names:
        return _Names.of(self.allowed_origins)

    @functools.cached_property
    def _headers(self) -> _Names:
        return _Names.of(tuple(h.lower() for h in self.allowed_headers))

    @property
    def any_origin(self) -> bool:
        """A rule that allows every origin: AWS then answers ``Access-Control-Allow-Origin: *``."""
        return "*" in self.allowed_origins

    def allows(self, origin: str, method: str, request_headers: Sequence[str]) -> bool:
        """``request_headers`` lowercased, as ``requested_headers`` gives them."""
        if method not in self.allowed_methods or not self._origins.matches(origin):
            return False
        if not request_headers:
            return True
        headers = self._headers
        return all(headers.matches(h) for h in request_headers)


@dataclass(frozen=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]

    @functools.cached_property
    def _header_cost(self) -> int:
        """Pattern checks per requested header, at worst, over all rules."""
        return sum(len(rule._headers.wild) + 1 for rule in self.rules)

    def match(self, origin: str, method: str, request_headers: Sequence[str] = ()) -> CorsRule | None:
        """The first rule that allows the request, or None (also when matching would exceed MATCH_BUDGET)."""
        if request_headers and len(request_headers) * self._header_cost > MATCH_BUDGET:
            return None
        for rule in self.rules:
            if rule.allows(origin, method, request_headers):
                return rule
        return None


def requested_headers(value: str | None) -> tuple[str, ...]:
    """``Access-Control-Request-Headers``: comma-separated names, lowercased (AWS answers them so), each
    once, in the order first named."""
    if not value:
        return ()
    return tuple(dict.fromkeys(name for part in value.split(",") if (name := part.strip().lower())))


# -- validation (AWS's codes and messages) --------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _malformed(message: str | None = None) -> SealboxError:
    return SealboxError(ErrorCode.MALFORMED_XML, message)


def validate(config: CorsConfiguration) -> CorsConfiguration:
    if not config.rules:
        raise _malformed()
    if len(config.rules) > MAX_RULES:
        raise _malformed(f"The CORS configuration has {len(config.rules)} rules; at most {MAX_RULES} are allowed.")
    for rule in config.rules:
        values = (*rule.allowed_methods, *rule.allowed_origins, *rule.allowed_headers, *rule.expose_headers,
                  *((rule.id,) if rule.id is not None else ()))
        if any(_CONTROL.search(v) for v in values):
            raise _malformed()  # no XML document can carry these (a JSON one from the console could)
        if not rule.allowed_methods or not rule.allowed_origins:
            raise _malformed()  # both are required by the schema
        for method in rule.allowed_methods:
            if method not in METHODS:
                raise SealboxError(ErrorCode.INVALID_REQUEST, "Found unsupported HTTP method in CORS config."
                                   f" Unsupported method is {method}")
        for origin in rule.allowed_origins:
            if origin.count("*") > 1:
                raise SealboxError(ErrorCode.INVALID_REQUEST,
                                   f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        for header in rule.allowed_headers:
            if header.count("*") > 1:
                raise SealboxError(ErrorCode.INVALID_REQUEST,
                                   f'AllowedHeader "{header}" can not have more than one wildcard.')
        if rule.id is not None and len(rule.id) > MAX_ID:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, f"ID length should not exceed allowed limit of {MAX_ID}",
                               ArgumentName="ID", ArgumentValue=rule.id)
        if rule.max_age_seconds is not None and not 0 <= rule.max_age_seconds <= MAX_AGE_LIMIT:
            raise _malformed()
    return config


# -- documents -----------------------------------------------------------------------------------


def _texts(node: Element, name: str) -> tuple[str, ...]:
    return tuple((child.text or "") for child in node.findall(name))


def from_xml(body: bytes) -> CorsConfiguration:
    """A ``<CORSConfiguration>`` document (PutBucketCors), validated. Hardened like every request body:
    no DTD, no entities (defusedxml)."""
    if len(body) > MAX_DOCUMENT:
        raise _malformed("The XML you provided was too large")
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        raise _malformed() from exc
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    if root.tag != "CORSConfiguration":
        raise _malformed()
    rules = []
    for node in root.findall("CORSRule"):
        max_age = node.findtext("MaxAgeSeconds")
        if max_age is not None and not max_age.strip().lstrip("-").isdigit():
            raise _malformed()
        rule_id = node.findtext("ID")
        rules.append(CorsRule(
            allowed_methods=_texts(node, "AllowedMethod"), allowed_origins=_texts(node, "AllowedOrigin"),
            allowed_headers=_texts(node, "AllowedHeader"), expose_headers=_texts(node, "ExposeHeader"),
            max_age_seconds=int(max_age) if max_age is not None else None, id=rule_id))
    return validate(CorsConfiguration(tuple(rules)))


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\r", "&#13;"))


def to_xml(config: CorsConfiguration) -> bytes:
    """GetBucketCors's body: elements in the order AWS writes them."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<CORSConfiguration xmlns="{S3_NS}">']
    for rule in config.rules:
        parts.append("<CORSRule>")
        if rule.id is not None:
            parts.append(f"<ID>{_escape(rule.id)}</ID>")
        for tag, values in (("AllowedHeader", rule.allowed_headers), ("AllowedMethod", rule.allowed_methods),
                            ("AllowedOrigin", rule.allowed_origins), ("ExposeHeader", rule.expose_headers)):
            parts.extend(f"<{tag}>{_escape(v)}</{tag}>" for v in values)
        if rule.max_age_seconds is not None:
            parts.append(f"<MaxAgeSeconds>{rule.max_age_seconds}</MaxAgeSeconds>")
        parts.append("</CORSRule>")
    parts.append("</CORSConfiguration>")
    return "".join(parts).encode("utf-8")


_JSON_LISTS = {"AllowedMethods": "allowed_methods", "AllowedOrigins": "allowed_origins",
               "AllowedHeaders": "allowed_headers", "ExposeHeaders": "expose_headers"}
_JSON_KEYS = frozenset({*_JSON_LISTS, "MaxAgeSeconds", "ID"})


class InvalidDocument(ValueError):
    """A JSON document that is not a CORS configuration (the console says why)."""


def _rule_from_json(raw: Any, index: int) -> CorsRule:
    where = f"rule {index + 1}"
    if not isinstance(raw, dict):
        raise InvalidDocument(f"{where} is not an object")
    unknown = sorted(set(raw) - _JSON_KEYS)
    if unknown:
        raise InvalidDocument(f"{where}: unknown field {unknown[0]!r} (expected {', '.join(sorted(_JSON_KEYS))})")
    fields: dict[str, Any] = {}
    for name, attr in _JSON_LISTS.items():
        values = raw.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidDocument(f"{where}: {name} must be a list of strings")
        fields[attr] = tuple(values)
    max_age = raw.get("MaxAgeSeconds")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
        raise InvalidDocument(f"{where}: MaxAgeSeconds must be a whole number of seconds")
    rule_id = raw.get("ID")
    if rule_id is not None and not isinstance(rule_id, str):
        raise InvalidDocument(f"{where}: ID must be a string")
    return CorsRule(max_age_seconds=max_age, id=rule_id, **fields)


def from_json(text: str) -> CorsConfiguration:
    """The JSON form (the AWS console's list of rules, or the CLI's ``{"CORSRules": [...]}``), validated.
    Raises InvalidDocument for JSON that is not a configuration, SealboxError for rules AWS refuses."""
    if len(text.encode("utf-8")) > MAX_DOCUMENT:
        raise InvalidDocument(f"the configuration is larger than {MAX_DOCUMENT // 1024} KB")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidDocument(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(raw, dict) and set(raw) == {"CORSRules"}:
        raw = raw["CORSRules"]
    if not isinstance(raw, list):
        raise InvalidDocument('expected a list of rules, or {"CORSRules": [...]}')
    return validate(CorsConfiguration(tuple(_rule_from_json(r, i) for i, r in enumerate(raw))))


def _rule_json(rule: CorsRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.id is not None:
        out["ID"] = rule.id
    for name, attr in _JSON_LISTS.items():
        values = getattr(rule, attr)
        if values or name in ("AllowedMethods", "AllowedOrigins"):
            out[name] = list(values)
    if rule.max_age_seconds is not None:
        out["MaxAgeSeconds"] = rule.max_age_seconds
    return out


def to_json(config: CorsConfiguration, indent: int | None = 2) -> str:
    """The AWS console's JSON form: a list of rules."""
    return json.dumps([_rule_json(r) for r in config.rules], indent=indent, ensure_ascii=False)


def stored_text(config: CorsConfiguration) -> str:
    return json.dumps({"v": STORED_VERSION, "rules": [_rule_json(r) for r in config.rules]},
                      separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def from_stored(text: str) -> CorsConfiguration:
    """A stored configuration, parsed and compiled once per worker for each distinct text."""
    raw = json.loads(text)
    if not isinstance(raw, Mapping) or raw.get("v") != STORED_VERSION:
        raise ValueError(f"unknown stored CORS configuration format: {text[:40]!r}")
    return CorsConfiguration(tuple(_rule_from_json(r, i) for i, r in enumerate(raw["rules"])))


# -- the service ---------------------------------------------------------------------------------


def no_such_configuration(bucket: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_CORS_CONFIGURATION, "The CORS configuration does not exist",
                        BucketName=bucket)


class CorsService:
    """Put/Get/DeleteBucketCors (authorized like any bucket operation), and the lookups the HTTP edge
    makes for preflights and for the CORS headers of actual responses (unauthenticated: a browser
    asks before it sends credentials, and the answer reveals only what the bucket owner published)."""

    def __init__(self, meta: MetaStore, buckets: BucketService) -> None:
        self._meta = meta
        self._buckets = buckets

    def get(self, principal: Principal, bucket: str) -> CorsConfiguration:
        self._buckets.get(principal, bucket, "s3:GetBucketCORS")
        config = self.configuration(bucket)
        if config is None:
            raise no_such_configuration(bucket)
        return config

    def put(self, principal: Principal, bucket: str, config: CorsConfiguration) -> None:
        self._buckets.get(principal, bucket, "s3:PutBucketCORS")
        self._meta.set_bucket_cors(bucket, stored_text(validate(config)))

    def delete(self, principal: Principal, bucket: str) -> None:
        """DeleteBucketCors is an s3:PutBucketCORS request on AWS; deleting nothing succeeds."""
        self._buckets.get(principal, bucket, "s3:PutBucketCORS")
        self._meta.set_bucket_cors(bucket, None)

    def configuration(self, bucket: str) -> CorsConfiguration | None:
        """The bucket's configuration (None without one, or without the bucket): per-worker memo of the
        stored text, then of its parse."""
        text = self._meta.get_bucket_cors(bucket)
        return from_stored(text) if text is not None else None

    def bucket_exists(self, bucket: str) -> bool:
        return self._meta.get_bucket(bucket) is not None

"""Fuzzing the request parsers with Hypothesis: whatever arrives, the only exception is a SealboxError.

A SealboxError becomes an S3 error response; anything else would be a 500 with a traceback. Each
property runs ``SEALBOX_FUZZ_EXAMPLES`` generated cases (default 1000) plus the hand-made hostile
seeds in ``corpus/seeds.json``; Hypothesis keeps any failing example it finds in
``corpus/hypothesis/`` and replays it first on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.names import validate_bucket_name, validate_key, validate_user_metadata
from sealbox.core.types import ObjectVersion
from sealbox.http import xml
from sealbox.http.chunked import AwsChunkedDecoder
from sealbox.http.handlers.base import int_param
from sealbox.http.handlers.base import decode_token
from sealbox.http.headers import (
    checksum_request,
    conditions,
    content_headers,
    content_md5,
    parse_range,
    user_metadata,
)
from sealbox.http.connection import parse_headers
from sealbox.http.request import parse_query
from sealbox.http.router import check_query_utf8, route, split_target
from sealbox.service.conditions import check_conditions
from sealbox.http.auth import authenticate  # the V2/V4 dispatch, so both verifiers are fuzzed
from sealbox.http.sigv4 import AuthContext, PayloadMode, SigningRequest, derive_signing_key
from tests.hostile.raw import StreamingSigner

CORPUS = Path(__file__).parent / "corpus"
SEEDS: dict[str, list[Any]] = json.loads((CORPUS / "seeds.json").read_text())
EXAMPLES = int(os.environ.get("SEALBOX_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=DirectoryBasedExampleDatabase(CORPUS / "hypothesis"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
T = TypeVar("T")

# Text that looks like what reaches the parsers: URL-ish, header-ish, with the characters that break things.
ATOMS = ["/", "//", "..", ".", "%", "%2e", "%2f", "%2F", "%00", "%ff", "%c0%ae", "%e2%82", "?", "&", "=", ";", ",",
         "-", "bytes=", "\x00", "\r", "\n", " ", "\t", "é", "\udcff", "\ud800", "😀", "0", "1", "9" * 30, "-1",
         "a", "bucket", "key", "uploads", "versionId", "partNumber", "list-type", "2", "AWS4-HMAC-SHA256",
         "Credential=", "SignedHeaders=", "Signature=", "x-amz-", "aws-chunked", "*", '"', "<", ">", "&amp;"]
wire_text = st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=8)), max_size=24).map("".join)
# Paths, queries and headers reach the server as bytes decoded as latin-1: never a lone surrogate.
on_the_wire = wire_text.map(lambda s: s.encode("utf-8", "surrogatepass").decode("latin-1"))
latin1_text = st.lists(st.one_of(st.sampled_from([a for a in ATOMS if all(ord(c) < 256 for c in a)]),
                                 st.text(st.characters(max_codepoint=255), max_size=8)), max_size=24).map("".join)
HEADER_NAMES = ["range", "content-length", "content-md5", "content-type", "content-encoding", "x-amz-content-sha256",
                "x-amz-date", "authorization", "x-amz-decoded-content-length", "x-amz-checksum-crc32",
                "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm", "x-amz-trailer", "x-amz-meta-a",
                "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "x-amz-copy-source",
                "host", "expires", "x-amz-server-side-encryption"]
headers_st = st.dictionaries(st.one_of(st.sampled_from(HEADER_NAMES), latin1_text.map(str.lower)), latin1_text,
                             max_size=8)
query_st = st.dictionaries(st.one_of(st.sampled_from(["prefix", "delimiter", "max-keys", "marker", "list-type",
                                                      "continuation-token", "versionId", "partNumber", "uploadId",
                                                      "uploads", "delete", "versions", "acl", "tagging"]),
                                     wire_text), wire_text, max_size=6)
METHODS = st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "", "get", "CONNECT"])


def only_sealbox_errors(fn: Callable[..., T], *args: Any) -> T | SealboxError:
    """Call ``fn``; a SealboxError is a fine answer (returned), any other exception fails the property."""
    try:
        return fn(*args)
    except SealboxError as exc:
        assert isinstance(exc.code, ErrorCode)
        return exc


def seeds(name: str) -> Any:
    return pytest.mark.parametrize("seed", SEEDS[name], ids=[f"seed{i}" for i in range(len(SEEDS[name]))])


# -- routing ---------------------------------------------------------------------------------------


def _route(method: str, raw_path: str, host: str, domain: str | None, query: dict[str, str],
           headers: dict[str, str]) -> None:
    bucket, key = split_target(raw_path, host, domain)
    check_query_utf8(query)
    route(method, bucket, key, query, headers)
    if bucket is not None:
        validate_bucket_name(bucket)
    if key is not None:
        validate_key(key)


@FUZZ
@given(METHODS, wire_text, latin1_text, st.sampled_from([None, "s3.local", "localhost"]), query_st, headers_st)
def test_fuzz_router(method: str, path: str, host: str, domain: str | None, query: dict[str, str],
                     headers: dict[str, str]) -> None:
    only_sealbox_errors(_route, method, "/" + path, host, domain, query, headers)


@seeds("paths")
def test_router_seeds(seed: str) -> None:
    for method in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        only_sealbox_errors(_route, method, seed, "127.0.0.1:9000", None, {}, {})
        only_sealbox_errors(_route, method, seed, "b.s3.local", "s3.local", {}, {})


# -- Range ------------------------------------------------------------------------------------------


def _resolve_range(value: str, size: int) -> tuple[int, int] | None:
    wanted = parse_range(value)
    return None if wanted is None else wanted.span(size)


def _check_range(value: str, size: int) -> None:
    result = only_sealbox_errors(_resolve_range, value, size)
    if isinstance(result, SealboxError):
        assert result.code is ErrorCode.INVALID_RANGE
    elif result is not None:
        start, length = result
        assert 0 <= start and 1 <= length and start + length <= size, (value, size, result)


@FUZZ
@given(st.one_of(latin1_text, st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-10, 2**70) | latin1_text,
                                        st.integers(-10, 2**70) | latin1_text)),
       st.integers(0, 2**63))
def test_fuzz_parse_range(value: str, size: int) -> None:
    _check_range(value, size)


@seeds("ranges")
def test_parse_range_seeds(seed: str) -> None:
    for size in (0, 1, 10, 2**40):
        _check_range(seed, size)


# -- aws-chunked ---------------------------------------------------------------------------------------

SECRET = "fuzz-secret"
DATE = "20260101T000000Z"
SCOPE = "20260101/us-east-1/s3/aws4_request"
SEED = "a" * 64
KEY = derive_signing_key(SECRET, DATE[:8], "us-east-1")


def _auth(mode: PayloadMode) -> AuthContext:
    return AuthContext(access_key="AK", payload_mode=mode, payload_sha256=None, presigned=False, signing_key=KEY,
                       seed_signature=SEED, amz_date=DATE, scope=SCOPE)


def _decode(mode: PayloadMode, pieces: list[bytes], expected: int | None) -> bytes:
    decoder = AwsChunkedDecoder(_auth(mode), decoded_content_length=expected)
    out = b"".join(b"".join(decoder.feed(p)) for p in pieces)
    decoder.finish()
    return out


def _signed_body(data: bytes, chunk: int) -> bytes:
    return StreamingSigner(KEY, DATE, SCOPE, SEED).body(data, chunk)


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


MODES = st.sampled_from([PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER,
                         PayloadMode.STREAMING_UNSIGNED_TRAILER])


@FUZZ
@given(MODES, st.binary(max_size=600), st.lists(st.integers(0, 10**6), max_size=6), st.none() | st.integers(0, 700))
def test_fuzz_chunked_decoder_arbitrary_bytes(mode: PayloadMode, body: bytes, cuts: list[int],
                                              expected: int | None) -> None:
    only_sealbox_errors(_decode, mode, _split(body, cuts), expected)


@FUZZ
@given(st.binary(max_size=3000), st.integers(1, 1200), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                                 max_size=4),
       st.lists(st.integers(0, 10**6), max_size=6))
def test_fuzz_chunked_decoder_mutated_signed_bodies(data: bytes, chunk: int, flips: list[tuple[int, int]],
                                                    cuts: list[int]) -> None:
    """A signed body with bytes changed: refused, or (if the change hit nothing that matters) the same data."""
    body = bytearray(_signed_body(data, chunk))
    for pos, value in flips:
        body[pos % len(body)] = value
    result = only_sealbox_errors(_decode, PayloadMode.STREAMING_SIGNED, _split(bytes(body), cuts), len(data))
    if not isinstance(result, SealboxError):
        assert result == data  # chunk signatures make any accepted body the signed one


@seeds("chunked")
def test_chunked_decoder_seeds(seed: str) -> None:
    body = seed.encode("latin-1")
    for mode in (PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_UNSIGNED_TRAILER):
        only_sealbox_errors(_decode, mode, [body], None)
        only_sealbox_errors(_decode, mode, [body[i:i + 1] for i in range(len(body))], 5)


# -- XML ---------------------------------------------------------------------------------------------------

XML_ATOMS = ["<Delete>", "</Delete>", "<Object>", "</Object>", "<Key>", "</Key>", "<?xml version='1.0'?>",
             "<!DOCTYPE d [", "<!ENTITY e 'x'>", "<!ENTITY x SYSTEM 'file:///etc/passwd'>", "]>", "&e;", "&x;",
             "&#0;", "&#x110000;", "<![CDATA[", "]]>", "<!--", "-->", "<?pi?>", "xmlns='urn:x'", "<a:b>", "\x00",
             "\xff", "é", "<", ">", "&", "'", '"', " ", "\n"]
xml_st = st.lists(st.one_of(st.sampled_from(XML_ATOMS), st.text(max_size=6)), max_size=30).map("".join)


def _parse_xml(body: bytes) -> None:
    root = xml.parse(body)
    for node in root.iter():
        xml.child_text(node, "Key")


@FUZZ
@given(st.one_of(xml_st.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=300)))
def test_fuzz_xml_parse(body: bytes) -> None:
    only_sealbox_errors(_parse_xml, body)


@seeds("xml")
def test_xml_parse_seeds(seed: str) -> None:
    result = only_sealbox_errors(_parse_xml, seed.encode("utf-8", "surrogatepass"))
    if "<!DOCTYPE" in seed or "<!ENTITY" in seed:
        assert isinstance(result, SealboxError) and result.code is ErrorCode.MALFORMED_XML


# -- listing and other query/header parameters ------------------------------------------------------------


def _params(query: dict[str, str], headers: dict[str, str]) -> None:
    check_query_utf8(query)
    for name in ("max-keys", "partNumber", "max-uploads", "max-parts", "part-number-marker"):
        int_param(query, name, 1000)
    if "continuation-token" in query:
        decode_token(query["continuation-token"], "continuation-token")
    content_md5(headers)
    checksum_request(headers)
    content_headers(headers)
    validate_user_metadata(user_metadata(headers))
    version = ObjectVersion(bucket="b", key="k", version_id="v", object_uid=b"u" * 16, size=3, etag="abc",
                            last_modified=1.7e9, owner="o")
    check_conditions(conditions(headers), version)


@FUZZ
@given(query_st, headers_st)
def test_fuzz_query_and_header_parameters(query: dict[str, str], headers: dict[str, str]) -> None:
    only_sealbox_errors(_params, query, headers)


@FUZZ
@given(st.binary(max_size=200), st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=6))
def test_fuzz_raw_query_and_headers(raw_query: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
    """What the ASGI layer hands over (latin-1 bytes) parses into the typed request without surprises."""
    query = parse_query(raw_query.decode("latin-1"))
    headers = parse_headers(raw_headers)
    only_sealbox_errors(_params, query, headers)


@seeds("params")
def test_parameter_seeds(seed: dict[str, dict[str, str]]) -> None:
    only_sealbox_errors(_params, seed["query"], seed["headers"])


# -- SigV4 authentication -------------------------------------------------------------------------------------


def _authenticate(method: str, path: str, raw_query: str, headers: dict[str, str]) -> None:
    authenticate(SigningRequest(method, path, raw_query, headers), lambda key: SECRET if key == "AK" else None,
                 datetime(2026, 1, 1, tzinfo=UTC))


auth_header_st = st.lists(st.sampled_from(["AWS4-HMAC-SHA256 ", "Credential=AK/20260101/us-east-1/s3/aws4_request",
                                           "Credential=", "/", ", ", ",", "SignedHeaders=host;x-amz-date",
                                           "SignedHeaders=", "Signature=" + "0" * 64, "Signature=", "AWS AK:",
                                           "=", ";", " "]) | latin1_text, max_size=10).map("".join)


@FUZZ
@given(METHODS, on_the_wire, st.one_of(on_the_wire,
                                     st.just("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2F"
                                             "us-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00")),
       auth_header_st, headers_st)
def test_fuzz_sigv4_authenticate(method: str, path: str, raw_query: str, authorization: str,
                                 headers: dict[str, str]) -> None:
    headers = {**headers, "authorization": authorization, "x-amz-date": DATE, "host": "127.0.0.1",
               "x-amz-content-sha256": headers.get("x-amz-content-sha256", hashlib.sha256(b"").hexdigest())}
    only_sealbox_errors(_authenticate, method, "/" + path, raw_query, headers)


def test_seed_corpus_is_not_empty() -> None:
    assert sum(len(v) for v in SEEDS.values()) >= 40

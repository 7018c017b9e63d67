"""Hostile CORS inputs: PutBucketCors documents (malformed, entity tricks, oversized) and preflights
that try to make matching expensive. Preflights are unauthenticated, so their cost must stay bounded."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests

from tests.hostile.conftest import assert_serving
from tests.hostile.test_xml_bodies import HOSTILE, MALFORMED
from tests.support import Server, signed_request, xml_code


def _put_cors(server: Server, bucket: str, body: bytes) -> requests.Response:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return signed_request(server, "PUT", f"/{bucket}?cors", body=body, headers={"Content-MD5": md5})


@pytest.mark.parametrize("name", sorted({**MALFORMED, **HOSTILE}))
def test_put_bucket_cors_refuses_hostile_xml(server: Server, hostile_bucket: str, name: str) -> None:
    body = {**MALFORMED, **HOSTILE}[name].replace(b"Delete", b"CORSConfiguration").replace(b"Object", b"CORSRule")
    response = _put_cors(server, hostile_bucket, body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text
    assert "root:" not in response.text and "lollol" not in response.text
    r = signed_request(server, "GET", f"/{hostile_bucket}?cors")
    assert xml_code(r) == "NoSuchCORSConfiguration"  # nothing stored
    assert_serving(server)


def test_put_bucket_cors_refuses_control_characters(server: Server, hostile_bucket: str) -> None:
    body = (b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
            b"<AllowedOrigin>https://a.example&#1;</AllowedOrigin></CORSRule></CORSConfiguration>")
    response = _put_cors(server, hostile_bucket, body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text


def test_preflights_built_to_be_expensive_stay_cheap(server: Server, hostile_bucket: str) -> None:
    """The largest configuration (100 rules filling 64 KB with wildcard headers that each almost
    match) against a preflight naming thousands of headers, many times over."""
    per_rule = "".join(f"<AllowedHeader>x-{i}-*-</AllowedHeader>" for i in range(15))
    rule = f"<CORSRule><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>*</AllowedOrigin>{per_rule}</CORSRule>"
    body = f"<CORSConfiguration>{rule * 100}</CORSConfiguration>".encode()
    assert len(body) < 64 * 1024
    assert _put_cors(server, hostile_bucket, body).status_code == 200
    names = ", ".join(f"x-{i % 15}-{i}-" for i in range(4000))  # each almost matches a pattern of each rule
    start = time.monotonic()
    for _ in range(20):
        r = requests.options(f"{server.endpoint}/{hostile_bucket}/k", timeout=30, headers={
            "Origin": "https://a.example", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": names})
        assert r.status_code == 403
    assert time.monotonic() - start < 10
    # Within the matching budget (sealbox.service.cors.MATCH_BUDGET), all allowed by the first rule.
    few = ", ".join(f"x-{i}-y-" for i in range(12))
    r = requests.options(f"{server.endpoint}/{hostile_bucket}/k", timeout=30, headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": few})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Headers"].count(",") == 11
    assert_serving(server)

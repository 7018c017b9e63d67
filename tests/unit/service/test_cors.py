"""sealbox.service.cors: matching, validation and the two document forms; sealbox.http.cors's headers."""

from __future__ import annotations

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.cors import VARY, rule_headers
from sealbox.service import cors
from sealbox.service.cors import CorsConfiguration, CorsRule, requested_headers


def _rule(*origins: str, methods: tuple[str, ...] = ("GET",), headers: tuple[str, ...] = (), **kw: object) -> CorsRule:
    return CorsRule(allowed_methods=methods, allowed_origins=origins, allowed_headers=headers, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern, origin, matches", [
    ("*", "anything at all", True), ("*", "", True),
    ("https://a.example", "https://a.example", True), ("https://a.example", "https://a.example/", False),
    ("https://a.example", "HTTPS://A.EXAMPLE", False),  # origins compare exactly
    ("start*end", "startend", True), ("start*end", "start12end", True), ("start*end", "0start12end", False),
    ("*suffix", "foo.suffix", True), ("*suffix", "foo.suffix.get", False), ("prefix*", "prefix", True),
    ("http://*.origin.com", "http://test.origin.com", True), ("http://*.origin.com", "http://test.origin.com/", False),
    ("a*a", "a", False), ("a*a", "aa", True), ("", "", True), ("", "x", False),
])
def test_origin_patterns(pattern: str, origin: str, matches: bool) -> None:
    assert _rule(pattern).allows(origin, "GET", ()) is matches


def test_method_and_requested_headers() -> None:
    rule = _rule("*", methods=("PUT", "POST"), headers=("x-amz-*", "Content-Type"))
    assert rule.allows("o", "PUT", ("x-amz-server-side-encryption", "content-type"))
    assert not rule.allows("o", "GET", ())
    assert not rule.allows("o", "put", ())  # methods are case-sensitive, as on AWS
    assert not rule.allows("o", "PUT", ("x-custom",))
    assert rule.allows("o", "PUT", ())  # nothing requested, nothing to allow
    assert not _rule("*").allows("o", "GET", ("x-amz-request-payer",))  # no AllowedHeader: none allowed
    assert _rule("*", headers=("*",)).allows("o", "GET", ("anything", "at-all"))
    assert requested_headers(" X-Amz-Meta-A,content-TYPE ,, ") == ("x-amz-meta-a", "content-type")
    assert requested_headers(None) == ()


def test_the_first_matching_rule_decides() -> None:
    config = CorsConfiguration((_rule("https://a.example", methods=("PUT",)), _rule("*", max_age_seconds=10),
                                _rule("https://a.example", max_age_seconds=20)))
    found = config.match("https://a.example", "GET")
    assert found is not None and found.max_age_seconds == 10
    assert config.match("https://a.example", "DELETE") is None


def test_rule_headers_as_aws_sends_them() -> None:
    specific = _rule("https://a.example", methods=("GET", "PUT"), expose_headers=("ETag", "x-amz-version-id"),
                     max_age_seconds=0)
    assert rule_headers(specific, "https://a.example", ("x-amz-acl",)) == {
        "access-control-allow-origin": "https://a.example", "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT", "access-control-allow-headers": "x-amz-acl",
        "access-control-expose-headers": "ETag, x-amz-version-id", "access-control-max-age": "0", "vary": VARY}
    assert rule_headers(_rule("*", "https://a.example"), "https://a.example", ()) == {
        "access-control-allow-origin": "*", "access-control-allow-methods": "GET", "vary": VARY}


def _refused(config: CorsConfiguration) -> SealboxError:
    with pytest.raises(SealboxError) as exc:
        cors.validate(config)
    return exc.value


def test_validation_codes_and_messages() -> None:
    assert _refused(CorsConfiguration(())).code is ErrorCode.MALFORMED_XML
    assert _refused(CorsConfiguration((_rule("*"),) * 101)).code is ErrorCode.MALFORMED_XML
    assert _refused(CorsConfiguration((_rule(),))).code is ErrorCode.MALFORMED_XML  # no AllowedOrigin
    assert _refused(CorsConfiguration((_rule("*", methods=()),))).code is ErrorCode.MALFORMED_XML
    bad = _refused(CorsConfiguration((_rule("*", methods=("GET", "PATCH")),)))
    assert (bad.code, bad.message) == (ErrorCode.INVALID_REQUEST, "Found unsupported HTTP method in CORS config."
                                       " Unsupported method is PATCH")
    assert _refused(CorsConfiguration((_rule("*.*"),))).message == 'AllowedOrigin "*.*" can not have more than one wildcard.'
    assert _refused(CorsConfiguration((_rule("*", headers=("**",)),))).code is ErrorCode.INVALID_REQUEST
    assert _refused(CorsConfiguration((_rule("*", id="i" * 256),))).code is ErrorCode.INVALID_ARGUMENT
    assert _refused(CorsConfiguration((_rule("*", max_age_seconds=-1),))).code is ErrorCode.MALFORMED_XML
    assert _refused(CorsConfiguration((_rule("bad\x01origin"),))).code is ErrorCode.MALFORMED_XML
    cors.validate(CorsConfiguration((_rule("*", id="i" * 255),) * 100))


def test_xml_round_trip_keeps_order_casing_and_optional_parts() -> None:
    config = CorsConfiguration((
        CorsRule(("PUT", "GET"), ("https://a.example", "http://*.b.example"), ("X-Amz-*", "content-type"),
                 ("ETag",), 3000, "first & <only>"),
        CorsRule(("GET",), ("*",)),
    ))
    xml = cors.to_xml(config)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<CORSConfiguration xmlns=')
    assert b"<ID>first &amp; &lt;only&gt;</ID><AllowedHeader>X-Amz-*</AllowedHeader>" in xml
    assert cors.from_xml(xml) == config
    assert cors.from_json(cors.to_json(config)) == config
    assert cors.from_stored(cors.stored_text(config)) == config


def test_xml_documents_are_parsed_strictly() -> None:
    plain = (b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
             b"<MaxAgeSeconds> 60 </MaxAgeSeconds></CORSRule></CORSConfiguration>")
    assert cors.from_xml(plain).rules[0].max_age_seconds == 60  # no namespace needed, whitespace tolerated
    for body in (b"<CORSConfiguration>", b"<Other/>", b"<CORSConfiguration/>",
                 plain.replace(b" 60 ", b"sixty"),
                 b'<!DOCTYPE x [<!ENTITY e "GET">]><CORSConfiguration><CORSRule><AllowedMethod>&e;</AllowedMethod>'
                 b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
                 plain.replace(b"</CORSRule>", b"<AllowedHeader>" + b"h" * cors.MAX_DOCUMENT + b"</AllowedHeader></CORSRule>")):
        with pytest.raises(SealboxError) as exc:
            cors.from_xml(body)
        assert exc.value.code is ErrorCode.MALFORMED_XML, body[:60]


def test_json_forms_and_their_complaints() -> None:
    rules = '[{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": 5}]'
    assert cors.from_json(rules) == cors.from_json('{"CORSRules": ' + rules + "}")
    for text, says in (("[", "not valid JSON"), ('{"Rules": []}', "expected a list of rules"),
                       ("[1]", "rule 1 is not an object"), ('[{"AllowedOrigins": "*"}]', "must be a list of strings"),
                       ('[{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": "5"}]',
                        "whole number"),
                       ('[{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": true}]',
                        "whole number"),
                       ('[{"Origins": ["*"]}]', "unknown field 'Origins'")):
        with pytest.raises(cors.InvalidDocument) as exc:
            cors.from_json(text)
        assert says in str(exc.value), text
    assert cors.to_json(cors.from_json(rules), indent=None) == (
        '[{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 5}]')


def test_stored_text_is_versioned() -> None:
    text = cors.stored_text(CorsConfiguration((_rule("*"),)))
    assert text.startswith('{"v":1,')
    with pytest.raises(ValueError, match="unknown stored CORS configuration format"):
        cors.from_stored(text.replace('"v":1', '"v":2'))
    assert cors.from_stored(text) is cors.from_stored(text)  # parsed once per worker


def test_matching_work_is_bounded() -> None:
    """The worst configuration the limits allow, against many requested headers: refused up front."""
    rules = tuple(_rule("*", methods=("PUT",), headers=tuple(f"x-{i}-*-" for i in range(15))) for _ in range(100))
    config = CorsConfiguration(rules)
    assert config.match("o", "PUT", tuple(f"x-14-{i}-" for i in range(12))) is rules[0]  # 12 × 1,600 checks: fine
    assert config.match("o", "PUT", tuple(f"x-14-{i}-" for i in range(13))) is None  # 13 × 1,600 > 20,000
    big = CorsConfiguration(tuple(_rule("*", methods=("PUT",), headers=("a-*", "b-*", "c-*")) for _ in range(100)))
    assert big.match("o", "PUT", tuple(f"c-{i}" for i in range(50))) is big.rules[0]
    assert requested_headers("A, a ,b") == ("a", "b")  # each name once

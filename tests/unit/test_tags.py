"""Tag sets: the rules (core.tags), the wire forms (http.tagging) and the tag condition keys of policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.tags import allowed_text, validate_tags
from sealbox.http.tagging import parse_tagging_header, parse_tagging_xml, tagging_xml
from sealbox.service.policy import AccessRequest, Decision, RequestContext, condition_values, evaluate, parse_policy
from sealbox.service.policy_conditions import existing_tag_values, mentions_existing_tags, request_tag_values


def refused(call: Any, *args: Any) -> tuple[ErrorCode, str, dict[str, str]]:
    with pytest.raises(SealboxError) as info:
        call(*args)
    return info.value.code, info.value.message or "", info.value.extra


# -- core.tags ---------------------------------------------------------------------------------------------


def test_allowed_characters() -> None:
    assert allowed_text("Projekt ü 名前 123 _.:/=+-@")
    assert allowed_text("")
    for bad in (",", "key\n", "a;b", "tab\t", "<", "\ud800", "\x00", "!", "*", "#"):
        assert not allowed_text(bad), bad


def test_limits_are_counted_in_characters() -> None:
    assert validate_tags([("é" * 128, "値" * 256)], "object") == {"é" * 128: "値" * 256}
    assert refused(validate_tags, [("é" * 129, "v")], "object")[0] is ErrorCode.INVALID_TAG
    assert refused(validate_tags, [("k", "値" * 257)], "object")[0] is ErrorCode.INVALID_TAG


def test_count_limits_and_order() -> None:
    ten = [(str(i), "") for i in range(10)]
    assert list(validate_tags(reversed(ten), "object")) == [str(i) for i in reversed(range(10))]
    code, message, _ = refused(validate_tags, [*ten, ("x", "")], "object")
    assert (code, message) == (ErrorCode.BAD_REQUEST, "Object tags cannot be greater than 10")
    fifty = [(str(i), "") for i in range(50)]
    assert len(validate_tags(fifty, "bucket")) == 50
    code, message, _ = refused(validate_tags, [*fifty, ("x", "")], "bucket")
    assert (code, message) == (ErrorCode.BAD_REQUEST, "Bucket tag count cannot be greater than 50")


def test_errors_name_the_tag() -> None:
    assert refused(validate_tags, [("a", "1"), ("a", "2")], "object") == \
        (ErrorCode.INVALID_TAG, "Cannot provide multiple Tags with the same key", {"TagKey": "a"})
    assert refused(validate_tags, [("aws:x", "1")], "object")[1] == "Your TagKey cannot be prefixed with aws:"
    assert refused(validate_tags, [("aws:x", "1")], "bucket")[1] == "System tags cannot be added/updated by requester"
    assert refused(validate_tags, [("k", "a,b")], "bucket")[2] == {"TagKey": "k", "TagValue": "a,b"}
    assert refused(validate_tags, [("", "v")], "object")[0] is ErrorCode.INVALID_TAG


# -- http.tagging ------------------------------------------------------------------------------------------


def test_tagging_header_forms() -> None:
    assert parse_tagging_header("foo=bar&bar") == {"bar": "", "foo": "bar"}  # kept in key order
    assert list(parse_tagging_header("b=2&a=1")) == ["a", "b"]
    assert parse_tagging_header("key1&&&key2") == {"key1": "", "key2": ""}
    assert parse_tagging_header("") == {}
    assert parse_tagging_header("a+b=c%2Bd") == {"a b": "c+d"}  # "+" is a space, as in any query string
    # percent-encoded UTF-8, and UTF-8 bytes sent raw (headers arrive as latin-1 decoded bytes)
    assert parse_tagging_header("%E5%90%8D=x") == {"名": "x"}
    assert parse_tagging_header("名=x".encode().decode("latin-1")) == {"名": "x"}


@pytest.mark.parametrize("value", ["a=1&a=2", "a=1,b=2", "a=%FF", "a=%E5%90", "a=<b>", "k=v;w"])
def test_tagging_header_refusals(value: str) -> None:
    code, message, extra = refused(parse_tagging_header, value)
    assert code is ErrorCode.INVALID_ARGUMENT and "x-amz-tagging" in message
    assert extra == {"ArgumentName": "x-amz-tagging", "ArgumentValue": value}


def test_tagging_xml() -> None:
    body = (b'<?xml version="1.0"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>'
            b"<Tag><Key>b</Key><Value></Value></Tag><Tag><Key>a &#x540d; z</Key><Value>1</Value></Tag>"
            b"</TagSet></Tagging>")
    tags = parse_tagging_xml(body, "object")
    assert list(tags.items()) == [("b", ""), ("a 名 z", "1")]
    assert parse_tagging_xml(tagging_xml(tags), "object") == tags
    assert parse_tagging_xml(b"<Tagging/>", "bucket") == {}
    assert parse_tagging_xml(b"<Tagging><TagSet/></Tagging>", "bucket") == {}


@pytest.mark.parametrize("body", [b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
                                  b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
                                  b"<Tagging><TagSet><Key>k</Key></TagSet></Tagging>", b"<TagSet/>", b"<Tagging>",
                                  b'<!DOCTYPE x [<!ENTITY a "b">]><Tagging/>'])
def test_tagging_xml_malformed(body: bytes) -> None:
    assert refused(parse_tagging_xml, body, "object")[0] is ErrorCode.MALFORMED_XML


texts = st.text(st.characters(categories=("L", "N", "Zs"), include_characters="_.:/=+-@"), max_size=20)


@given(st.dictionaries(texts.filter(lambda k: k != "" and not k.startswith("aws:")), texts, max_size=10))
def test_tagging_xml_round_trip(tags: dict[str, str]) -> None:
    assert list(parse_tagging_xml(tagging_xml(tags), "object").items()) == list(tags.items())


# -- policy condition keys ---------------------------------------------------------------------------------


def _decide(condition: dict[str, Any], action: str, extra: dict[str, Any]) -> Decision:
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
         "Condition": condition}]})
    document = parse_policy(text, "b")
    return evaluate(document, AccessRequest("alice", None, action, "b/k",
                                            condition_values(RequestContext(), "alice", action, extra)))


def test_existing_object_tag_values() -> None:
    condition = {"StringEquals": {"s3:ExistingObjectTag/Project": "x"}}
    assert _decide(condition, "s3:GetObject", existing_tag_values({"project": "x"})) is Decision.ALLOW
    assert _decide(condition, "s3:GetObject", existing_tag_values({"project": "y"})) is Decision.NONE
    assert _decide(condition, "s3:GetObject", existing_tag_values({})) is Decision.NONE
    # tags that differ only in case all give their values to the one condition key
    assert existing_tag_values({"A": "1", "a": "2"}) == {"s3:existingobjecttag/a": ("1", "2")}


def test_request_object_tag_values() -> None:
    keys = {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "cost"]}}
    assert _decide(keys, "s3:PutObject", request_tag_values({"team": "a", "cost": "1"})) is Decision.ALLOW
    assert _decide(keys, "s3:PutObject", request_tag_values({"team": "a", "owner": "me"})) is Decision.NONE
    any_key = {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "team"}}
    assert _decide(any_key, "s3:PutObject", request_tag_values({"x": "1", "team": "2"})) is Decision.ALLOW
    assert _decide(any_key, "s3:PutObject", request_tag_values(None)) is Decision.NONE
    value = {"StringLike": {"s3:RequestObjectTag/env": "prod-*"}}
    assert _decide(value, "s3:PutObject", request_tag_values({"env": "prod-eu"})) is Decision.ALLOW
    assert _decide({"Null": {"s3:RequestObjectTagKeys": "true"}}, "s3:PutObject", request_tag_values({})) is \
        Decision.ALLOW


@pytest.mark.parametrize("key", ["s3:ExistingObjectTag/", "s3:ExistingObjectTag", "s3:RequestObjectTag",
                                 "s3:RequestObjectTagKey"])
def test_malformed_tag_condition_keys(key: str) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
         "Condition": {"StringEquals": {key: "x"}}}]})
    assert refused(parse_policy, text, "b")[:2] == (ErrorCode.MALFORMED_POLICY, "Policy has an invalid condition key")


def test_mentions_existing_tags() -> None:
    assert mentions_existing_tags('{"Condition": {"StringEquals": {"S3:existingObjectTag/a": "b"}}}')
    assert not mentions_existing_tags('{"Condition": {"StringEquals": {"s3:RequestObjectTag/a": "b"}}}')

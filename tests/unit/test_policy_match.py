"""The policy language's wildcard matcher: AWS's glob semantics, in linear time for any pattern.

Timed assertions use bounds far above what the matcher needs (it takes well under a millisecond
where the regex it replaced took seconds to hours), so a loaded machine cannot make them flaky.
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# wildcard_match through sealbox.service.policy, where it always was: the cost tests also run on old code
from sealbox.service.policy import (
    AccessRequest,
    Decision,
    RequestContext,
    condition_values,
    evaluate,
    parse_policy,
    wildcard_match,
)

SHORT = 64  # sealbox.service.policy_match._SHORT: longer '?'-segments take the Shift-And path

KEY_60K = 60 * 1024
BOUND = 0.2  # CPU seconds: generous; each case below takes well under a millisecond here


def reference(pattern: str, text: str) -> bool:
    """The definition, by dynamic programming (``\\x00`` escapes the next character)."""
    symbols: list[str | None] = []  # None = '?', '' = '*'
    i = 0
    while i < len(pattern):
        if pattern[i] == "\x00" and i + 1 < len(pattern):
            symbols.append(pattern[i + 1])
            i += 2
            continue
        symbols.append("" if pattern[i] == "*" else None if pattern[i] == "?" else pattern[i])
        i += 1

    @functools.lru_cache(maxsize=None)
    def match(p: int, t: int) -> bool:
        if p == len(symbols):
            return t == len(text)
        symbol = symbols[p]
        if symbol == "":
            return match(p + 1, t) or (t < len(text) and match(p, t + 1))
        return t < len(text) and (symbol is None or symbol == text[t]) and match(p + 1, t + 1)

    return match(0, 0)


def timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this thread: unlike wall time it does not grow when other processes share the
    cores (the suite runs beside servers and browsers). The bounds below are generous against that
    and separate linear from backtracking matching, which took seconds to minutes on these inputs."""
    start = time.thread_time()
    fn()
    return time.thread_time() - start


# -- semantics ---------------------------------------------------------------------------------------------


def test_wildcards() -> None:
    assert wildcard_match("a*c", "abbbc")
    assert wildcard_match("a*c", "ac")
    assert not wildcard_match("a*c", "acb")
    assert wildcard_match("a?c", "abc")
    assert not wildcard_match("a?c", "ac")
    assert wildcard_match("*", "")
    assert wildcard_match("**", "")
    assert not wildcard_match("?", "")
    assert wildcard_match("x/*", "x/\nnewline")  # '*' crosses '/' and newlines alike
    assert wildcard_match("pub/*/*/*.jpg", "pub/a/b/c.jpg")
    assert wildcard_match("pub/*/*/*.jpg", "pub////.jpg")
    assert not wildcard_match("pub/*/*/*.jpg", "pub/a/b.jpg")
    assert wildcard_match("*ab*ab*", "abab")
    assert not wildcard_match("*ab*ab*", "aba")
    assert not wildcard_match("a*a", "a")  # head and tail may not overlap


def test_regex_metacharacters_are_literal() -> None:
    assert wildcard_match("a.c", "a.c")
    assert not wildcard_match("a.c", "abc")
    assert wildcard_match("a[b]c", "a[b]c")
    assert wildcard_match("(a|b)+?", "(a|b)+x")
    assert not wildcard_match("(a|b)+?", "a")


def test_escaped_wildcards_are_literal() -> None:
    # expand_variables writes ${*} / ${?} and wildcards inside variable values as \x00-escaped literals
    assert wildcard_match("a\x00*b", "a*b")
    assert not wildcard_match("a\x00*b", "axb")
    assert wildcard_match("*\x00?", "what?")
    assert not wildcard_match("*\x00?", "what!")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab*?\x00", max_size=9), st.text(alphabet="ab*?", max_size=10))
def test_agrees_with_the_definition(pattern: str, text: str) -> None:
    assert wildcard_match(pattern, text) == reference(pattern, text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab?", min_size=SHORT + 1, max_size=SHORT + 40), st.text(alphabet="ab", max_size=300),
       st.sampled_from(["", "*", "a*"]), st.sampled_from(["", "*", "*b"]), st.integers(0, 300))
def test_long_single_character_segments_agree_with_the_definition(segment: str, text: str, head: str,
                                                                   tail: str, at: int) -> None:
    """Segments with '?' longer than SHORT take the Shift-And path; plant a match half the time."""
    from sealbox.service.policy_match import _SHORT

    assert _SHORT == SHORT
    if at % 2:
        planted = "".join("ab"[i % 2] if c == "?" else c for i, c in enumerate(segment))
        text = text[: at % (len(text) + 1)] + planted + text[at % (len(text) + 1):]
    pattern = head + segment + tail
    assert wildcard_match(pattern, text) == reference(pattern, text)


def test_arn_parts_are_matched_separately() -> None:
    from sealbox.service.policy_match import arn_match

    user = "arn:aws:iam::sealbox:user/alice"
    assert arn_match("arn:aws:iam::sealbox:user/a*", user)
    assert arn_match("arn:aws:iam::*:user/*", user)
    assert arn_match("arn:*:*:*:*:*", user)
    assert not arn_match("arn:aws:*", user)  # a wildcard does not reach into the next part
    assert not arn_match("arn:aws:iam::sealbox*", user)
    assert not arn_match("arn:aws:iam::sealbox:user/a*", "not-an-arn")
    assert arn_match("arn:aws:s3:::bucket/a:b*", "arn:aws:s3:::bucket/a:b:c")  # the 6th part keeps its colons


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=4))
def test_can_match_with_prefix(pattern: str, prefix: str) -> None:
    from sealbox.service.policy_match import can_match_with_prefix

    completions = ("".join(c) for n in range(len(pattern) + 1) for c in itertools.product("ab", repeat=n))
    assert can_match_with_prefix(pattern, prefix) == any(reference(pattern, prefix + c) for c in completions)


# -- cost: linear in the text, whatever the pattern ---------------------------------------------------------


def test_eight_wildcards_against_a_60_kib_key() -> None:
    """The backtracking regex took 6.7 s for three stars against 4,000 '/' (n^3); 60 KiB: forever."""
    pattern = "pub/*/*/*/*/*/*/*/*.jpg"
    key = "pub/" + "/" * KEY_60K
    wildcard_match(pattern, "")  # compiled once per worker and cached: not what is timed
    assert timed(lambda: wildcard_match(pattern, key)) < BOUND
    assert timed(lambda: wildcard_match(pattern, key + "x.jpg")) < BOUND
    assert wildcard_match(pattern, key + "x.jpg") and not wildcard_match(pattern, key)


@pytest.mark.parametrize("pattern", [
    "*a*a*a*a*b",  # the regex took 70 s against 400 'a'
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "*" + "a*" * 2000 + "b",
    "*" + "a" * 5000 + "b*",  # a long literal segment: str.find stays linear (Two-Way)
    "*" + "a?" * 30 + "b*",  # a short '?'-segment: the regex engine, no quantifier, no backtracking
    "*" + "?" * 20000 + "b",
])
def test_worst_patterns_against_60_kib(pattern: str) -> None:
    text = "a" * KEY_60K
    wildcard_match(pattern, "")  # compiled once per worker and cached: not what is timed
    assert timed(lambda: wildcard_match(pattern, text)) < BOUND
    assert not wildcard_match(pattern, text)
    hit = text[:-1] + "b"
    assert timed(lambda: wildcard_match(pattern, hit)) < BOUND


def test_the_worst_case_found_a_long_single_character_segment() -> None:
    """The slowest input found: one '?'-segment of 10,000 symbols that matches almost everywhere.

    Shift-And: one pass, ~10,000-bit state operations per character (tens of ms for 60 KiB).
    """
    pattern = "*" + "a?" * 5000 + "b*"
    text = "a" * KEY_60K
    wildcard_match(pattern, "")  # compiled once per worker and cached: not what is timed
    assert timed(lambda: wildcard_match(pattern, text)) < 5.0
    assert wildcard_match(pattern, text[:30000] + "b" + text[30000:])


def test_conditions_use_the_same_matcher() -> None:
    """StringLike against a 60 KiB header value (User-Agent), through the policy evaluator."""
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
        "Condition": {"StringLike": {"aws:UserAgent": "*a*a*a*a*a*a*a*b"}}}]})
    policy = parse_policy(text, "b")
    ctx = RequestContext(headers={"user-agent": "a" * KEY_60K})
    request = AccessRequest(None, None, "s3:GetObject", "b/k", condition_values(ctx, None, "s3:GetObject"))
    assert timed(lambda: evaluate(policy, request)) < BOUND
    assert evaluate(policy, request) is Decision.NONE


def test_resources_use_the_same_matcher() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/pub/*/*/*/*/*/*/*/*.jpg"}]})
    policy = parse_policy(text, "b")
    request = AccessRequest(None, None, "s3:GetObject", "b/pub/" + "/" * KEY_60K,
                            condition_values(RequestContext(), None, "s3:GetObject"))
    assert timed(lambda: evaluate(policy, request)) < BOUND
    assert evaluate(policy, request) is Decision.NONE


def test_validating_a_huge_resource_pattern_is_fast() -> None:
    """PutBucketPolicy checks that a resource can name the bucket: an NFA over at most 64 characters."""
    resource = "arn:aws:s3:::b" + "*?" * 9000
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resource}]})
    assert timed(lambda: parse_policy(text, "b")) < 3.0


def test_a_policy_of_thousands_of_patterns_has_a_budget() -> None:
    """Linear per pattern is not enough: a 20 KiB policy holds ~1,900 patterns and a header may hold
    60 KiB (~0.5 s of matching for one request). Past its matching budget the request is denied."""
    def policy_of(count: int) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringLike": {"aws:UserAgent": [f"*a?b{i}*" for i in range(count)]}}}]},
            separators=(",", ":"))
    count = 1
    while len(policy_of(count + 1)) <= 20 * 1024:
        count += 1
    policy = parse_policy(policy_of(count), "b")

    def decide(user_agent: str) -> Decision:
        ctx = RequestContext(headers={"user-agent": user_agent})
        return evaluate(policy, AccessRequest(None, None, "s3:GetObject", "b/k",
                                              condition_values(ctx, None, "s3:GetObject")))
    assert count > 1500
    assert timed(lambda: decide("a" * KEY_60K)) < 1.0
    assert decide("a" * KEY_60K) is Decision.DENY  # fails closed, even though the policy only allows
    assert decide("Mozilla a1b7 " + "a" * 100) is Decision.ALLOW  # ordinary values are matched in full
    assert decide("a" * 1000) is Decision.NONE

"""The wildcard matching of the policy language, linear in the text for any pattern. No regex of the pattern.

Semantics (AWS's): ``*`` matches any run of characters (``/`` included, and the empty run), ``?``
exactly one character, everything else itself; case-sensitive (callers lower-case both sides where
the language is case-insensitive, e.g. actions). A wildcard escaped by ``expand_variables`` (``\\x00*``,
``\\x00?``: from ``${*}``, ``${?}`` or a variable's value) is a literal.

Why not a regular expression: ``*`` as ``.*`` backtracks, and a pattern with k stars costs up to
n^k steps on a text of n characters (``pub/*/*/*.jpg`` against a key of 4,000 ``/`` took 6.7 s;
``*a*a*a*a*b`` against 400 ``a`` took 70 s), on the event loop, for every request to the bucket,
anonymous ones included.

The algorithm. A pattern is cut at its stars into segments ``S0 * S1 * … * Sk``, each of a fixed
length (literal characters and ``?``). The text matches iff it starts with S0, ends with Sk (the two
not overlapping) and S1 … Sk-1 occur in order, without overlap, in what lies between; placing each at
its leftmost occurrence after the previous one is always right (a later placement leaves less room
and never more). So each segment is searched once, from where the previous one ended:

* a literal segment (no ``?``, the usual case: ``pub/``, ``/``, ``.jpg``) with ``str.find``, which
  is linear in the text (CPython switches to the Two-Way algorithm for needles where its default
  search would be slow);
* a short segment with ``?`` (up to ``_SHORT`` symbols) with a compiled expression of literals and
  ``.`` only, searched by the C engine: no quantifier, so no backtracking, at most ``_SHORT``
  comparisons per position;
* a longer one by Shift-And: one pass over the text with the segment's state as the bits of an
  int, a few operations on ``len(segment)`` bits per character.

Searches start where the previous segment ended, so the whole match reads each text position once
per search at most: O(n·⌈m/30⌉) machine-word operations in the worst case, O(n + m) for patterns
without ``?``. One policy evaluation may hold thousands of patterns, though: ``MATCH_BUDGET`` caps
what all of them together may cost one request (past it, the request is denied). Measured on this machine (bench/authz.py and tests/unit/test_policy_match.py):
8 stars against a 60 KiB key ≈ 0.1 ms, ``*a*a*a*a*b`` against 60 KiB ≈ 0.1 ms.
"""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass

_SHORT = 64  # '?'-segments up to this many symbols go to the C regex engine; longer ones to Shift-And

# What one policy evaluation may spend on matching, in units of about one character scanned (a
# literal segment costs 1 per character of the text, a '?'-segment more: see ``_Segment.cost``):
# some 10-30 ms here. A 20 KiB policy holds ~2,000 patterns, and a header value may be 64 KiB, so
# linear matching alone still allowed ~0.5 s for one request; past this budget the evaluation stops
# and the request is denied (``BudgetExceeded``), which no policy a person writes comes near
# (100 patterns against a 1 KiB key spend 0.1 M).
MATCH_BUDGET = 1 << 22
_budget: ContextVar[list[int] | None] = ContextVar("sealbox_policy_match_budget", default=None)


class BudgetExceeded(Exception):
    """Matching this request against this policy would cost more than MATCH_BUDGET."""


def start_budget(units: int = MATCH_BUDGET) -> Token[list[int] | None]:
    """Open a matching budget for the calls that follow (one policy evaluation); returns a token for
    ``end_budget``. Without one, matching is unmetered (policy validation, tests)."""
    return _budget.set([units])


def end_budget(token: Token[list[int] | None]) -> None:
    _budget.reset(token)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A fixed-length run of symbols: a ``literal`` when it has no ``?``; else ``regex`` (short ones) or
    ``runs`` and Shift-And ``masks`` (long ones)."""

    length: int
    literal: str | None
    regex: re.Pattern[str] | None = None  # short '?'-segments: literals and '.', no quantifier
    runs: tuple[tuple[int, str], ...] = ()  # long '?'-segments: (offset, literal run) pieces
    masks: dict[str, int] | None = None  # long '?'-segments: char -> bits of the positions it may take
    any_mask: int = 0  # bits of the '?' positions (all that any other character may take)

    @property
    def cost(self) -> int:
        """Extra work per character of text searched, beyond the one every segment costs."""
        if self.literal is not None:
            return 0
        if self.regex is not None:
            return 1 + self.length // 8  # up to `length` comparisons at a position, in C
        return 4 + self.length // 16  # Shift-And: operations on `length`-bit ints, in Python

    def at(self, text: str, index: int) -> bool:
        """Does the segment match ``text`` at ``index`` (the caller checked it fits)?"""
        if self.literal is not None:
            return text.startswith(self.literal, index)
        if self.regex is not None:
            return self.regex.match(text, index) is not None
        return all(text.startswith(run, index + offset) for offset, run in self.runs)

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost index ≥ start at which the segment matches, ending by ``end``; -1 if none."""
        if self.literal is not None:
            return text.find(self.literal, start, end)
        if self.regex is not None:
            found = self.regex.search(text, start, end)
            return -1 if found is None else found.start()
        return self._shift_and(text, start, end)

    def _shift_and(self, text: str, start: int, end: int) -> int:
        assert self.masks is not None
        get, other, length = self.masks.get, self.any_mask, self.length
        state = 0  # bit i: the segment's first i+1 symbols match the text ending here
        index = start
        for ch in text[start:end]:
            state = ((state << 1) | 1) & get(ch, other)
            if state.bit_length() == length:  # masks hold no bit above length-1: the whole segment
                return index - length + 1
            index += 1
        return -1


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled pattern (see the module docstring)."""

    head: _Segment  # must match at the start
    middle: tuple[_Segment, ...]  # in order, leftmost-first, between head and tail
    tail: _Segment | None  # must match at the end; None when the pattern has no star at all
    min_length: int  # the symbols that are not stars: no shorter text can match
    cost: int = 1  # budget units per character of text (an upper bound of the work, see MATCH_BUDGET)

    def matches(self, text: str) -> bool:
        n = len(text)
        if n < self.min_length:
            return False
        head = self.head
        if self.tail is None:
            return n == head.length and head.at(text, 0)
        if head.length and not head.at(text, 0):
            return False
        end = n - self.tail.length
        if self.tail.length and not self.tail.at(text, end):
            return False
        position = head.length
        for segment in self.middle:
            found = segment.find(text, position, end)
            if found < 0:
                return False
            position = found + segment.length
        return True


def _symbols(pattern: str) -> list[str | None]:
    """Pattern characters as symbols: a character, ``None`` for ``?`` and ``""`` for ``*``."""
    out: list[str | None] = []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        if ch == "\x00" and index + 1 < len(pattern):  # an escaped literal from expand_variables
            out.append(pattern[index + 1])
            index += 2
            continue
        out.append("" if ch == "*" else None if ch == "?" else ch)
        index += 1
    return out


def _segment(symbols: list[str | None]) -> _Segment:
    length = len(symbols)
    if None not in symbols:
        return _Segment(length, "".join(s for s in symbols if s is not None))
    if length <= _SHORT:
        regex = re.compile("".join("." if s is None else re.escape(s) for s in symbols), re.DOTALL)
        return _Segment(length, None, regex)
    runs: list[tuple[int, str]] = []
    run: list[str] = []
    bits: dict[str | None, bytearray] = {}  # symbol -> little-endian bit array of its positions
    for position, symbol in enumerate(symbols + [None]):
        if symbol is not None:
            run.append(symbol)
        elif run:
            runs.append((position - len(run), "".join(run)))
            run = []
        if position < length:
            array = bits.setdefault(symbol, bytearray(length // 8 + 1))
            array[position >> 3] |= 1 << (position & 7)
    any_mask = int.from_bytes(bits.pop(None, bytearray()), "little")
    masks = {symbol: any_mask | int.from_bytes(array, "little") for symbol, array in bits.items()
             if symbol is not None}
    return _Segment(length, None, None, tuple(runs), masks, any_mask)


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """The compiled form of a pattern, cached per worker (patterns come from a few stored policies)."""
    pieces: list[list[str | None]] = [[]]
    for symbol in _symbols(pattern):
        if symbol == "":
            pieces.append([])
        else:
            pieces[-1].append(symbol)
    segments = [_segment(piece) for piece in pieces]
    min_length = sum(s.length for s in segments)
    cost = 1 + sum(s.cost for s in segments)
    if len(segments) == 1:
        return Glob(segments[0], (), None, min_length, cost)
    middle = tuple(s for s in segments[1:-1] if s.length)  # '**' leaves empty segments: nothing to find
    return Glob(segments[0], middle, segments[-1], min_length, cost)


def wildcard_match(pattern: str, text: str) -> bool:
    """``*`` = any run of characters, ``?`` = exactly one; everything else literal (see the module doc)."""
    if "*" not in pattern and "?" not in pattern and "\x00" not in pattern:
        return pattern == text
    glob = compile_glob(pattern)
    remaining = _budget.get()
    if remaining is not None:  # charged up front: the bound of the work, not what it turns out to be
        remaining[0] -= len(text) * glob.cost
        if remaining[0] < 0:
            raise BudgetExceeded
    return glob.matches(text)


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike/ArnEquals: each of the six ``:``-separated parts matched on its own, wildcards included.

    As in the IAM reference, a wildcard never reaches across a ``:`` into the next part (the
    resource part, the sixth, keeps any further colons).
    """
    expected = pattern.split(":", 5)
    actual = arn.split(":", 5)
    if len(expected) != 6 or len(actual) != 6:
        return False
    return all(wildcard_match(e, a) for e, a in zip(expected, actual, strict=True))


def can_match_with_prefix(pattern: str, prefix: str) -> bool:
    """True if ``pattern`` (raw: ``*``/``?`` wildcards, no escapes) matches some string starting with ``prefix``.

    A bit-parallel NFA over the pattern's positions, one step per character of ``prefix`` (a bucket
    name and a ``/``: at most 64 steps whatever the pattern's size).
    """
    collapsed = re.sub(r"\*+", "*", pattern)
    stars = 0
    masks: dict[str, int] = {}
    anyone = 0
    for position, ch in enumerate(collapsed):
        if ch == "*":
            stars |= 1 << position
        elif ch == "?":
            anyone |= 1 << position
    for position, ch in enumerate(collapsed):
        if ch not in "*?":
            masks[ch] = masks.get(ch, anyone) | (1 << position)
    # state bit i: the pattern's first i symbols have consumed the prefix read so far
    state = 1 | ((1 & stars) << 1)
    for ch in prefix:
        moved = ((state & ~stars) & masks.get(ch, anyone)) << 1
        state = moved | (state & stars)
        state |= (state & stars) << 1  # a star may also match nothing (stars are collapsed: one step)
        if not state:
            return False
    return True

"""Backend-independent listing: prefix, delimiter roll-up into CommonPrefixes, markers, max-keys.

A backend supplies ``fetch(lower, inclusive, lower_id)``: up to ``BATCH`` rows ordered by key (and,
for version listings, newest first within a key) starting after the cursor. This module walks
them, rolls keys up into common prefixes and jumps over every key under a prefix once it has been
emitted, so a folder with a million keys costs one query, not a million rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BATCH = 1000
# Sorts after every key that starts with a given prefix (keys are compared as UTF-8 bytes).
_MAX_CHAR = "\U0010ffff"


@dataclass(frozen=True)
class Row:
    key: str
    id: int
    raw: Any


@dataclass
class Page:
    rows: list[Any] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key: str | None = None  # last key or common prefix returned, when truncated


Fetch = Callable[[str, bool, "int | None"], list[Row]]


def paginate(fetch: Fetch, prefix: str, delimiter: str, after: str, after_id: int | None, max_keys: int, *,
             skip_delete_markers: bool, is_delete_marker: Callable[[Any], bool]) -> Page:
    page = Page()
    if max_keys <= 0:
        return page
    lower, inclusive, lower_id = (prefix, True, None) if after_id is None and prefix > after else (after, False, after_id)
    count = 0
    while True:
        batch = fetch(lower, inclusive, lower_id)
        jumped = False
        for row in batch:
            if not row.key.startswith(prefix):
                if row.key > prefix:
                    return page
                continue
            if delimiter:
                cut = row.key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = row.key[: cut + len(delimiter)]
                    if common > after and (not page.common_prefixes or page.common_prefixes[-1] != common):
                        if count >= max_keys:
                            return _truncated(page)
                        page.common_prefixes.append(common)
                        page.next_key = common
                        count += 1
                    lower, inclusive, lower_id, jumped = common + _MAX_CHAR, False, None, True
                    break
            lower, inclusive, lower_id = row.key, False, row.id
            if skip_delete_markers and is_delete_marker(row.raw):
                continue
            if count >= max_keys:
                return _truncated(page)
            page.rows.append(row.raw)
            page.next_key = row.key
            count += 1
        if not jumped and len(batch) < BATCH:
            page.next_key = None
            return page


def _truncated(page: Page) -> Page:
    page.is_truncated = True
    return page

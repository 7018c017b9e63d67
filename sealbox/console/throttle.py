"""Back-off for console sign-in: failed attempts slow down guessing, per client address and per
access key, across all worker processes; every attempt is logged on ``sealbox.audit``.

Each attempt counts against two subjects, the client's address and the access key typed (stored
as a hash: someone who types a secret into the access-key field must not find it in a table). Up to
``FREE_FAILURES`` failures cost nothing; from then on each failure blocks its subjects for
``BASE_DELAY`` seconds, doubled per further failure, at most ``MAX_DELAY``. While a subject is blocked
its attempts are answered 429 without checking the secret, and do not count (a guesser waiting at
the door does not lengthen the lock of the person whose key it is). A success clears both subjects;
counts are forgotten ``FORGET_SECONDS`` after the last attempt.

An attempt counts *before* the secret is checked, in one transaction of the console store, and a
success takes it back: parallel guesses on several workers queue on that transaction, so none gets
past a block that an earlier one has just earned.

The two subjects cover each other's gap: one address guessing many keys is stopped by its address,
many addresses guessing one key by the key. The price is that a guesser can delay the sign-in of
the key it guesses, or of everyone behind the same address (a NAT), for up to ``MAX_DELAY`` at a
time — bounded, and S3 requests signed with the key are not affected.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from sealbox.console.store import ConsoleStore

audit = logging.getLogger("sealbox.audit")
FREE_FAILURES = 4  # the 5th failure in a row starts the back-off
BASE_DELAY = 5.0  # the 5th failure: 5 s, then 10, 20, 40 ... up to MAX_DELAY
MAX_DELAY = 900.0
FORGET_SECONDS = 24 * 3600.0


def delay_for(failures: int) -> float:
    """Seconds that ``failures`` counted attempts block their subject for (0: not blocked)."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(BASE_DELAY * 2.0 ** min(failures - FREE_FAILURES - 1, 32), MAX_DELAY)


def subjects(client: str, access_key: str) -> list[str]:
    digest = hashlib.sha256(access_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return [f"ip:{client or '-'}", f"key:{digest}"]


def retry_message(wait: float) -> str:
    seconds = max(1, math.ceil(wait))
    return f"Too many failed sign-ins; try again in {seconds} second{'s' if seconds != 1 else ''}."


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, counted until it succeeds (``succeeded``)."""

    store: ConsoleStore
    subjects: list[str]

    def succeeded(self) -> None:
        self.store.clear_signin(self.subjects)


def begin(store: ConsoleStore, client: str, access_key: str, now: float | None = None) -> Attempt | float:
    """An attempt that may be checked, or the seconds to wait before one may be (blocking call)."""
    names = subjects(client, access_key)
    wait = store.count_signin(names, time.time() if now is None else now, delay_for, FORGET_SECONDS)
    return wait if wait > 0 else Attempt(store, names)


def log_attempt(access_key: str, known: bool, client: str, outcome: str) -> None:
    """One audit line per attempt: access key, client address, outcome ("success", "failure",
    "throttled"). Never the secret; an access key that does not exist is shown as a hash of what was
    typed (as CloudTrail hides unknown user names: it may be a secret typed into the wrong field)."""
    shown = access_key[:128] if known else "unknown:" + hashlib.sha256(
        access_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    audit.info("console sign-in %s: access_key=%r client=%s", outcome, shown, client or "-")

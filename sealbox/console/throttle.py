"""Back-off for console sign-in: failed attempts slow down guessing, per client address and per
access key, across all worker processes; every attempt is logged on ``sealbox.audit``.

Each attempt counts against two subjects, the client's address and the access key typed (stored
as a hash: someone who types a secret into the access-key field must not find it in a table). Up to
``FREE_FAILURES`` failures in a row cost nothing; the next blocks both subjects for ``BASE_DELAY``
seconds, doubled per further failure, at most ``MAX_DELAY``. While a subject is blocked its attempts
are answered 429 without checking the secret and do not count (a guesser waiting at the door does
not lengthen the lock of the person whose key it is). A success clears the count of both subjects;
counts are forgotten ``FORGET_SECONDS`` after the last failure. State lives in the console store
(one SQLite file every worker shares), so it does not matter which worker a connection lands on.

Parallel guesses must not slip past a block that the ones before them are about to earn, so a
subject may have only as many attempts *being checked* at once as it has failures left before
its first block (at least one; ``capacity``): four at once from a fresh address, one at a time
once it has failed four times. An attempt beyond that waits for a free place (briefly, and only
while the subject has no failures: many people signing in at once behind one address are served
in turn) or is answered 429. So however many connections a guesser opens, at most five guesses
are checked before the first block, and one per block after it.

The two subjects cover each other's gap: one address guessing many keys is stopped by its address,
many addresses guessing one key by the key. The price is that a guesser can delay the sign-in of
the key it guesses, or of everyone behind the same address (a NAT), for up to ``MAX_DELAY`` at a
time — bounded, and S3 requests signed with the key are not affected.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from sealbox.console.store import ConsoleStore, SigninRules

audit = logging.getLogger("sealbox.audit")
FREE_FAILURES = 4  # the 5th failure in a row starts the back-off
BASE_DELAY = 5.0  # the 5th failure: 5 s, then 10, 20, 40 ... up to MAX_DELAY
MAX_DELAY = 900.0
FORGET_SECONDS = 24 * 3600.0
STALE_SECONDS = 30.0  # an attempt still "being checked" after this long died with its worker
WAIT_STEP = 0.05  # while waiting for a free place to check an attempt
WAIT_LIMIT = 10.0


def delay_for(failures: int) -> float:
    """Seconds that ``failures`` failures in a row block their subject for (0: not blocked)."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(BASE_DELAY * 2.0 ** min(failures - FREE_FAILURES - 1, 32), MAX_DELAY)


def capacity(failures: int) -> int:
    """Attempts of one subject that may be checked at once: no more than could fail before its
    next block."""
    return max(1, FREE_FAILURES - failures)


RULES = SigninRules(capacity=capacity, delay=delay_for, forget=FORGET_SECONDS, stale=STALE_SECONDS)


def subjects(client: str, access_key: str) -> list[str]:
    digest = hashlib.sha256(access_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return [f"ip:{client or '-'}", f"key:{digest}"]


@dataclass(frozen=True)
class Refused:
    """No attempt may be checked now: answer 429 with ``message`` and Retry-After ``retry_after``."""

    retry_after: int
    message: str


def refused_for(wait: float) -> Refused:
    seconds = max(1, math.ceil(wait))
    return Refused(seconds, f"Too many failed sign-ins; try again in {seconds} second{'s' if seconds != 1 else ''}.")


BUSY = Refused(1, "Too many sign-ins at once from here; try again in 1 second.")


@dataclass(frozen=True)
class Attempt:
    """One admitted sign-in attempt; ``finish`` records its outcome (exactly once)."""

    store: ConsoleStore
    subjects: list[str]

    def finish(self, succeeded: bool) -> None:
        self.store.finish_signin(self.subjects, time.time(), succeeded, RULES)


async def admit(store: ConsoleStore, client: str, access_key: str) -> Attempt | Refused:
    """An attempt that may be checked now, or why not."""
    names = subjects(client, access_key)
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        admission = await asyncio.to_thread(store.admit_signin, names, time.time(), RULES)
        if admission.admitted:
            return Attempt(store, names)
        if admission.wait > 0:
            return refused_for(admission.wait)
        if admission.failing or time.monotonic() > deadline:
            return BUSY  # guessing in parallel: no queue for that
        await asyncio.sleep(WAIT_STEP)


def log_attempt(access_key: str, known: bool, client: str, outcome: str) -> None:
    """One audit line per attempt: access key, client address, outcome ("success", "failure",
    "throttled"). Never the secret; an access key that does not exist is shown as a hash of what was
    typed (as CloudTrail hides unknown user names: it may be a secret typed into the wrong field)."""
    shown = access_key[:128] if known else "unknown:" + hashlib.sha256(
        access_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    audit.info("console sign-in %s: access_key=%r client=%s", outcome, shown, client or "-")

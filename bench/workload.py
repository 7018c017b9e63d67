"""Bodies, cases and the bounded asyncio load loop shared by every HTTP target."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sigv4_client import Connection, Response, SigV4Signer, s3_path

KiB = 1024
MiB = 1024 * KiB
STRIDE = 4 * KiB  # body i starts STRIDE*i bytes into one random buffer: distinct bodies, no copies
MAX_ERROR_SAMPLES = 5


def machine_cpu_seconds() -> float:
    """user+nice+system CPU seconds of the whole machine so far (irq/softirq excluded: loopback traffic)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system)


def size_label(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB}MiB"
    return f"{size // KiB}KiB" if size % KiB == 0 else f"{size}B"


class BodyPool:
    """``count`` distinct random bodies of ``size`` bytes, as zero-copy views of one random buffer."""

    def __init__(self, size: int, count: int):
        self.size, self.count = size, count
        self._buf = os.urandom(size + STRIDE * (count - 1))
        self._view = memoryview(self._buf)
        self._digests: dict[int, bytes] = {}

    def body(self, n: int) -> memoryview:
        start = (n % self.count) * STRIDE
        return self._view[start : start + self.size]

    def digest(self, n: int) -> bytes:
        i = n % self.count
        if i not in self._digests:
            self._digests[i] = hashlib.sha256(self.body(i)).digest()
        return self._digests[i]

    def write_files(self, directory: Path, count: int) -> int:
        """Write the first ``count`` bodies as files 0..count-1 (for nginx); returns how many."""
        directory.mkdir(parents=True, exist_ok=True)
        count = min(count, self.count)
        for i in range(count):
            (directory / str(i)).write_bytes(self.body(i))
        return count


def sse_label(sse: str) -> str:
    """How reports name an encryption mode: off, s3 (SSE-S3), kms (SSE-KMS)."""
    return {"": "off", "AES256": "s3", "aws:kms": "kms", "SSE-C": "c"}.get(sse, sse)


_CUSTOMER_KEY = bytes(range(32))  # SSE-C cases: one customer key for every object


def sse_headers(sse: str, write: bool) -> dict[str, str] | None:
    """The request headers of a case's encryption mode: SSE-C's three on every request, the others' on writes."""
    if sse == "SSE-C":
        import base64
        import hashlib

        return {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                "x-amz-server-side-encryption-customer-key": base64.b64encode(_CUSTOMER_KEY).decode(),
                "x-amz-server-side-encryption-customer-key-MD5":
                    base64.b64encode(hashlib.md5(_CUSTOMER_KEY).digest()).decode()}
    return {"x-amz-server-side-encryption": sse} if sse and write else None


@dataclass
class CaseSpec:
    target: str  # sealbox | moto | nginx | disk
    op: str  # PUT | GET
    size: int
    conc: int
    sse: str  # "" (none), "AES256" (SSE-S3), "aws:kms" (SSE-KMS under the account's aws/s3 key) or "SSE-C"
    max_ops: int
    seconds: float
    warmup: int = 0

    @property
    def name(self) -> str:
        return f"{self.target} {self.op}"


@dataclass
class CaseResult:
    spec: CaseSpec
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)  # kind -> count
    error_samples: list[str] = field(default_factory=list)  # one example per kind (the first few kinds)
    notes: list[str] = field(default_factory=list)
    verified: int = 0
    verify_failed: int = 0
    client_cpu: float = 0.0  # CPU seconds the benchmark process used during the case
    server_cpu: float = 0.0  # CPU seconds the server's process tree used during the case
    machine_cpu: float = 0.0  # CPU seconds (user+system, all processes, all cores) during the case
    owned_cpu: float = 0.0  # CPU seconds of all the benchmark's servers (under test or idle) during the case

    @property
    def other_cpu(self) -> float:
        """CPU seconds used by processes that are neither this benchmark nor its servers."""
        return max(0.0, self.machine_cpu - self.client_cpu - max(self.owned_cpu, self.server_cpu))

    @property
    def ops_per_s(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.ops_per_s * self.spec.size / 1e6

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0

    def error(self, kind: str, example: str) -> None:
        self.errors += 1
        if kind not in self.error_kinds and len(self.error_kinds) < MAX_ERROR_SAMPLES:
            self.error_samples.append(f"{kind}: {' '.join(example.split())[:240]}")
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class Planned:
    """One request, ready to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: memoryview | None
    expect: int | None = None  # GET: index of the body the response must equal
    verify: bool = False  # GET: hash this body in the timed loop and compare it
    key: tuple[str, int] | None = None  # PUT: (key, body index) written


# A planner turns the request ordinal into a request. It runs on the event loop, between requests.
Planner = Callable[[int], Planned]


@dataclass
class KeyStore:
    """Keys successfully written per (target, size, sse), so the GET phase reads what the PUT phase wrote."""

    keys: dict[tuple[str, int, str], list[tuple[str, int]]] = field(default_factory=dict)
    counters: dict[tuple[str, int, str], int] = field(default_factory=dict)

    def next_ordinal(self, slot: tuple[str, int, str]) -> int:
        n = self.counters.get(slot, 0)
        self.counters[slot] = n + 1
        return n

    def add(self, slot: tuple[str, int, str], key: tuple[str, int]) -> None:
        self.keys.setdefault(slot, []).append(key)

    def get(self, slot: tuple[str, int, str]) -> list[tuple[str, int]]:
        return self.keys.get(slot, [])


def s3_put_planner(
    spec: CaseSpec, signer: SigV4Signer, host: str, bucket: str, pool: BodyPool, store: KeyStore
) -> Planner:
    slot = (spec.target, spec.size, spec.sse)
    prefix = f"{size_label(spec.size)}-{sse_label(spec.sse)}"
    extra = sse_headers(spec.sse, True)

    def plan(_: int) -> Planned:
        n = store.next_ordinal(slot)
        key = f"{prefix}/{n:07d}"
        path = s3_path(bucket, key)
        return Planned("PUT", path, signer.sign("PUT", path, host, extra), pool.body(n), key=(key, n))

    return plan


def _sampled(i: int, every: int) -> bool:
    return every > 0 and i % every == 0


def s3_get_planner(
    spec: CaseSpec, signer: SigV4Signer, host: str, bucket: str, store: KeyStore, verify_every: int
) -> Planner:
    keys = store.get((spec.target, spec.size, spec.sse))
    if not keys:
        raise RuntimeError(f"no {size_label(spec.size)} objects were written for {spec.name}: nothing to GET")

    # Each key's request is signed once, before the case is timed, and sent as often as the round-robin
    # comes back to it (S3 accepts a signed request again until it is 15 minutes old). Signing costs the
    # client ~15 us per request, CPU that would otherwise be taken from the server on a 2-core machine,
    # and nginx's requests carry no signature at all; the server still verifies every signature.
    signed = [(s3_path(bucket, key), n) for key, n in keys]
    extra = sse_headers(spec.sse, False)
    signed_headers = [signer.sign("GET", path, host, extra) for path, _ in signed]

    def plan(i: int) -> Planned:
        j = i % len(signed)
        path, n = signed[j]
        return Planned("GET", path, signed_headers[j], None, expect=n, verify=_sampled(i, verify_every))

    return plan


def static_get_planner(spec: CaseSpec, files: int, verify_every: int) -> Planner:
    label = size_label(spec.size)

    def plan(i: int) -> Planned:
        n = i % files
        return Planned("GET", f"/{label}/{n}", {}, None, expect=n, verify=_sampled(i, verify_every))

    return plan


class _Loop:
    """Runs ``conc`` workers, each on its own keep-alive connection, until an op count or a deadline.

    Phases: ``warmup`` records nothing; ``timed`` records everything; ``verify`` (after the timed part)
    hashes every body and records only errors, so full-body checks cost the timed part nothing.
    """

    def __init__(self, spec: CaseSpec, plan: Planner, pool: BodyPool, store: KeyStore | None):
        self.spec, self.plan, self.pool, self.store = spec, plan, pool, store
        self.result = CaseResult(spec)
        self.issued = 0
        self.limit = 0
        self.deadline = 0.0
        self.phase = "warmup"
        self.to_verify: list[tuple[int, bytes | None]] = []

    async def run(self, conns: list[Connection], ops: int, seconds: float, phase: str) -> float:
        self.limit, self.phase = self.issued + ops, phase
        start = time.perf_counter()
        self.deadline = start + seconds
        await asyncio.gather(*(self._worker(c) for c in conns))
        return time.perf_counter() - start

    async def _worker(self, conn: Connection) -> None:
        while self.issued < self.limit and time.perf_counter() < self.deadline:
            planned = self.plan(self.issued)
            self.issued += 1
            want_digest = planned.expect is not None and (planned.verify or self.phase == "verify")
            t0 = time.perf_counter()
            try:
                resp = await conn.request(
                    planned.method, planned.path, planned.headers, planned.body, want_digest
                )
            except Exception as exc:  # noqa: BLE001 - any failure is a counted error, the loop goes on
                self._error(f"{planned.method} {type(exc).__name__}", f"{planned.path}: {exc!r}")
                continue
            if self.phase == "timed":
                self.result.latencies.append(time.perf_counter() - t0)
            self._check(planned, resp)

    def _error(self, kind: str, example: str) -> None:
        if self.phase != "warmup":
            self.result.error(kind, example)

    def _check(self, planned: Planned, resp: Response) -> None:
        if not resp.ok:
            body = resp.error_body.decode("utf-8", "replace")
            code = body.partition("<Code>")[2].partition("</Code>")[0]
            self._error(f"{planned.method} HTTP {resp.status} {code}".rstrip(), f"{planned.path}: {body}")
            return
        if planned.method == "GET" and resp.nbytes != self.spec.size:
            self._error("GET wrong length", f"{planned.path}: {resp.nbytes} bytes, not {self.spec.size}")
            return
        if self.spec.sse == "SSE-C":
            if resp.headers.get("x-amz-server-side-encryption-customer-algorithm") != "AES256":
                self.result.note(f"{planned.method} response lacks x-amz-server-side-encryption-customer-algorithm")
        elif self.spec.sse and resp.headers.get("x-amz-server-side-encryption") != self.spec.sse:
            self.result.note(f"{planned.method} response lacks x-amz-server-side-encryption: {self.spec.sse}")
        if planned.key is not None and self.store is not None:
            self.store.add((self.spec.target, self.spec.size, self.spec.sse), planned.key)
        if planned.expect is not None and resp.digest is not None and self.phase != "warmup":
            self.to_verify.append((planned.expect, resp.digest))
        if self.phase == "timed":
            self.result.ok += 1

    def verify(self) -> None:
        for n, digest in self.to_verify:
            self.result.verified += 1
            if digest != self.pool.digest(n):
                self.result.verify_failed += 1
                self.result.error("GET body mismatch", f"body {n} differs from what was written (sha256)")


async def run_http_case(
    spec: CaseSpec,
    plan: Planner,
    pool: BodyPool,
    connect: Callable[[], Connection],
    server_cpu: Callable[[], float],
    store: KeyStore | None = None,
    verify_after: int = 0,
    owned_cpu: Callable[[], float] | None = None,
) -> CaseResult:
    """Open ``conc`` connections, warm up, run the bounded timed loop, then (GET) verify a sample of bodies.

    ``verify_after`` more requests follow the timed part, untimed, and every body they get is compared with
    what was written (by sha256); they read the keys that come next in the round-robin.
    """
    conns = [connect() for _ in range(spec.conc)]
    loop = _Loop(spec, plan, pool, store)
    try:
        await asyncio.gather(*(c.connect() for c in conns))
        if spec.warmup:
            await loop.run(conns, spec.warmup, spec.seconds, "warmup")
        owned = owned_cpu or server_cpu
        cpu0, srv0, own0, all0 = time.process_time(), server_cpu(), owned(), machine_cpu_seconds()
        loop.result.elapsed = await loop.run(conns, spec.max_ops, spec.seconds, "timed")
        loop.result.client_cpu = time.process_time() - cpu0
        loop.result.server_cpu = server_cpu() - srv0
        loop.result.owned_cpu = owned() - own0
        loop.result.machine_cpu = machine_cpu_seconds() - all0
        if verify_after:
            await loop.run(conns[:verify_after], verify_after, spec.seconds, "verify")
    finally:
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    loop.verify()
    return loop.result

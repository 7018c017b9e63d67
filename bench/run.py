"""sealbox benchmark: PUT/GET throughput and latency against sealbox, with nginx and the raw disk as references.

Run with ``make bench`` (or ``.venv/bin/python bench/run.py [--quick] [--with-moto]``); see bench/README.md.
Everything runs on 127.0.0.1; every case is bounded in request count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cluster
import psutil
from diskref import run_disk_case
from report import make_row, problems, put_ceiling_lines, text_table, write_outputs
from servers import HOST, ManagedProcess, RssSampler, start_moto, start_nginx, start_sealbox
from sigv4_client import Connection, HttpError, SigV4Signer, make_connection, s3_path
from workload import (
    BodyPool,
    CaseResult,
    CaseSpec,
    KeyStore,
    KiB,
    MiB,
    Planner,
    run_http_case,
    s3_get_planner,
    s3_put_planner,
    size_label,
    sse_label,
    static_get_planner,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
ACCESS_KEY = "benchaccesskey"
SECRET_KEY = "benchsecretkey0123456789abcdefghijklmnop"
BUCKET = "bench"
BUSY_WARNING = 30.0  # % CPU (summed over cores) used by other processes that earns a warning
REQUEST_TIMEOUT = 60.0  # seconds; a request still unanswered then counts as an error
SIZES = (4 * KiB, 1 * MiB, 64 * MiB)
CONCS = (1, 16)
POOL_COUNT = {4 * KiB: 4096, 1 * MiB: 256, 64 * MiB: 64}  # distinct bodies per size
NGINX_FILES = {4 * KiB: 1024, 1 * MiB: 64, 64 * MiB: 8}  # static files per size for nginx
# Body checks: in the timed loop, hash every Nth GET body (0 = none; hashing 64 MiB costs the client ~40 ms);
# after each GET case, VERIFY_AFTER more GETs (untimed) all get their bodies hashed and compared.
VERIFY_EVERY = {4 * KiB: 16, 1 * MiB: 64, 64 * MiB: 0}
VERIFY_AFTER = {4 * KiB: 64, 1 * MiB: 16, 64 * MiB: 2}
# sealbox: none, SSE-S3, SSE-KMS (aws/s3, the account's managed key), SSE-C (one customer key); moto accepts
# the SSE header but doesn't encrypt
SSE_MODES = {"sealbox": ("", "AES256", "aws:kms", "SSE-C"), "moto": ("AES256",)}


@dataclass(frozen=True)
class Profile:
    seconds: float
    max_ops: dict[int, int]  # per size, for sizes under 64 MiB
    big_ops: dict[int, int]  # per concurrency, for 64 MiB

    def ops(self, size: int, conc: int) -> int:
        return self.big_ops[conc] if size >= 64 * MiB else self.max_ops[size]

    def warmup(self, op: str, size: int, conc: int) -> int:
        """Untimed requests first (connections, caches); none for 64 MiB PUTs, which are disk-bound anyway."""
        if size >= 64 * MiB:
            return conc if op == "GET" else 0
        return 2 * conc


FULL = Profile(seconds=5.0, max_ops={4 * KiB: 50_000, 1 * MiB: 5_000}, big_ops={1: 16, 16: 32})
QUICK = Profile(seconds=1.5, max_ops={4 * KiB: 10_000, 1 * MiB: 1_000}, big_ops={1: 8, 16: 16})


@dataclass
class Context:
    args: argparse.Namespace
    profile: Profile
    workdir: Path
    pools: dict[int, BodyPool]
    servers: dict[str, ManagedProcess] = field(default_factory=dict)
    store: KeyStore = field(default_factory=KeyStore)
    signer: SigV4Signer = field(default_factory=lambda: SigV4Signer(ACCESS_KEY, SECRET_KEY))
    results: list[CaseResult] = field(default_factory=list)
    background_cpu: float = 0.0
    md5_mb_per_cpu_s: float = 0.0
    cleaned: bool = False

    def owned_cpu(self) -> float:
        """CPU seconds used so far by all the servers this benchmark started."""
        return sum(server.cpu_seconds() for server in self.servers.values())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run (~1 min): 1.5 s per case, fewer ops")
    p.add_argument("--seconds", type=float, help="time bound per case (default 5, quick 1.5)")
    p.add_argument("--workers", type=int, default=2, help="sealbox --workers (default 2)")
    p.add_argument("--with-moto", action="store_true", help="also benchmark moto_server (the Python peer)")
    p.add_argument("--no-sealbox", action="store_true", help="skip sealbox (develop the client against moto)")
    p.add_argument("--no-cluster", action="store_true",
                   help="skip the cluster case (2 gateways on PostgreSQL, 4KiB and 64MiB, SSE-S3)")
    p.add_argument("--client", choices=("raw", "aiohttp"), default="raw", help="HTTP client (default raw)")
    p.add_argument("--client-check", action="store_true", help="also measure nginx with the other client")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio event loop")
    p.add_argument("--sizes", default="4KiB,1MiB,64MiB", help="comma list among 4KiB,1MiB,64MiB")
    p.add_argument("--sealbox-bin", default=str(REPO / ".venv" / "bin" / "sealbox"))
    p.add_argument("--tmp-dir", default=str(Path(__file__).resolve().parent / ".work"),
                   help="where the temp data dirs go (default: bench/.work, on the same file system as a"
                        " default ./data; the system temp dir can be much slower at creating files)")
    p.add_argument("--keep-tmp", action="store_true", help="do not delete the temp dir at the end")
    p.add_argument("--results-dir", default=str(RESULTS_DIR))
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help=f"wait up to S seconds for the machine to be under {BUSY_WARNING:.0f}%% CPU before starting",
    )
    return p.parse_args(argv)


def chosen_sizes(text: str) -> list[int]:
    by_label = {size_label(s): s for s in SIZES}
    try:
        return [by_label[label.strip()] for label in text.split(",") if label.strip()]
    except KeyError as exc:
        raise SystemExit(f"unknown size {exc}; choose among {', '.join(by_label)}") from None


def progress(result: CaseResult) -> None:
    s = result.spec
    sse = "" if s.target.startswith(("nginx", "disk")) else f" sse={sse_label(s.sse)}"
    flag = f"  ERRORS={result.errors}" if result.errors else ""
    print(
        f"  {s.name:<22} {size_label(s.size):>6} c{s.conc:<2}{sse:<8} {result.ops_per_s:9.1f} op/s "
        f"{result.mb_per_s:8.1f} MB/s  p50 {result.percentile_ms(0.5):7.2f} ms  ({result.ok} ops, "
        f"{result.elapsed:.1f}s){flag}",
        flush=True,
    )


def spec_for(ctx: Context, target: str, op: str, size: int, conc: int, sse: str) -> CaseSpec:
    p = ctx.profile
    seconds = ctx.args.seconds or p.seconds
    return CaseSpec(target, op, size, conc, sse, p.ops(size, conc), seconds, p.warmup(op, size, conc))


def connector(ctx: Context, port: int, kind: str | None = None) -> Callable[[], Connection]:
    client = kind or ctx.args.client
    return lambda: make_connection(client, HOST, port, timeout=REQUEST_TIMEOUT)


async def http_case(
    ctx: Context, spec: CaseSpec, server: ManagedProcess, plan: Planner, kind: str | None = None
) -> None:
    pool, connect = ctx.pools[spec.size], connector(ctx, server.port, kind)
    verify_after = VERIFY_AFTER[spec.size] if spec.op == "GET" else 0
    try:
        result = await run_http_case(
            spec, plan, pool, connect, server.cpu_seconds, ctx.store, verify_after, ctx.owned_cpu
        )
    except (OSError, HttpError, TimeoutError) as exc:  # could not even connect
        result = CaseResult(spec)
        result.error(f"connect {type(exc).__name__}", repr(exc))
    ctx.results.append(result)
    progress(result)
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")


def disk_case(ctx: Context, size: int, conc: int) -> None:
    """The PUT reference, measured right before the PUT case it is compared with.

    This disk's write rate drifts down as a run writes: 16 x 64 MiB files with fsync went 1.8, 1.0,
    0.8, then ~0.6 GB/s over six consecutive rounds (a host-side write cache or burst allowance),
    so a reference measured once at the start would be compared with cases run several GB later.
    """
    spec = spec_for(ctx, "disk", "PUT", size, conc, "")
    result = run_disk_case(spec, ctx.pools[size], ctx.workdir / "disk", ctx.owned_cpu)
    ctx.results.append(result)
    progress(result)


async def s3_cases(ctx: Context, target: str, size: int) -> None:
    server, host = ctx.servers[target], f"{HOST}:{ctx.servers[target].port}"
    for op in ("PUT", "GET"):
        for sse in SSE_MODES[target]:
            for conc in CONCS:
                spec = spec_for(ctx, target, op, size, conc, sse)
                if op == "PUT":
                    disk_case(ctx, size, conc)
                    plan = s3_put_planner(spec, ctx.signer, host, BUCKET, ctx.pools[size], ctx.store)
                elif ctx.store.get((target, size, sse)):
                    plan = s3_get_planner(spec, ctx.signer, host, BUCKET, ctx.store, VERIFY_EVERY[size])
                else:
                    skipped = CaseResult(spec)
                    skipped.error("GET skipped", "the PUT phase wrote no object to read")
                    ctx.results.append(skipped)
                    progress(skipped)
                    continue
                await http_case(ctx, spec, server, plan)


async def cluster_cases(ctx: Context, size: int) -> None:
    """The same PUT/GET cases, SSE-S3, against two gateways on PostgreSQL (bench/cluster.py): the
    concurrent connections go to the gateways in turn."""
    group = ctx.servers["cluster"]
    assert isinstance(group, cluster.Gateways)
    host = f"{HOST}:{group.port}"
    for op in ("PUT", "GET"):
        for conc in CONCS:
            connect = cluster.connector(ctx.args.client, group.ports, host, REQUEST_TIMEOUT)
            spec = spec_for(ctx, "cluster", op, size, conc, cluster.SSE)
            if op == "PUT":
                plan = s3_put_planner(spec, ctx.signer, host, BUCKET, ctx.pools[size], ctx.store)
            elif ctx.store.get(("cluster", size, cluster.SSE)):
                plan = s3_get_planner(spec, ctx.signer, host, BUCKET, ctx.store, VERIFY_EVERY[size])
            else:
                continue
            verify_after = VERIFY_AFTER[spec.size] if op == "GET" else 0
            try:
                result = await run_http_case(spec, plan, ctx.pools[size], connect, group.cpu_seconds, ctx.store,
                                             verify_after, ctx.owned_cpu)
            except (OSError, HttpError, TimeoutError) as exc:
                result = CaseResult(spec)
                result.error(f"connect {type(exc).__name__}", repr(exc))
            ctx.results.append(result)
            progress(result)


async def nginx_cases(ctx: Context, size: int) -> None:
    files = min(NGINX_FILES[size], POOL_COUNT[size])
    for conc in CONCS:
        spec = spec_for(ctx, "nginx", "GET", size, conc, "")
        await http_case(ctx, spec, ctx.servers["nginx"], static_get_planner(spec, files, VERIFY_EVERY[size]))


async def client_check(ctx: Context) -> None:
    """Measure nginx with the other client too, to see whether the client is the limit."""
    other = "aiohttp" if ctx.args.client == "raw" else "raw"
    for size in chosen_sizes(ctx.args.sizes):
        for conc in CONCS:
            spec = spec_for(ctx, f"nginx[{other}]", "GET", size, conc, "")
            plan = static_get_planner(spec, min(NGINX_FILES[size], POOL_COUNT[size]), VERIFY_EVERY[size])
            await http_case(ctx, spec, ctx.servers["nginx"], plan, kind=other)


async def create_bucket(ctx: Context, target: str) -> None:
    server = ctx.servers[target]
    host = f"{HOST}:{server.port}"
    conn = connector(ctx, server.port)()
    await conn.connect()
    try:
        path = s3_path(BUCKET)
        resp = await conn.request("PUT", path, ctx.signer.sign("PUT", path, host), None, False)
    finally:
        await conn.close()
    if not resp.ok and resp.status != 409:
        body = resp.error_body[:500].decode("utf-8", "replace")
        raise RuntimeError(f"{target}: creating bucket {BUCKET!r} failed: HTTP {resp.status} {body}")


async def benchmark(ctx: Context) -> None:
    s3_targets = [t for t in ("sealbox", "moto") if t in ctx.servers]
    for target in [*s3_targets, *(["cluster"] if "cluster" in ctx.servers else [])]:
        await create_bucket(ctx, target)
    for size in chosen_sizes(ctx.args.sizes):
        print(f"== {size_label(size)}", flush=True)
        for target in s3_targets:
            await s3_cases(ctx, target, size)
        if "cluster" in ctx.servers and size // KiB in cluster.SIZES_KIB:
            await cluster_cases(ctx, size)
        await nginx_cases(ctx, size)
    if ctx.args.client_check:
        print("== client check (nginx with the other HTTP client)", flush=True)
        await client_check(ctx)


def run_async(coro: Coroutine[Any, Any, None], use_uvloop: bool) -> str:
    if use_uvloop:
        try:
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(coro)
            return "uvloop"
        except ImportError:
            pass
    asyncio.run(coro)
    return "asyncio"


def make_pools(sizes: list[int]) -> dict[int, BodyPool]:
    return {size: BodyPool(size, POOL_COUNT[size]) for size in sizes}


def nginx_root(workdir: Path, pools: dict[int, BodyPool]) -> Path:
    root = workdir / "www"
    for size, pool in pools.items():
        pool.write_files(root / size_label(size), NGINX_FILES[size])
    for path in [workdir, *root.rglob("*"), root]:  # nginx workers run as an unprivileged user
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def start_servers(ctx: Context, root: Path, sampler: RssSampler) -> None:
    ctx.servers["nginx"] = start_nginx(ctx.workdir, root)
    if not ctx.args.no_sealbox:
        binary = ctx.args.sealbox_bin
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"sealbox binary not found at {binary} (run `make install`)")
        ctx.servers["sealbox"] = start_sealbox(binary, ctx.workdir, ACCESS_KEY, SECRET_KEY, ctx.args.workers)
        missing = None if ctx.args.no_cluster else cluster.available()
        if missing:
            print(f"note: no cluster case: {missing}", flush=True)
        elif not ctx.args.no_cluster:
            ctx.servers["cluster"] = cluster.start_gateways(binary, ctx.workdir, ACCESS_KEY, SECRET_KEY)  # type: ignore[assignment]
    if ctx.args.with_moto:
        ctx.servers["moto"] = start_moto(ctx.workdir)
    for server in ctx.servers.values():
        server.wait_ready()
        sampler.watch(server)
    sampler.start()
    settle(ctx)


def settle(ctx: Context, budget: float = 15.0) -> None:
    """Give freshly started servers time to finish starting up (workers spawning, imports) before measuring."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        before = ctx.owned_cpu()
        time.sleep(0.5)
        if ctx.owned_cpu() - before < 0.05:  # under 10% of one core
            return
    print("note: the servers kept using CPU while idle after startup", flush=True)


def background_cpu(seconds: float = 1.0) -> float:
    """Machine-wide CPU busy %, summed over cores (so up to 200 on 2 cores), before anything starts."""
    return psutil.cpu_percent(interval=seconds) * (os.cpu_count() or 1)


def wait_quiet(budget: float) -> float:
    """Measure background CPU; with a budget, keep measuring until it is low or the budget is spent."""
    deadline = time.monotonic() + budget
    busy = background_cpu()
    while busy > BUSY_WARNING and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: {busy:.0f}% CPU busy", flush=True)
        busy = background_cpu(2.0)
    return busy


def md5_speed(megabytes: int = 256) -> float:
    """MB of MD5 per CPU-second on one core of this machine (best of three; the ETag's cost)."""
    block = os.urandom(MiB)
    best = 0.0
    for _ in range(3):
        digest = hashlib.md5()
        t0 = time.thread_time()
        for _ in range(megabytes):
            digest.update(block)
        best = max(best, megabytes * MiB / 1e6 / max(time.thread_time() - t0, 1e-9))
    return best


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "(no commit)"
    except OSError:
        return "(unknown)"


def row_label(row: dict[str, Any]) -> str:
    sse = "" if row["target"].startswith(("nginx", "disk")) else f" sse={sse_label(row['sse'])}"
    return f"{row['case']} {row['size_label']} c{row['conc']}{sse}"


def kms_ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    """SSE-KMS and SSE-C beside SSE-S3, case by case, from this one run (the issue's target: within 10 %)."""
    by_case = {(r["op"], r["size"], r["conc"], r["sse"]): r for r in rows if r["target"] == "sealbox"}
    lines = []
    for (op, size, conc, sse), other in sorted(by_case.items()):
        s3 = by_case.get((op, size, conc, "AES256"))
        name = {"aws:kms": "SSE-KMS", "SSE-C": "SSE-C"}.get(sse)
        if name is None or s3 is None or not s3["ops_per_s"] or other["errors"] or s3["errors"]:
            continue
        ratio = other["ops_per_s"] / s3["ops_per_s"]
        verdict = "within 10 %" if ratio >= 0.9 else "MORE than 10 % slower"
        lines.append(f"{name}/SSE-S3 {op} {other['size_label']} c{conc}: {other['ops_per_s']:.1f} /"
                     f" {s3['ops_per_s']:.1f} op/s = {ratio:.3f} ({verdict})")
    return lines


def summary_lines(ctx: Context, rows: list[dict[str, Any]], sampler: RssSampler) -> list[str]:
    lines: list[str] = []
    if ctx.background_cpu > BUSY_WARNING:
        lines.append(
            f"WARNING: the machine was already busy before the run ({ctx.background_cpu:.0f}% CPU of "
            f"{100 * (os.cpu_count() or 1)}%): other processes compete with client and servers; numbers are noisy"
        )
    lines += [
        f"peak RSS {name} (process tree, {sampler.samples} samples @50ms): {peak / MiB:.1f} MiB"
        for name, peak in sampler.peaks.items()
    ]
    verdicts = [r["target_verdict"] for r in rows if r["target_verdict"]]
    lines.append(
        f"targets: {sum('PASS' in v for v in verdicts)} PASS, {sum('MISS' in v for v in verdicts)} MISS, "
        f"{sum('INVALID' in v for v in verdicts)} INVALID (of {len(verdicts)})"
    )
    for row in rows:
        if row["target"].startswith("nginx") and row["client_cpu_pct"] >= 90:
            lines.append(
                f"client-bound? {row['case']} {row['size_label']} c{row['conc']}: the benchmark process used "
                f"{row['client_cpu_pct']}% of a core while nginx used {row['server_cpu_pct']}% (of 200%)"
            )
    noisy = [row_label(r) for r in rows if r["other_cpu_pct"] > BUSY_WARNING]
    if noisy:
        lines.append(
            f"WARNING: other processes used >{BUSY_WARNING:.0f}% CPU (oth%) during {len(noisy)} case(s), "
            f"whose numbers are disturbed: {', '.join(noisy)}"
        )
    lines += put_ceiling_lines(rows, ctx.md5_mb_per_cpu_s, os.cpu_count() or 1)
    lines += kms_ratio_lines(rows)
    lines += cluster.ratio_lines(rows)
    verified = sum(r["verified"] for r in rows)
    failed = sum(r["verify_failed"] for r in rows)
    lines.append(f"body checks: {verified} sampled GET bodies compared by sha256, {failed} mismatches")
    return lines + problems(rows)


def report(ctx: Context, sampler: RssSampler, loop_kind: str, started: float) -> None:
    rows = [make_row(r, ctx.results) for r in ctx.results]
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git": git_revision(),
        "machine": f"{os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}",
        "client": f"{ctx.args.client} on {loop_kind}, one keep-alive connection per concurrent request",
        "sealbox_workers": ctx.args.workers if not ctx.args.no_sealbox else "not run",
        "per_case_bound": f"{ctx.args.seconds or ctx.profile.seconds}s and {ctx.profile.max_ops} ops "
        f"(64MiB: {ctx.profile.big_ops} by concurrency)",
        "duration_s": round(time.monotonic() - started, 1),
        "background_cpu_pct_before_start": round(ctx.background_cpu),
        "md5_mb_per_cpu_s": round(ctx.md5_mb_per_cpu_s),
        "peak_rss_mib": {name: round(peak / MiB, 1) for name, peak in sampler.peaks.items()},
    }
    summary = summary_lines(ctx, rows, sampler)
    print()
    print(text_table(rows))
    print()
    for line in summary:
        print(line)
    write_outputs(Path(ctx.args.results_dir), meta, rows, summary)
    print(f"\nwritten: {ctx.args.results_dir}/latest.json and latest.md ({meta['duration_s']}s)")


def _sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _sigterm)
    Path(args.tmp_dir).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="sealbox-bench-", dir=args.tmp_dir))
    sampler = RssSampler()
    ctx = Context(args, QUICK if args.quick else FULL, workdir, {})
    loop_kind = "?"
    try:
        ctx.background_cpu = wait_quiet(args.wait_quiet)
        if ctx.background_cpu > BUSY_WARNING:
            print(
                f"warning: machine already {ctx.background_cpu:.0f}% busy before start; results will be noisy"
            )
        ctx.pools = make_pools(chosen_sizes(args.sizes))
        ctx.md5_mb_per_cpu_s = md5_speed()
        start_servers(ctx, nginx_root(workdir, ctx.pools), sampler)
        loop_kind = run_async(benchmark(ctx), use_uvloop=not args.no_uvloop)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        cleanup(ctx, sampler)
        if ctx.results:
            print("partial results:")
            report(ctx, sampler, loop_kind, started)
        return 1
    finally:
        cleanup(ctx, sampler)
    report(ctx, sampler, loop_kind, started)
    return 0


def cleanup(ctx: Context, sampler: RssSampler) -> None:
    """Stop every server by PID and remove the temp dir; a second Ctrl-C must not cut this short."""
    if ctx.cleaned:
        return
    ctx.cleaned = True
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sampler.stop()
        for server in ctx.servers.values():
            server.stop()
        if ctx.args.keep_tmp:
            print(f"temp dir kept: {ctx.workdir}")
        else:
            shutil.rmtree(ctx.workdir, ignore_errors=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())

"""Prometheus metrics, summed over every worker process (``prometheus_client`` multiprocess mode).

The supervisor gives the workers one directory (``metrics_dir``: in /dev/shm, emptied at each start)
through ``PROMETHEUS_MULTIPROC_DIR`` before anything imports ``prometheus_client`` (the library
chooses its value class at import time); each worker writes its figures to memory-mapped files
there, and ``GET /_sealbox/metrics`` on any worker adds up all of them. Gauges of a worker that
exits are dropped by the supervisor (``mark_process_dead``).

Exposed (see docs/grafana-dashboard.json):

- ``sealbox_s3_requests_total{operation,status}``, ``sealbox_s3_request_duration_seconds{operation}``
  (histogram), ``sealbox_s3_received_bytes_total{operation}``, ``sealbox_s3_sent_bytes_total{operation}``,
  ``sealbox_s3_requests_in_flight``, ``sealbox_s3_errors_total{code}``
- ``sealbox_integrity_failures_total`` (every line of the ``sealbox.integrity`` logger)
- ``sealbox_objects_written_total{encryption}`` (``none``, ``AES256``, ``aws:kms``...)
- ``sealbox_meta_commit_seconds`` (histogram of the metadata store's group COMMIT)
- ``sealbox_open_connections`` (sampled every second in each worker)
- Progress of long tasks, ``task`` = ``scrub``, ``gc``, ``key_rotation``, ``lifecycle``, ``console_job``
  (fed through :class:`TaskProgress`, a ``sealbox.core.progress.Progress``):
  ``sealbox_task_running{task}`` (runs under way, summed over processes),
  ``sealbox_task_items{task,state}`` (``done``, ``failed``, ``total`` of the latest run; for console
  jobs, of the job that last made progress), ``sealbox_task_items_processed_total{task,outcome}``
  (every item ever handled, ``done`` | ``failed``: rate() is throughput), and
  ``sealbox_task_last_start_timestamp_seconds{task}`` / ``sealbox_task_last_end_timestamp_seconds{task}``.
  The lifecycle worker and console jobs run inside the workers. ``sealbox scrub``, ``gc``, ``keys
  rotate`` and ``lifecycle run`` are processes of their own: when a server runs on the same data
  directory they write into its metrics directory (:func:`attach_if_served`), so its scrape shows them
  too, and their last run stays visible after they exit (until the server restarts). Without a
  running server they report nowhere. A command killed with SIGKILL cannot clear its running flag:
  a scrape drops the live gauges of processes that no longer exist (:func:`_sweep_dead`).

The hot path only adds to dicts in the worker; the sums go to prometheus_client every second and
before a scrape (``Metrics.flush``), so a scrape may miss up to the last second of other workers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from bisect import bisect_left
from pathlib import Path

from sealbox.core.progress import NO_PROGRESS, Progress

ENV = "PROMETHEUS_MULTIPROC_DIR"
WRITE_OPS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


_SHM = Path("/dev/shm")
TASKS = ("scrub", "gc", "key_rotation", "lifecycle", "console_job")


def metrics_dir(data_dir: Path, instance: str = "") -> Path:
    """Where this data directory's server keeps its metrics files: in shared memory (``/dev/shm``)
    where there is one, else under ``<data dir>/run``.

    Not in the data directory itself: prometheus_client grows memory-mapped files, and a page of a
    grown file on a full file system is a SIGBUS when touched. With the data directory full, the
    first new label (``errors{code="ServiceUnavailable"}``) killed the worker that was answering
    the 503s (``tests/faults/test_disk_full.py``). The name is derived from the data directory's
    path, so maintenance commands find their server's directory. ``instance`` tells apart several
    gateways on PostgreSQL serving one data directory from one host (each has its own metrics; a
    maintenance command does not attach to theirs)."""
    name = str(data_dir.resolve()) + (f"\0{instance}" if instance else "")
    if _SHM.is_dir() and os.access(_SHM, os.W_OK):
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return _SHM / f"sealbox-metrics-{digest}"
    return data_dir / "run" / (f"metrics-{instance}" if instance else "metrics")


def prepare(data_dir: Path, instance: str = "") -> Path:
    """Empty the directory and point ``prometheus_client`` at it: in the supervisor, before any
    import of the library, and only while holding the data directory's serve lock. The directory
    is created afresh (0700, never one that already existed: /dev/shm is writable by everyone)."""
    path = metrics_dir(data_dir, instance)
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700)  # FileExistsError if someone else made it between the two calls
    os.environ[ENV] = str(path)
    return path


def attach_if_served(data_dir: Path) -> bool:
    """A maintenance command (scrub, gc, keys rotate, lifecycle run) reports its progress into the
    metrics of the server of the same data directory, when one runs (its directory exists and is
    ours to write: the server makes it 0700). Before anything imports ``prometheus_client``."""
    path = metrics_dir(data_dir)
    if ENV in os.environ or not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return False
    os.environ[ENV] = str(path)
    return True


def command_progress(data_dir: Path, task: str) -> Progress:
    """The progress reporter of a maintenance command: into the server's metrics, or nowhere."""
    if os.environ.get(ENV) or attach_if_served(data_dir):
        return TaskProgress(metrics(), task)
    return NO_PROGRESS


def worker_exited(pid: int) -> None:
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """This process's metrics (one instance per process: :func:`metrics`)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("sealbox_s3_requests", "S3 requests by operation and status",
                                ("operation", "status"))
        self.duration = Histogram("sealbox_s3_request_duration_seconds", "S3 request latency (until the"
                                  " last byte was handed to the socket)", ("operation",), buckets=_LATENCY_BUCKETS)
        self.received = Counter("sealbox_s3_received_bytes", "request body bytes received", ("operation",))
        self.sent = Counter("sealbox_s3_sent_bytes", "response body bytes sent", ("operation",))
        self.in_flight = Gauge("sealbox_s3_requests_in_flight", "S3 requests being answered",
                               multiprocess_mode="livesum")
        self.errors = Counter("sealbox_s3_errors", "S3 error responses by error code", ("code",))
        self.integrity = Counter("sealbox_integrity_failures", "stored data that failed authentication")
        self.written = Counter("sealbox_objects_written", "objects written by encryption mode", ("encryption",))
        self.commit = Histogram("sealbox_meta_commit_seconds", "metadata store COMMIT latency",
                                buckets=_COMMIT_BUCKETS)
        self.connections = Gauge("sealbox_open_connections", "open client connections (S3 and console)",
                                 multiprocess_mode="livesum")
        self.task_items = Gauge("sealbox_task_items", "items of the latest run of a task by state (done, failed,"
                                " total)", ("task", "state"), multiprocess_mode="mostrecent")
        self.task_processed = Counter("sealbox_task_items_processed", "items handled by every run of a task, by"
                                      " outcome", ("task", "outcome"))
        self.task_running = Gauge("sealbox_task_running", "runs of a task under way", ("task",),
                                  multiprocess_mode="livesum")
        self.task_started = Gauge("sealbox_task_last_start_timestamp_seconds", "when the latest run of a task"
                                  " started (Unix time)", ("task",), multiprocess_mode="mostrecent")
        self.task_ended = Gauge("sealbox_task_last_end_timestamp_seconds", "when the latest run of a task ended"
                                " (Unix time)", ("task",), multiprocess_mode="mostrecent")
        for task in TASKS:  # the series exist from the start: 0, not absent, while nothing runs
            self.task_running.labels(task).set(0)
        self._runs: dict[str, int] = {}  # task -> runs under way in this process
        self._runs_lock = threading.Lock()  # runs begin and end in worker threads (lifecycle) too
        # The hot path adds to plain dicts; flush() hands the sums to prometheus_client (each of its
        # increments in multiprocess mode takes a lock, a getpid() and a write to the mapped file:
        # ~1 µs, six of them per request). A worker flushes every second and before it renders a scrape.
        self._bounds = tuple(_LATENCY_BUCKETS) + (float("inf"),)
        self._counts: dict[tuple[str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # op -> [count per bucket..., sum]
        self._bytes: dict[tuple[str, bool], int] = {}  # (op, sent?) -> bytes
        self._errors: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._in_flight = 0
        self._commit_times: list[float] = []

    def started(self) -> None:
        self._in_flight += 1

    def request_done(self, operation: str | None, status: int, error: str | None, bytes_in: int, bytes_out: int,
                     duration: float, encryption: str | None) -> None:
        self._in_flight -= 1
        op = operation or "unrouted"
        key = (op, status)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        latency = self._latency.get(op)
        if latency is None:
            latency = self._latency[op] = [0.0] * (len(self._bounds) + 1)
        latency[bisect_left(self._bounds, duration)] += 1
        latency[-1] += duration
        if bytes_in:
            self._bytes[(op, False)] = self._bytes.get((op, False), 0) + bytes_in
        if bytes_out:
            self._bytes[(op, True)] = self._bytes.get((op, True), 0) + bytes_out
        if error is not None:
            self._errors[error] = self._errors.get(error, 0) + 1
        elif operation in WRITE_OPS and status == 200:
            mode = encryption or "none"
            self._written[mode] = self._written.get(mode, 0) + 1

    def observe_commit(self, seconds: float) -> None:
        self._commit_times.append(seconds)  # list.append is atomic: commits run in worker threads

    def flush(self) -> None:
        counts, self._counts = self._counts, {}
        latency, self._latency = self._latency, {}
        sizes, self._bytes = self._bytes, {}
        errors, self._errors = self._errors, {}
        written, self._written = self._written, {}
        commits, self._commit_times = self._commit_times, []
        for (op, status), n in counts.items():
            self.requests.labels(op, str(status)).inc(n)
        for op, buckets in latency.items():
            child = self.duration.labels(op)
            for i, seen in enumerate(buckets[:-1]):
                if seen:
                    child._buckets[i].inc(seen)
            child._sum.inc(buckets[-1])
        for (op, out), n in sizes.items():
            (self.sent if out else self.received).labels(op).inc(n)
        for code, n in errors.items():
            self.errors.labels(code).inc(n)
        for mode, n in written.items():
            self.written.labels(mode).inc(n)
        for seconds in commits:
            self.commit.observe(seconds)
        self.in_flight.set(self._in_flight)

    def task_run(self, task: str, delta: int) -> None:
        with self._runs_lock:
            n = self._runs[task] = self._runs.get(task, 0) + delta
        self.task_running.labels(task).set(n)


class TaskProgress(Progress):
    """A run of ``task`` published as the ``sealbox_task_*`` metrics (see the module docstring).

    Each call writes to the memory-mapped files directly (~1 µs a value): the tasks report per
    item or per batch, far from the request path's rate."""

    def __init__(self, m: Metrics, task: str) -> None:
        self._m = m
        self._task = task
        self._done = 0
        self._failed = 0
        self._total: int | None = None
        self._running = False

    def begin(self, total: int | None = None) -> None:
        m, task = self._m, self._task
        self._done = self._failed = 0
        self._total = total
        m.task_started.labels(task).set(time.time())
        self._publish()
        if not self._running:
            self._running = True
            m.task_run(task, +1)

    def set_total(self, total: int) -> None:
        self._total = total
        self._m.task_items.labels(self._task, "total").set(total)

    def show(self, done: int, failed: int, total: int | None) -> None:
        self._done, self._failed, self._total = done, failed, total
        self._publish()

    def add(self, done: int = 0, failed: int = 0) -> None:
        m, task = self._m, self._task
        self._done += done
        self._failed += failed
        if done:
            m.task_processed.labels(task, "done").inc(done)
            m.task_items.labels(task, "done").set(self._done)
        if failed:
            m.task_processed.labels(task, "failed").inc(failed)
            m.task_items.labels(task, "failed").set(self._failed)
        if self._total is None and (done or failed):
            m.task_items.labels(task, "total").set(self._done + self._failed)

    def end(self) -> None:
        self._m.task_ended.labels(self._task).set(time.time())
        if self._running:
            self._running = False
            self._m.task_run(self._task, -1)

    def _publish(self) -> None:
        items = self._m.task_items
        items.labels(self._task, "done").set(self._done)
        items.labels(self._task, "failed").set(self._failed)
        # total: unknown is shown as the items so far, so done/total stays a fraction of at most 1
        items.labels(self._task, "total").set(self._total if self._total is not None else self._done + self._failed)


_METRICS: list[Metrics] = []


def metrics() -> Metrics:
    """The process's one set of metrics, made on first use (a second registration would fail)."""
    if not _METRICS:
        _METRICS.append(Metrics())
        logging.getLogger("sealbox.integrity").addHandler(_IntegrityCounter(_METRICS[0]))
    return _METRICS[0]


class _IntegrityCounter(logging.Handler):
    """Counts integrity failures where they are already reported: the ``sealbox.integrity`` logger."""

    def __init__(self, m: Metrics) -> None:
        super().__init__(logging.ERROR)
        self._m = m

    def emit(self, record: logging.LogRecord) -> None:
        self._m.integrity.inc()


def render() -> tuple[bytes, str]:
    """The text exposition of every process's figures, and its content type (this process's own sums
    must be flushed first, on its event loop: :meth:`Metrics.flush`)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        _sweep_dead(Path(os.environ[ENV]))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"gauge_live(?:sum|all|max|min)_(\d+)\.db")


def _sweep_dead(path: Path) -> None:
    """Drop the live gauges of processes that are gone without saying so: a maintenance command
    killed with SIGKILL would otherwise count as running for as long as the server runs (the
    supervisor already does this for its workers, :func:`worker_exited`). One listdir per scrape."""
    from prometheus_client import multiprocess

    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        found = _LIVE_FILE.fullmatch(name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # exists, another user's

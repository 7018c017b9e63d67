"""Prometheus metrics, summed over every worker process (``prometheus_client`` multiprocess mode).

The supervisor gives the workers one directory (``<data dir>/run/metrics``, emptied at each start)
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
- ``sealbox_task_items{task,state}`` and ``sealbox_task_running{task}``: progress of scrub, gc, key
  rotation and console bulk jobs (``state``: done, failed, total)

The hot path caches labelled children per label values (``labels()`` costs more than ``inc()``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
WRITE_OPS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


def metrics_dir(data_dir: Path) -> Path:
    return data_dir / "run" / "metrics"


def prepare(data_dir: Path) -> Path:
    """Empty the directory and point ``prometheus_client`` at it: in the supervisor, before any
    import of the library, and only while holding the data directory's serve lock."""
    path = metrics_dir(data_dir)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    os.environ[ENV] = str(path)
    return path


def attach_if_served(data_dir: Path) -> bool:
    """A maintenance command (scrub, gc, keys rotate) reports its progress into the metrics of the
    server of the same data directory, when one runs."""
    path = metrics_dir(data_dir)
    if ENV in os.environ or not path.is_dir():
        return False
    os.environ[ENV] = str(path)
    return True


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
        self.task_items = Gauge("sealbox_task_items", "items of a maintenance task or bulk job by state",
                                ("task", "state"), multiprocess_mode="mostrecent")
        self.task_running = Gauge("sealbox_task_running", "1 while a maintenance task or bulk job runs",
                                  ("task",), multiprocess_mode="livesum")
        self._by_op: dict[str | None, tuple[Any, Any, Any]] = {}
        self._by_status: dict[tuple[str | None, int], Any] = {}
        self._by_code: dict[str, Any] = {}
        self._by_mode: dict[str, Any] = {}

    def request_done(self, operation: str | None, status: int, error: str | None, bytes_in: int, bytes_out: int,
                     duration: float, encryption: str | None) -> None:
        per_op = self._by_op.get(operation)
        if per_op is None:
            name = operation or "unrouted"
            per_op = self._by_op[operation] = (self.duration.labels(name), self.received.labels(name),
                                               self.sent.labels(name))
        counted = self._by_status.get((operation, status))
        if counted is None:
            counted = self._by_status[(operation, status)] = self.requests.labels(operation or "unrouted",
                                                                                  str(status))
        counted.inc()
        per_op[0].observe(duration)
        if bytes_in:
            per_op[1].inc(bytes_in)
        if bytes_out:
            per_op[2].inc(bytes_out)
        if error is not None:
            code = self._by_code.get(error)
            if code is None:
                code = self._by_code[error] = self.errors.labels(error)
            code.inc()
        elif operation in WRITE_OPS and status == 200:
            mode = encryption or "none"
            written = self._by_mode.get(mode)
            if written is None:
                written = self._by_mode[mode] = self.written.labels(mode)
            written.inc()

    def task(self, task: str, done: int, failed: int, total: int | None) -> None:
        self.task_items.labels(task, "done").set(done)
        self.task_items.labels(task, "failed").set(failed)
        if total is not None:
            self.task_items.labels(task, "total").set(total)


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
    """The text exposition of every process's figures, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

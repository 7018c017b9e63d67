"""The PUT reference: how fast this disk takes the same bytes as new files (write, fsync, rename).

``conc`` threads each loop: create ``N.tmp``, write the body, fsync, close, rename to ``N``. Bounded by
``max_ops`` and ``seconds``; the files are deleted after the timed part.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workload import BodyPool, CaseResult, CaseSpec, machine_cpu_seconds


def _write_file(directory: Path, n: int, body: memoryview) -> None:
    tmp = directory / f"{n}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = body
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, directory / str(n))


class _Counter:
    def __init__(self, limit: int, deadline: float):
        self.limit, self.deadline = limit, deadline
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.limit or time.perf_counter() >= self.deadline:
                return None
            self._next += 1
            return self._next - 1


def run_disk_case(
    spec: CaseSpec, pool: BodyPool, workdir: Path, owned_cpu: Callable[[], float] | None = None
) -> CaseResult:
    directory = workdir / f"disk-{spec.size}-{spec.conc}"
    directory.mkdir(parents=True)
    result = CaseResult(spec)
    lock = threading.Lock()

    def worker(counter: _Counter, where: Path) -> None:
        while (n := counter.take()) is not None:
            t0 = time.perf_counter()
            try:
                _write_file(where, n, pool.body(n))
            except OSError as exc:
                with lock:
                    result.error(f"write {type(exc).__name__}", f"file {n}: {exc!r}")
                continue
            with lock:
                result.latencies.append(time.perf_counter() - t0)
                result.ok += 1

    try:
        if spec.warmup:
            warm = directory / "warmup"
            warm.mkdir()
            _run_threads(worker, spec.conc, _Counter(spec.warmup, time.perf_counter() + spec.seconds), warm)
            result = CaseResult(spec)
        owned = owned_cpu or (lambda: 0.0)
        cpu0, own0, all0 = time.process_time(), owned(), machine_cpu_seconds()
        start = time.perf_counter()
        _run_threads(worker, spec.conc, _Counter(spec.max_ops, start + spec.seconds), directory)
        result.elapsed = time.perf_counter() - start
        result.client_cpu = time.process_time() - cpu0
        result.owned_cpu = owned() - own0
        result.machine_cpu = machine_cpu_seconds() - all0
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return result


def _run_threads(
    target: Callable[[_Counter, Path], None], count: int, counter: _Counter, where: Path
) -> None:
    threads = [threading.Thread(target=target, args=(counter, where), daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

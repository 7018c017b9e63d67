"""How the operations pieces attach to a worker: built once per process by the composition root
(sealbox.app) and the worker loop (sealbox.server), so each shared file holds one hook."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sized
from dataclasses import dataclass, field

from sealbox.config import Settings
from sealbox.ops.accesslog import AccessLog, open_access_log
from sealbox.ops.health import OpsEndpoints
from sealbox.ops.metrics import Metrics, metrics
from sealbox.ops.observe import RequestObserver
from sealbox.service.sealing import Sealer


@dataclass
class Ops:
    access: AccessLog
    metrics: Metrics
    requests: RequestObserver
    sealers: list[Sealer] = field(default_factory=list)

    def observe_commit(self, seconds: float) -> None:
        self.metrics.observe_commit(seconds)

    def keyring_of(self, sealer: Sealer) -> None:
        self.sealers.append(sealer)

    def keyring_problem(self) -> str | None:
        if not self.sealers:
            return "keyring: not loaded"
        try:
            self.sealers[0].keyring.active  # noqa: B018 - loading it is the check
        except Exception as exc:  # noqa: BLE001 - any failure to load the keys means not ready
            return f"keyring: {exc}"
        return None


_PROCESS: list[Ops] = []


def observer(settings: Settings) -> Ops:
    """This process's Ops (one access-log descriptor and one set of metrics per worker)."""
    if _PROCESS:
        return _PROCESS[0]
    access = open_access_log(settings.access_log_target)
    m = metrics()
    holder: list[Ops] = []
    endpoints = OpsEndpoints(settings, lambda: holder[0].keyring_problem())
    ops = Ops(access, m, RequestObserver(access, m, endpoints))
    holder.append(ops)
    _PROCESS.append(ops)
    return ops


def worker_hooks(loop: asyncio.AbstractEventLoop, connections: Sized) -> Callable[[], None]:
    """In a worker's loop: SIGHUP reopens the access log (rotation); the open-connection gauge is
    sampled and the metrics flushed every second. Returns what stops it."""
    if not _PROCESS:
        return lambda: None
    ops = _PROCESS[0]
    loop.add_signal_handler(signal.SIGHUP, ops.access.reopen)
    m = ops.metrics
    handle: list[asyncio.TimerHandle] = []

    def sample() -> None:
        m.connections.set(len(connections))
        m.flush()
        handle[:] = [loop.call_later(1.0, sample)]

    def stop() -> None:
        for h in handle:
            h.cancel()
        m.flush()

    sample()
    return stop

"""How a long task (scrub, gc, key rotation, a lifecycle pass, a console bulk job) reports its progress.

The service layer calls a :class:`Progress`; it knows nothing of where the figures go. The base class
discards them (tests, and commands run with no server to report to); ``sealbox.ops.metrics.TaskProgress``
publishes them as Prometheus metrics. Items are what the task counts (versions for a scrub, candidate
files for gc, sealed values for a key rotation, versions seen by a lifecycle pass, objects of a bulk
job); ``failed`` counts what could not be done or was found wrong (a scrub's problems, errors).
"""

from __future__ import annotations

from types import TracebackType


class Progress:
    """One run of a task. Use as a context manager: entering marks it running, leaving marks it ended."""

    def begin(self, total: int | None = None) -> None:
        """The run starts (``total``: the items it expects, when known)."""

    def set_total(self, total: int) -> None:
        """The number of items became known (or changed) during the run."""

    def add(self, done: int = 0, failed: int = 0) -> None:
        """``done`` more items handled, ``failed`` more that could not be (problems found, errors)."""

    def show(self, done: int, failed: int, total: int | None) -> None:
        """Absolute figures of this run (a resumed run knows what an earlier process did)."""

    def end(self) -> None:
        """The run is over (normally or not)."""

    def __enter__(self) -> Progress:
        self.begin()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.end()


NO_PROGRESS = Progress()

"""What every console page is given: the worker's services, the session codec, the console store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sealbox.console.sessions import SessionCodec
from sealbox.console.store import ConsoleStore
from sealbox.service.buckets import BucketService
from sealbox.service.identity import Identity
from sealbox.service.objects import ObjectService

if TYPE_CHECKING:
    from sealbox.console.jobs import JobRunner
    from sealbox.console.render import Renderer


class ServiceSet(Protocol):
    """The service layer as the console sees it (``sealbox.app.build_services`` provides it)."""

    @property
    def identity(self) -> Identity: ...

    @property
    def buckets(self) -> BucketService: ...

    @property
    def objects(self) -> ObjectService: ...


@dataclass
class Console:
    services: ServiceSet
    codec: SessionCodec
    store: ConsoleStore
    renderer: Renderer
    jobs: JobRunner

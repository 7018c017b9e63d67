"""What every console page is given: the worker's services, the session codec, the console store."""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.console.jobs import JobRunner
from sealbox.console.presign import S3Endpoint
from sealbox.console.render import Renderer
from sealbox.console.services import ServiceSet
from sealbox.console.sessions import SessionCodec
from sealbox.console.store import ConsoleStore


@dataclass
class Console:
    services: ServiceSet
    codec: SessionCodec
    store: ConsoleStore
    renderer: Renderer
    jobs: JobRunner
    s3: S3Endpoint  # where the links the console presigns point

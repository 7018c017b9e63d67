"""The service layer as the console sees it: a protocol, satisfied by the worker's one set of
services (``sealbox.app.build_services``, shared with the S3 API).

A leaf module — it imports services, nothing of the console — so that ``context``, ``jobs`` and
``actions`` can all name it without importing one another.
"""

from __future__ import annotations

from typing import Protocol

from sealbox.kms.service import KeyService
from sealbox.service.buckets import BucketService
from sealbox.service.cors import CorsService
from sealbox.service.identity import Identity
from sealbox.service.objects import ObjectService


class ServiceSet(Protocol):
    @property
    def identity(self) -> Identity: ...

    @property
    def buckets(self) -> BucketService: ...

    @property
    def objects(self) -> ObjectService: ...

    @property
    def cors(self) -> CorsService: ...

    @property
    def kms(self) -> KeyService | None:
        """The built-in key service (None with an external one: no Keys page then)."""
        ...

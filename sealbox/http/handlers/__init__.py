"""Thin S3 handlers: parse the request, call a service, render the answer. One module per family."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op

Handler = Callable[[Services, Request], Awaitable[Response]]


def _table() -> dict[Op, Handler]:
    from sealbox.http.handlers import (
        acl,
        attributes,
        buckets,
        copy,
        cors,
        lifecycle,
        listing,
        multipart,
        object_lock,
        objects,
        policy,
        post_object,
        tagging,
        unconfigured,
    )

    table: dict[Op, Handler] = {}
    for module in (acl, attributes, buckets, copy, cors, lifecycle, listing, multipart, object_lock, objects, policy,
                   post_object, tagging, unconfigured):
        table.update(module.HANDLERS)
    return table


HANDLERS: dict[Op, Handler] = _table()

# Like the error table: an operation the router can name but nothing handles is a bug found at import.
_unhandled = set(Op) - set(HANDLERS)
assert not _unhandled, f"operations without a handler: {sorted(op.value for op in _unhandled)}"

__all__ = ["HANDLERS", "Handler", "Services"]

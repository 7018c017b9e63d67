"""Put/Get/DeleteBucketLifecycleConfiguration (issue 17)."""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op


async def _todo(s: Services, r: Request) -> Response:
    raise SealboxError(ErrorCode.NOT_IMPLEMENTED, "Lifecycle configuration is not implemented yet.")


HANDLERS = {
    Op.GET_BUCKET_LIFECYCLE: _todo,
    Op.PUT_BUCKET_LIFECYCLE: _todo,
    Op.DELETE_BUCKET_LIFECYCLE: _todo,
}

"""Authentication of an S3 request: which signature scheme it uses, verified by that scheme's module.

* no ``Authorization`` header and no signature in the query: anonymous (the caller decides what an
  anonymous request may do: ``sealbox.service.access``);
* ``Authorization: AWS <key>:<signature>`` or ``?AWSAccessKeyId=…&Signature=…``: Signature Version 2
  (``sealbox.http.sigv2``) — refused with 400 InvalidRequest when the operator turned it off
  (``--no-sigv2``), as AWS answers in regions that never had it;
* everything else goes to Signature Version 4 (``sealbox.http.sigv4``), which also refuses mixed and
  unknown schemes.

The two verifiers share types and wire helpers through ``sealbox.http.signing`` and never import each
other. POST Object forms carry their signature in the form instead (``sealbox.http.post_policy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http import sigv2, sigv4
from sealbox.http.signing import ANONYMOUS_CONTEXT, AuthContext, SigningRequest, split_query

SIGV2_OFF_MESSAGE = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


def sigv2_disabled() -> SealboxError:
    """What AWS answers a Signature Version 2 request in a region without it."""
    return SealboxError(ErrorCode.INVALID_REQUEST, SIGV2_OFF_MESSAGE)


def is_sigv2(authorization: str | None, params: Mapping[str, str]) -> bool:
    """The one place that recognises Signature Version 2 (``AWS key:sig`` header or query form)."""
    if authorization is not None:
        return authorization.startswith("AWS ")
    return "AWSAccessKeyId" in params and "Signature" in params


def authenticate(req: SigningRequest, secret_for: Callable[[str], str | None], now: datetime, *,
                 allow_sigv2: bool = True, max_skew: timedelta = sigv4.MAX_SKEW,
                 region: str | None = None) -> AuthContext:
    """Verify the request's signature, whichever scheme; the anonymous context when it carries none.

    ``secret_for`` maps an access key to its secret (None when unknown); ``now`` is aware UTC (naive is
    taken as UTC); ``region`` is the server's, which a SigV4 credential scope must name (SigV2 has
    none). Raises SealboxError (S3's codes and messages) on any failure.
    """
    authorization = req.headers.get("authorization")
    if authorization is None and not req.raw_query:
        return ANONYMOUS_CONTEXT
    pairs = split_query(req.raw_query)
    params = sigv4.auth_params(pairs) if pairs else {}
    if is_sigv2(authorization, params):
        if not allow_sigv2:
            raise sigv2_disabled()
        return sigv2.authenticate(req, secret_for, now, max_skew)
    return sigv4.verify(req, pairs, params, secret_for, now, max_skew, region=region)

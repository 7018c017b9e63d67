"""What the S3 app reports once per request: one access-log line, the request metrics, and an audit
record for what must be reconstructable (failed authentications, policy, encryption, deletes).

``finished`` takes what the app already holds (the Incoming request, its Route and principal, the
response status and error code, the exchange's byte counts): nothing is re-parsed on the way.
"""

from __future__ import annotations

import re
import time

from sealbox.http.connection import Exchange
from sealbox.http.request import Incoming, Response
from sealbox.ops.accesslog import AccessLog
from sealbox.ops.health import OpsEndpoints
from sealbox.ops.logs import audit
from sealbox.ops.metrics import Metrics

# Operations that change what an operator must be able to reconstruct (the audit stream).
AUDITED = {
    "PutBucketPolicy": "bucket.policy.put", "DeleteBucketPolicy": "bucket.policy.delete",
    "PutBucketEncryption": "bucket.encryption.put", "DeleteBucketEncryption": "bucket.encryption.delete",
    "DeleteObject": "object.delete", "DeleteObjects": "object.delete_many", "DeleteBucket": "bucket.delete",
    "CreateBucket": "bucket.create", "PutBucketVersioning": "bucket.versioning.put",
    "PutBucketOwnershipControls": "bucket.ownership.put", "PutBucketAcl": "bucket.acl.put",
    "PutObjectAcl": "object.acl.put", "PutBucketLifecycleConfiguration": "bucket.lifecycle.put",
    "PutObjectLockConfiguration": "bucket.object_lock.put", "PutObjectRetention": "object.retention.put",
    "PutObjectLegalHold": "object.legal_hold.put",
    "PutPublicAccessBlock": "bucket.public_access_block.put",
    "DeletePublicAccessBlock": "bucket.public_access_block.delete",
}
_AUTH_FAILURES = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied",
                            "AuthorizationHeaderMalformed", "ExpiredToken", "RequestTimeTooSkewed"})
_CREDENTIAL = re.compile(r"(?:Credential=|AWS )([A-Za-z0-9_\-.]{1,128})")


def claimed_access_key(request: Incoming) -> str | None:
    """The access key a refused request claimed (from its Authorization header or presigned query),
    for the logs: on the error path only."""
    auth = request.headers.get("authorization", "")
    found = _CREDENTIAL.search(auth)
    if found:
        return found.group(1).split("/")[0]
    credential = request.query.get("X-Amz-Credential") or request.query.get("AWSAccessKeyId")
    return credential.split("/")[0][:128] if credential else None


class RequestObserver:
    def __init__(self, access: AccessLog, metrics: Metrics | None, endpoints: OpsEndpoints) -> None:
        self.access = access
        self.metrics = metrics
        self.endpoints = endpoints

    def started(self) -> None:
        if self.metrics is not None:
            self.metrics.started()

    def finished(self, request: Incoming, response: Response, exchange: Exchange, started: float,
                 started_wall: float) -> None:
        duration = time.perf_counter() - started
        route = request.route
        operation = route.op.value if route is not None else None
        principal = request.principal
        error = response.error_code
        status = response.status
        if self.metrics is not None:
            self.metrics.request_done(operation, status, error, exchange.bytes_in, exchange.bytes_out, duration,
                                      response.headers.get("x-amz-server-side-encryption"))
        access_key = principal.access_key or None if principal is not None else None
        if error is not None and access_key is None:
            access_key = claimed_access_key(request)
        if self.access.enabled:
            self.access.write(
                started=started_wall, duration=duration, request_id=request.request_id,
                principal=principal.name if principal is not None else None, access_key=access_key,
                remote=request.client_ip, tls=request.secure, method=request.method, operation=operation,
                bucket=request.bucket, key=request.key, version_id=route.version_id if route is not None else None,
                status=status, error=error, bytes_in=exchange.bytes_in, bytes_out=exchange.bytes_out,
                user_agent=request.headers.get("user-agent"))
        if error in _AUTH_FAILURES and (error != "AccessDenied" or principal is None):
            audit("auth.failure", f"S3 authentication failed: {error}", error=error, access_key=access_key,
                  client=request.client_ip, request_id=request.request_id, operation=operation)
        elif operation in AUDITED and status < 300:
            audit(AUDITED[operation], f"{operation} {request.resource}",
                  principal=principal.name if principal is not None else None, access_key=access_key,
                  client=request.client_ip, request_id=request.request_id, bucket=request.bucket,
                  key=request.key, version_id=route.version_id if route is not None else None)
        elif error == "AccessDenied":
            audit("access.denied", f"{operation} {request.resource} denied",
                  principal=principal.name if principal is not None else None, access_key=access_key,
                  client=request.client_ip, request_id=request.request_id, operation=operation,
                  bucket=request.bucket, key=request.key)

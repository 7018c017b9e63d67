"""Reads of bucket features sealbox does not offer (see ``sealbox.service.unconfigured``).

GetBucketRequestPayment, GetBucketAccelerateConfiguration, GetBucketWebsite, GetBucketLogging,
GetBucketReplication, GetBucketNotificationConfiguration, and the List/Get operations of the
analytics, metrics, inventory and Intelligent-Tiering configurations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sealbox.http.handlers.base import Services
from sealbox.http.request import Request, Response
from sealbox.http.router import Op
from sealbox.http.xml import HEADER, doc, el
from sealbox.service import unconfigured

# Server access logging keeps its 2006 namespace on AWS (not the S3 one of every other document).
_LOGGING_DISABLED = f'{HEADER}<BucketLoggingStatus xmlns="http://doc.s3.amazonaws.com/2006-03-01"/>'.encode()

# The root element of each List operation's answer, as in AWS's API reference.
_LIST_ROOTS = {
    "analytics": "ListBucketAnalyticsConfigurationResult",
    "metrics": "ListMetricsConfigurationsResult",
    "inventory": "ListInventoryConfigurationsResult",
    "intelligent-tiering": "ListBucketIntelligentTieringConfigurationsOutput",
}


def _reader(feature: str) -> Callable[[Services, Request], Awaitable[Response]]:
    async def handler(s: Services, r: Request) -> Response:
        unconfigured.read(s.buckets, r.principal, r.bucket, feature, r.query.get("id"))
        if feature == "requestPayment":
            return Response.xml(doc("RequestPaymentConfiguration", [el("Payer", "BucketOwner")]))
        if feature == "accelerate":
            return Response.xml(doc("AccelerateConfiguration", []))  # no Status: never configured
        if feature == "logging":
            return Response.xml(_LOGGING_DISABLED)
        if feature == "notification":
            return Response.xml(doc("NotificationConfiguration", []))
        token = r.query.get("continuation-token")  # echoed when sent, as AWS does
        children = [el("IsTruncated", False)] + ([el("ContinuationToken", token)] if token else [])
        return Response.xml(doc(_LIST_ROOTS[feature], children))
    return handler


HANDLERS = {
    Op.GET_BUCKET_REQUEST_PAYMENT: _reader("requestPayment"),
    Op.GET_BUCKET_ACCELERATE: _reader("accelerate"),
    Op.GET_BUCKET_WEBSITE: _reader("website"),
    Op.GET_BUCKET_LOGGING: _reader("logging"),
    Op.GET_BUCKET_REPLICATION: _reader("replication"),
    Op.GET_BUCKET_NOTIFICATION: _reader("notification"),
    Op.GET_BUCKET_ANALYTICS: _reader("analytics"),
    Op.GET_BUCKET_METRICS: _reader("metrics"),
    Op.GET_BUCKET_INVENTORY: _reader("inventory"),
    Op.GET_BUCKET_INTELLIGENT_TIERING: _reader("intelligent-tiering"),
}

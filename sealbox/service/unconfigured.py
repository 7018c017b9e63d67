"""Bucket features sealbox does not offer, read as AWS answers a bucket that never configured them.

Request payment, transfer acceleration, website hosting, server access logging, replication, event
notifications and the analytics/metrics/inventory/Intelligent-Tiering configurations are not built.
Their writes stay 501 NotImplemented (storing a replication rule or a notification target would
claim work sealbox never does). Their reads answer what AWS answers for a bucket where nobody
configured the feature, which is the truth here too: Terraform's ``aws_s3_bucket`` and s3cmd's
``info`` read most of them on every refresh and stop at a 501.

- website: 404 NoSuchWebsiteConfiguration; replication: 404 ReplicationConfigurationNotFoundError;
- a configuration named by ``?id=`` (analytics, metrics, inventory, intelligent-tiering): 404
  NoSuchConfiguration;
- everything else succeeds with the unconfigured document (the HTTP layer renders it): Payer
  BucketOwner, no accelerate status, logging disabled, no notifications, empty lists.

Each read needs the bucket and AWS's own permission for it (``s3:GetBucketWebsite``, …), so what
another user may learn from it is what a bucket policy grants, as for every other sub-resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.buckets import BucketService
from sealbox.service.identity import Principal


@dataclass(frozen=True, slots=True)
class Feature:
    action: str  # the IAM action that reads it
    absent: tuple[ErrorCode, str] | None = None  # the 404 a read of the never-configured feature gets
    listed: bool = False  # a family of configurations by id: ?id= reads one, without it lists them


FEATURES: dict[str, Feature] = {
    "requestPayment": Feature("s3:GetBucketRequestPayment"),
    "accelerate": Feature("s3:GetAccelerateConfiguration"),
    "website": Feature("s3:GetBucketWebsite", (ErrorCode.NO_SUCH_WEBSITE_CONFIGURATION,
                                                "The specified bucket does not have a website configuration")),
    "logging": Feature("s3:GetBucketLogging"),
    "replication": Feature("s3:GetReplicationConfiguration", (ErrorCode.REPLICATION_CONFIGURATION_NOT_FOUND,
                                                               "The replication configuration was not found")),
    "notification": Feature("s3:GetBucketNotification"),
    "analytics": Feature("s3:GetAnalyticsConfiguration", listed=True),
    "metrics": Feature("s3:GetMetricsConfiguration", listed=True),
    "inventory": Feature("s3:GetInventoryConfiguration", listed=True),
    "intelligent-tiering": Feature("s3:GetIntelligentTieringConfiguration", listed=True),
}


def read(buckets: BucketService, principal: Principal, bucket_name: str, feature: str,
         config_id: str | None = None) -> None:
    """Check the caller may read ``feature`` of the bucket; raise the 404 AWS gives when it is unset.

    Returns normally when AWS would answer with the feature's empty (unconfigured) document.
    """
    f = FEATURES[feature]
    bucket = buckets.get(principal, bucket_name, f.action)
    if f.absent is not None:
        code, message = f.absent
        raise SealboxError(code, message, BucketName=bucket.name)
    if f.listed and config_id is not None:
        raise SealboxError(ErrorCode.NO_SUCH_CONFIGURATION, "The specified configuration does not exist.",
                           BucketName=bucket.name)

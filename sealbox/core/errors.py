"""Domain errors of sealbox.

A domain error names *what* went wrong with an S3 error code; it carries no HTTP status.
The one table that maps codes to HTTP statuses and default messages is ``sealbox.http.errors``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """Every S3 error code sealbox can answer with. The value is the wire ``<Code>``."""

    ACCESS_DENIED = "AccessDenied"
    ACCESS_FORBIDDEN = "AccessForbidden"  # a refused CORS preflight
    AUTHORIZATION_HEADER_MALFORMED = "AuthorizationHeaderMalformed"
    AUTHORIZATION_QUERY_PARAMETERS_ERROR = "AuthorizationQueryParametersError"
    BAD_DIGEST = "BadDigest"
    BAD_REQUEST = "BadRequest"
    BUCKET_ALREADY_EXISTS = "BucketAlreadyExists"
    BUCKET_ALREADY_OWNED_BY_YOU = "BucketAlreadyOwnedByYou"
    BUCKET_NOT_EMPTY = "BucketNotEmpty"
    CONDITIONAL_REQUEST_CONFLICT = "ConditionalRequestConflict"
    ENTITY_TOO_LARGE = "EntityTooLarge"
    ENTITY_TOO_SMALL = "EntityTooSmall"
    EXPIRED_TOKEN = "ExpiredToken"
    ILLEGAL_VERSIONING_CONFIGURATION = "IllegalVersioningConfigurationException"
    INCOMPLETE_BODY = "IncompleteBody"
    INTERNAL_ERROR = "InternalError"
    INVALID_ACCESS_KEY_ID = "InvalidAccessKeyId"
    INVALID_ARGUMENT = "InvalidArgument"
    INVALID_BUCKET_NAME = "InvalidBucketName"
    INVALID_DIGEST = "InvalidDigest"
    INVALID_ENCRYPTION_ALGORITHM = "InvalidEncryptionAlgorithmError"
    INVALID_LOCATION_CONSTRAINT = "InvalidLocationConstraint"
    INVALID_PART = "InvalidPart"
    INVALID_PART_ORDER = "InvalidPartOrder"
    INVALID_POLICY_DOCUMENT = "InvalidPolicyDocument"
    INVALID_RANGE = "InvalidRange"
    INVALID_REQUEST = "InvalidRequest"
    INVALID_STORAGE_CLASS = "InvalidStorageClass"
    INVALID_TAG = "InvalidTag"
    INVALID_URI = "InvalidURI"
    KEY_TOO_LONG = "KeyTooLongError"
    MALFORMED_POLICY = "MalformedPolicy"
    MALFORMED_XML = "MalformedXML"
    MALFORMED_POST_REQUEST = "MalformedPOSTRequest"
    MAX_POST_PRE_DATA_LENGTH_EXCEEDED = "MaxPostPreDataLengthExceededError"
    METADATA_TOO_LARGE = "MetadataTooLarge"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    MISSING_CONTENT_LENGTH = "MissingContentLength"
    MISSING_REQUEST_BODY = "MissingRequestBodyError"
    MISSING_SECURITY_HEADER = "MissingSecurityHeader"
    NO_SUCH_BUCKET = "NoSuchBucket"
    NO_SUCH_BUCKET_POLICY = "NoSuchBucketPolicy"
    NO_SUCH_CORS_CONFIGURATION = "NoSuchCORSConfiguration"
    NO_SUCH_CONFIGURATION = "NoSuchConfiguration"
    NO_SUCH_WEBSITE_CONFIGURATION = "NoSuchWebsiteConfiguration"
    REPLICATION_CONFIGURATION_NOT_FOUND = "ReplicationConfigurationNotFoundError"
    NO_SUCH_KEY = "NoSuchKey"
    NO_SUCH_TAG_SET = "NoSuchTagSet"
    NO_SUCH_UPLOAD = "NoSuchUpload"
    NO_SUCH_VERSION = "NoSuchVersion"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_MODIFIED = "NotModified"
    PRECONDITION_FAILED = "PreconditionFailed"
    REQUEST_TIME_TOO_SKEWED = "RequestTimeTooSkewed"
    REQUEST_HEADER_SECTION_TOO_LARGE = "RequestHeaderSectionTooLarge"
    REQUEST_TIMEOUT = "RequestTimeout"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch"
    SSE_CONFIG_NOT_FOUND = "ServerSideEncryptionConfigurationNotFoundError"
    TOO_MANY_BUCKETS = "TooManyBuckets"
    X_AMZ_CONTENT_SHA256_MISMATCH = "XAmzContentSHA256Mismatch"
    INVALID_CHUNK_SIZE = "InvalidChunkSizeError"
    SLOW_DOWN = "SlowDown"
    # access control (issue 15)
    ACCESS_CONTROL_LIST_NOT_SUPPORTED = "AccessControlListNotSupported"
    INVALID_BUCKET_ACL_WITH_OBJECT_OWNERSHIP = "InvalidBucketAclWithObjectOwnership"
    MALFORMED_ACL_ERROR = "MalformedACLError"
    UNRESOLVABLE_GRANT_BY_EMAIL_ADDRESS = "UnresolvableGrantByEmailAddress"
    OWNERSHIP_CONTROLS_NOT_FOUND_ERROR = "OwnershipControlsNotFoundError"
    NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION = "NoSuchPublicAccessBlockConfiguration"
    # Object Lock and lifecycle (issue 17)
    INVALID_BUCKET_STATE = "InvalidBucketState"
    INVALID_RETENTION_PERIOD = "InvalidRetentionPeriod"
    OBJECT_LOCK_CONFIG_NOT_FOUND = "ObjectLockConfigurationNotFoundError"
    NO_SUCH_OBJECT_LOCK_CONFIG = "NoSuchObjectLockConfiguration"
    NO_SUCH_LIFECYCLE_CONFIG = "NoSuchLifecycleConfiguration"
    EXPECTATION_FAILED = "ExpectationFailed"
    # The key service's refusals, as Amazon S3 passes them on (SSE-KMS; sealbox.service.kms_sse)
    KMS_DISABLED = "KMS.DisabledException"
    KMS_NOT_FOUND = "KMS.NotFoundException"
    KMS_INVALID_STATE = "KMS.KMSInvalidStateException"


@dataclass(frozen=True)
class ErrorFacts:
    """Facts about the object an error concerns that the answer also states (AWS sends them as
    headers; the HTTP edge decides how). Typed, so the service layer builds no HTTP."""

    delete_marker: bool = False  # the key's current version (or the named one) is a delete marker
    version_id: str | None = None  # the version the answer is about (the delete marker's id)
    last_modified: float | None = None  # epoch seconds, of that version
    allowed_methods: tuple[str, ...] = ()  # 405 on a delete marker: what would be allowed
    etag: str | None = None  # quoted; a 304 names the current ETag


NO_FACTS = ErrorFacts()


class SealboxError(Exception):
    """An S3-level failure raised anywhere below the HTTP edge.

    ``extra`` holds the additional XML elements AWS returns for this error
    (e.g. ``ArgumentName``/``ArgumentValue``, ``BucketName``, ``Key``); ``facts`` what the
    response states besides (``ErrorFacts``).
    """

    def __init__(self, code: ErrorCode, message: str | None = None, *, facts: ErrorFacts = NO_FACTS,
                 **extra: str) -> None:
        super().__init__(message or code.value)
        self.code = code
        self.message = message
        self.extra: dict[str, str] = {k: str(v) for k, v in extra.items()}
        self.facts = facts

    def __repr__(self) -> str:
        return f"SealboxError({self.code.value}, {self.message!r}, {self.extra!r})"


def invalid_argument(message: str, name: str, value: str) -> SealboxError:
    """The InvalidArgument shape AWS uses: a message plus the offending argument."""
    return SealboxError(ErrorCode.INVALID_ARGUMENT, message, ArgumentName=name, ArgumentValue=value)

"""KMS keys, aliases and the errors of the key service, as the AWS KMS API names them. No HTTP, no SQL."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class KeyState(enum.Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"


CUSTOMER = "CUSTOMER"  # KeyManager of keys created by CreateKey
AWS = "AWS"  # KeyManager of the account's managed key aws/s3
MANAGED_S3_ALIAS = "alias/aws/s3"
MIN_DELETION_DAYS, MAX_DELETION_DAYS, DEFAULT_DELETION_DAYS = 7, 30, 30
MIN_ROTATION_DAYS, MAX_ROTATION_DAYS, DEFAULT_ROTATION_DAYS = 90, 2560, 365
MAX_ON_DEMAND_ROTATIONS = 10  # AWS: at most 10 on-demand rotations per key
ALIAS_RE = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
KEY_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DAY = 86400.0


@dataclass(frozen=True)
class KmsKey:
    """One KMS key's metadata (never its material)."""

    key_id: str  # a UUID
    owner: str  # the principal who created it ("root" for aws/s3)
    description: str
    state: KeyState
    created: float
    key_manager: str = CUSTOMER
    deletion_date: float | None = None  # PendingDeletion: when the material is destroyed
    pending_window_days: int | None = None
    policy: str | None = None  # the key policy JSON as put; None: the default policy
    rotation_enabled: bool = False
    rotation_period_days: int = DEFAULT_ROTATION_DAYS
    next_rotation: float | None = None
    material_version: int = 1  # the current (newest) material version
    tags: dict[str, str] = field(default_factory=dict)
    key_usage: str = "ENCRYPT_DECRYPT"


@dataclass(frozen=True)
class Alias:
    name: str  # "alias/…"
    key_id: str
    created: float
    updated: float


@dataclass(frozen=True)
class Material:
    """One version of a key's material, as stored: sealed under a master key (envelope text)."""

    key_id: str
    version: int
    sealed: str
    created: float
    on_demand: bool = False

    @property
    def ref(self) -> str:
        return material_ref(self.key_id, self.version)


def material_ref(key_id: str, version: int) -> str:
    return f"{key_id}/{version}"


@dataclass(frozen=True)
class BucketKey:
    """An S3 Bucket Key: a per-bucket key-encryption key, wrapped by a KMS key (its ciphertext blob)."""

    key_id: str  # 32 hex chars (16 random bytes)
    bucket: str
    kms_key_arn: str
    blob: bytes
    created: float


class KmsCode(enum.Enum):
    """The exception names of the AWS KMS API (the JSON ``__type``)."""

    NOT_FOUND = "NotFoundException"
    DISABLED = "DisabledException"
    INVALID_STATE = "KMSInvalidStateException"
    ALREADY_EXISTS = "AlreadyExistsException"
    VALIDATION = "ValidationException"
    ACCESS_DENIED = "AccessDeniedException"
    INVALID_CIPHERTEXT = "InvalidCiphertextException"
    INCORRECT_KEY = "IncorrectKeyException"
    INVALID_ARN = "InvalidArnException"
    INVALID_ALIAS_NAME = "InvalidAliasNameException"
    INVALID_MARKER = "InvalidMarkerException"
    MALFORMED_POLICY = "MalformedPolicyDocumentException"
    UNSUPPORTED = "UnsupportedOperationException"
    LIMIT_EXCEEDED = "LimitExceededException"
    TAG = "TagException"
    INTERNAL = "KMSInternalException"
    DEPENDENCY_TIMEOUT = "DependencyTimeoutException"
    UNKNOWN_OPERATION = "UnknownOperationException"
    SERIALIZATION = "SerializationException"
    INVALID_SIGNATURE = "InvalidSignatureException"
    UNRECOGNIZED_CLIENT = "UnrecognizedClientException"


class KmsError(Exception):
    """A key-service failure; the KMS API renders it as JSON, S3 as ``KMS.<name>`` (service/kms_sse.py)."""

    def __init__(self, code: KmsCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(ref: str) -> KmsError:
    return KmsError(KmsCode.NOT_FOUND, f"Key '{ref}' does not exist")


def arn_of(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{alias}"

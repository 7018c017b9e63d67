"""SSE-KMS and DSSE-KMS for objects: which key a write uses, its data key's record, opening it on reads.

Which KMS key (as on AWS): the request's ``x-amz-server-side-encryption-aws-kms-key-id`` (key id, key
ARN, alias name or alias ARN); with ``aws:kms`` requested but no key id, the account's managed key
``aws/s3`` (created on first use); with no encryption header, the bucket's default encryption
(``KMSMasterKeyID``, else ``aws/s3``). Bucket Key: the request's
``x-amz-server-side-encryption-bucket-key-enabled``, else the bucket's ``BucketKeyEnabled`` when its
default is SSE-KMS; never for DSSE-KMS (AWS has no bucket keys there).

Hierarchy (formats in ``sealbox.crypto.kms_format``)::

    KMS key material (sealed under a master key)
      └─ wraps a key-encryption key (KEK): per object, or per bucket with a Bucket Key
           └─ seals the object's data key (bound to bucket/key/object uid, ARN and context)
                └─ per-extent subkeys and AES-256-GCM segments (sealbox.crypto.stream), one layer
                   (SSE-KMS) or two with two independent data keys (DSSE-KMS)

So a write without a bucket key makes one GenerateDataKey call (DSSE: two), and with one a bucket
makes one per day per KMS key; a read makes one Decrypt per KEK a process has not opened yet.

Opened keys are kept per process: for the built-in key service until the KMS change token changes
(any key disabled, enabled, deleted, rotated anywhere), so a disabled key refuses the next read on
every worker; for an external service for ``backend.ttl`` seconds. Every read of an SSE-KMS object
is also authorized against the key (``authorize_read``: kms:Decrypt through S3).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.crypto import kms_format
from sealbox.crypto.errors import CryptoError
from sealbox.kms.backend import KeyBackend
from sealbox.kms.model import BucketKey, KmsCode, KmsError
from sealbox.kms.store import KmsStore
from sealbox.service.identity import Principal

SSE_KMS = "aws:kms"
SSE_DSSE = "aws:kms:dsse"
KMS_MODES = frozenset({SSE_KMS, SSE_DSSE})
BUCKET_KEY_LIFETIME = 24 * 3600.0  # a bucket key seals new objects for a day, then a new one is made
MAX_CONTEXT = 8 * 1024
_OPENED = 16384
_U32 = struct.Struct(">I")

KMS_CONDITION = "s3:x-amz-server-side-encryption-aws-kms-key-id"


@dataclass(frozen=True)
class KmsRequest:
    """What a write asked for in its SSE-KMS headers (parsed at the edge)."""

    key_id: str | None = None
    context: str | None = None  # the encryption context's JSON text (decoded from base64)
    bucket_key: bool | None = None


@dataclass(frozen=True)
class KmsChoice:
    """The encryption a write gets, decided from the request and the bucket's default."""

    key_ref: str | None  # as named (None: aws/s3); resolved to an ARN when the data key is made
    context: str
    bucket_key: bool
    dsse: bool


@dataclass(frozen=True)
class KmsInfo:
    """What responses say about an SSE-KMS object (from its key record; no key needed)."""

    key_arn: str
    bucket_key: bool
    context: str
    dsse: bool

    @property
    def context_b64(self) -> str | None:
        return base64.b64encode(self.context.encode()).decode() if self.context else None


def kms_info(sealed_key: str | None) -> KmsInfo | None:
    if not kms_format.is_record(sealed_key):
        return None
    assert sealed_key is not None
    try:
        record = kms_format.KmsRecord.from_text(sealed_key)
    except CryptoError:
        return None
    return KmsInfo(record.key_arn, record.bucket_key, record.context, record.dsse)


def parse_context(value: str) -> str:
    """``x-amz-server-side-encryption-context``: base64 of a UTF-8 JSON object of strings -> the JSON text."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        doc = json.loads(text)
    except (binascii.Error, UnicodeError, ValueError):
        doc = None
        text = ""
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()) \
            or len(text) > MAX_CONTEXT or any(k.startswith("aws:") for k in doc):
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The encryption context must be base64-encoded JSON of string"
                           " pairs (keys may not begin with aws:)", ArgumentName="x-amz-server-side-encryption-context",
                           ArgumentValue=value)
    return text


def s3_error(exc: KmsError) -> SealboxError:
    """A key service refusal as Amazon S3 answers it."""
    if exc.code is KmsCode.ACCESS_DENIED:
        return SealboxError(ErrorCode.ACCESS_DENIED, exc.message)
    table = {KmsCode.DISABLED: ErrorCode.KMS_DISABLED, KmsCode.NOT_FOUND: ErrorCode.KMS_NOT_FOUND,
             KmsCode.INVALID_STATE: ErrorCode.KMS_INVALID_STATE}
    code = table.get(exc.code)
    if code is not None:
        return SealboxError(code, exc.message)
    if exc.code is KmsCode.DEPENDENCY_TIMEOUT:
        return SealboxError(ErrorCode.SERVICE_UNAVAILABLE, exc.message)
    if exc.code in (KmsCode.VALIDATION, KmsCode.UNSUPPORTED, KmsCode.INCORRECT_KEY):
        return SealboxError(ErrorCode.INVALID_ARGUMENT, exc.message)
    return SealboxError(ErrorCode.INTERNAL_ERROR, f"the key service failed: {exc.message}")


def object_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _split_context(context: bytes) -> tuple[str, str]:
    """(bucket, key) of an ``envelope.object_context`` (label, then length-prefixed fields)."""
    pos = len(b"sealbox-object-v1")
    fields = []
    for _ in range(2):
        (n,) = _U32.unpack_from(context, pos)
        fields.append(context[pos + 4:pos + 4 + n].decode("utf-8", "surrogateescape"))
        pos += 4 + n
    return fields[0], fields[1]


class KmsEncryption:
    """The S3 side of SSE-KMS: the ``KmsOpener`` of ``Sealer`` and the data keys of new objects."""

    def __init__(self, backend: KeyBackend, store: KmsStore | None, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.store = store  # bucket keys live here (either backend)
        self.clock = clock
        self._lock = threading.Lock()
        self._token: bytes | None = None
        # (record text, object context) -> data key; KEK blob -> KEK; bucket-key id -> (KEK, id row)
        self._opened: dict[tuple[str, bytes], tuple[float, bytes]] = {}
        self._keks: dict[bytes, tuple[float, bytes]] = {}
        self._bucket_keys: dict[tuple[str, str], tuple[BucketKey, bytes]] = {}

    # -- caches -----------------------------------------------------------------------------------
    def _sync(self) -> float:
        """The current time, after dropping whatever a KMS change may have invalidated."""
        token = self.backend.token()
        if token != self._token:
            with self._lock:
                self._opened.clear()
                self._keks.clear()
                self._bucket_keys.clear()
                self._token = token
        return self.clock()

    def _fresh(self, entry: tuple[float, bytes] | None, now: float) -> bytes | None:
        if entry is None:
            return None
        ttl = self.backend.ttl
        return entry[1] if ttl is None or now - entry[0] < ttl else None

    # -- writes -------------------------------------------------------------------------------------
    def choose(self, bucket: Bucket, sse: str, request: KmsRequest | None, requested: bool) -> KmsChoice:
        """``requested``: the write asked for ``sse`` itself (else it is the bucket's default encryption)."""
        asked = request or KmsRequest()
        bucket_default = bucket.default_sse in KMS_MODES
        key_ref = asked.key_id if requested else bucket.default_kms_key_id
        bucket_key = asked.bucket_key if asked.bucket_key is not None else bucket.bucket_key_enabled and bucket_default
        dsse = sse == SSE_DSSE
        return KmsChoice(key_ref, asked.context or "", bucket_key and not dsse, dsse)

    def condition_key(self, ref: str | None) -> str | None:
        """The key ARN a policy's s3:x-amz-server-side-encryption-aws-kms-key-id sees for ``ref``."""
        if ref is None:
            return None
        try:
            return self.backend.resolve(Principal("root", ""), ref) if not self.backend.blocking else ref
        except KmsError:
            return ref

    def seal_new(self, principal: Principal, choice: KmsChoice, bucket: str, key: str, context: bytes) -> tuple[bytes, str]:
        """A fresh data key for one object (or upload) and its key record; SealboxError if the key refuses."""
        try:
            return self._seal_new(principal, choice, bucket, key, context)
        except KmsError as exc:
            raise s3_error(exc) from None

    def _seal_new(self, principal: Principal, choice: KmsChoice, bucket: str, key: str,
                  context: bytes) -> tuple[bytes, str]:
        arn = self.backend.resolve(principal, choice.key_ref)
        pairs = {"aws:s3:arn": object_arn(bucket, key), **kms_format.context_pairs(choice.context)}
        mode = kms_format.MODE_DSSE if choice.dsse else \
            kms_format.MODE_BUCKET_KEY if choice.bucket_key else kms_format.MODE_KMS
        layers: list[kms_format.LayerSeal] = []
        keys: list[bytes] = []
        for layer in range(2 if choice.dsse else 1):
            if mode == kms_format.MODE_BUCKET_KEY:
                row, kek = self._bucket_key(principal, bucket, arn)
                wrap = bytes.fromhex(row.key_id)
            else:
                kek, wrap, arn = self.backend.generate(principal, arn, pairs)
            data_key = secrets.token_bytes(kms_format.KEY_SIZE)
            layers.append(kms_format.seal_layer(kek, data_key, mode=mode, layer=layer, object_context=context,
                                                key_arn=arn, context=choice.context, wrap=wrap))
            keys.append(data_key)
        record = kms_format.KmsRecord(mode, arn, choice.context, tuple(layers))
        text = record.to_text()
        data_key = b"".join(keys)
        now = self._sync()
        with self._lock:
            if len(self._opened) >= _OPENED:
                self._opened.clear()
            self._opened[(text, context)] = (now, data_key)
        return data_key, text

    def _bucket_key(self, principal: Principal, bucket: str, arn: str) -> tuple[BucketKey, bytes]:
        if self.store is None:
            raise KmsError(KmsCode.UNSUPPORTED, "bucket keys need the metadata store")
        now = self._sync()
        cached = self._bucket_keys.get((bucket, arn))
        if cached is not None and now - cached[0].created < BUCKET_KEY_LIFETIME:
            # Still one the caller may use: the key's policy decides per write, as without a bucket key.
            self.backend.resolve(principal, arn)
            return cached
        row = self.store.latest_bucket_key(bucket, arn)
        if row is not None and now - row.created < BUCKET_KEY_LIFETIME:
            self.backend.resolve(principal, arn)
            kek = self.backend.decrypt(row.blob, {"aws:s3:arn": object_arn(bucket)}, arn)
        else:
            kek, blob, arn = self.backend.generate(principal, arn, {"aws:s3:arn": object_arn(bucket)})
            row = BucketKey(secrets.token_hex(16), bucket, arn, blob, now)
            self.store.put_bucket_key(row)
            self._sync()
        with self._lock:
            self._bucket_keys[(bucket, arn)] = (row, kek)
        return row, kek

    # -- reads ---------------------------------------------------------------------------------------
    def open_record(self, context: bytes, sealed_text: str) -> bytes:
        """``Sealer``'s hook: the data key of an SSE-KMS object. SealboxError (KMS.*) if the key refuses,
        CryptoError if the record does not authenticate."""
        now = self._sync()
        cached = self._fresh(self._opened.get((sealed_text, context)), now)
        if cached is not None:
            return cached
        record = kms_format.KmsRecord.from_text(sealed_text)
        bucket, key = _split_context(context)
        try:
            data_key = b"".join(kms_format.open_layer(self._kek(record, layer, bucket, key, now), record, layer,
                                                      context) for layer in range(len(record.layers)))
        except KmsError as exc:
            raise s3_error(exc) from None
        with self._lock:
            if len(self._opened) >= _OPENED:
                self._opened.clear()
            self._opened[(sealed_text, context)] = (now, data_key)
        return data_key

    def _kek(self, record: kms_format.KmsRecord, layer: int, bucket: str, key: str, now: float) -> bytes:
        wrap = record.layers[layer].wrap
        if record.bucket_key:
            if self.store is None:
                raise KmsError(KmsCode.UNSUPPORTED, "bucket keys need the metadata store")
            row = self.store.get_bucket_key(wrap.hex())
            if row is None:
                raise KmsError(KmsCode.NOT_FOUND, f"the bucket key of this object under {record.key_arn} no longer"
                               " exists (its KMS key was deleted)")
            blob, pairs = row.blob, {"aws:s3:arn": object_arn(bucket)}
        else:
            blob, pairs = wrap, {"aws:s3:arn": object_arn(bucket, key), **record.context_pairs()}
        cached = self._fresh(self._keks.get(blob), now)
        if cached is not None:
            return cached
        kek = self.backend.decrypt(blob, pairs, record.key_arn)
        with self._lock:
            if len(self._keks) >= _OPENED:
                self._keks.clear()
            self._keks[blob] = (now, kek)
        return kek

    def authorize_read(self, principal: Principal, sealed_text: str, bucket: str, key: str) -> None:
        """AccessDenied unless ``principal`` may decrypt this object's key (kms:Decrypt through S3)."""
        if principal.is_root:
            return
        info = kms_info(sealed_text)
        if info is None:
            return
        try:
            self.backend.authorize_decrypt(principal, info.key_arn, {"aws:s3:arn": object_arn(bucket, key),
                                                                      **kms_format.context_pairs(info.context)})
        except KmsError as exc:
            raise s3_error(exc) from None


def etag_of(data_key: bytes, md5: bytes) -> str:
    """The ETag of an SSE-KMS object or part: not its plaintext MD5 (``kms_format.kms_etag``)."""
    return kms_format.kms_etag(data_key, md5)

"""The built-in key service: KMS keys whose material is sealed under the master keyring.

One ``KeyService`` per process (worker, CLI). It answers the KMS API's management operations and its
cryptographic ones (GenerateDataKey, Encrypt, Decrypt), each authorized (``authorize``; the rules
are in ``sealbox.kms.policy``), and serves SSE-KMS (``sealbox.kms.backend.BuiltinBackend``).

Key states: ``Enabled`` → DisableKey → ``Disabled`` → EnableKey → ``Enabled``; ScheduleKeyDeletion
(7–30 days, default 30) → ``PendingDeletion`` → CancelKeyDeletion → ``Disabled``. Only an Enabled key
encrypts or decrypts: a Disabled one answers ``DisabledException``, one pending deletion
``KMSInvalidStateException``. Once the deletion date has passed the key is destroyed on its next
lookup by any process (``destroy_due``, also run by ``sealbox kms list`` and ``sealbox scrub``): its
material is deleted, and whatever it protected is unreadable for good (``NotFoundException``).

Rotation adds a material version (automatic every ``rotation_period_days`` when enabled, or
RotateKeyOnDemand); new ciphertexts use the newest, every older version still decrypts.

Caching: keys, aliases and unsealed material versions are kept per process while the KMS change
token is unchanged (``KmsStore.token``); any change by any process empties them before the next use.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sealbox.crypto import kms_format
from sealbox.crypto.errors import CryptoError
from sealbox.kms import policy as kpol
from sealbox.kms.model import (
    ALIAS_RE,
    AWS,
    CUSTOMER,
    DAY,
    DEFAULT_DELETION_DAYS,
    DEFAULT_ROTATION_DAYS,
    KEY_ID_RE,
    MANAGED_S3_ALIAS,
    MAX_DELETION_DAYS,
    MAX_ON_DEMAND_ROTATIONS,
    MAX_ROTATION_DAYS,
    MIN_DELETION_DAYS,
    MIN_ROTATION_DAYS,
    Alias,
    KeyState,
    KmsCode,
    KmsError,
    KmsKey,
    Material,
    alias_arn,
    arn_of,
    not_found,
)
from sealbox.kms.store import KmsStore
from sealbox.service.identity import Principal
from sealbox.service.sealing import Sealer

Clock = Callable[[], float]
MAX_DATA_KEY = 1024
_MANAGED_DESCRIPTION = "Default key that protects my S3 objects when no other key is defined"


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes
    blob: bytes
    key_arn: str


def _validation(message: str) -> KmsError:
    return KmsError(KmsCode.VALIDATION, message)


class KeyService:
    def __init__(self, store: KmsStore, sealer: Sealer, region: str, *, clock: Clock = time.time,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        self.store = store
        self.sealer = sealer  # master keys: seal and open key material
        self.region = region
        self.clock = clock
        self.rng = rng
        self._token: bytes | None = None
        self._keys: dict[str, KmsKey | None] = {}
        self._aliases: dict[str, Alias | None] = {}
        self._materials: dict[tuple[str, int], bytes] = {}
        self._account: str | None = None
        self._arns: dict[str, str] = {}

    # -- names ---------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        if self._account is None:
            self._account = self.store.account()  # fixed for the data directory's lifetime
        return self._account

    def arn(self, key_id: str) -> str:
        arn = self._arns.get(key_id)
        if arn is None:
            if len(self._arns) > 4096:
                self._arns.clear()
            arn = self._arns[key_id] = arn_of(self.region, self.account, key_id)
        return arn

    def alias_arn(self, name: str) -> str:
        return alias_arn(self.region, self.account, name)

    @property
    def via_s3(self) -> str:
        return f"s3.{self.region}.amazonaws.com"

    # -- cache -----------------------------------------------------------------------------------
    def _sync(self) -> None:
        token = self.store.token()  # before any read: a change committed after it is not missed
        if token != self._token:
            self._keys.clear()
            self._aliases.clear()
            self._materials.clear()
            self._token = token

    def _key(self, key_id: str) -> KmsKey | None:
        self._sync()
        if key_id not in self._keys:
            if len(self._keys) > 4096:
                self._keys.clear()
            self._keys[key_id] = self.store.get_key(key_id)
        key = self._keys[key_id]
        if key is not None and key.state is KeyState.PENDING_DELETION and key.deletion_date is not None \
                and key.deletion_date <= self.clock():
            self.store.destroy_key(key.key_id, self.arn(key.key_id))
            self._keys[key_id] = None
            return None
        return key

    def _alias(self, name: str) -> Alias | None:
        self._sync()
        if name not in self._aliases:
            if len(self._aliases) > 4096:
                self._aliases.clear()
            self._aliases[name] = self.store.get_alias(name)
        return self._aliases[name]

    def _material(self, key_id: str, version: int) -> bytes | None:
        self._sync()
        cached = self._materials.get((key_id, version))
        if cached is not None:
            return cached
        row = self.store.get_material(key_id, version)
        if row is None:
            return None
        try:
            material = self.sealer.open_value(row.sealed, kms_format.material_context(key_id, version))
        except CryptoError as exc:
            raise KmsError(KmsCode.INTERNAL, f"the material of key {key_id} does not open: {exc}") from None
        self._materials[(key_id, version)] = material
        return material

    # -- resolving key references -------------------------------------------------------------------
    def resolve(self, ref: str | None) -> KmsKey:
        """The key a KeyId names: a key id, key ARN, alias name or alias ARN. NotFoundException otherwise."""
        if not ref:
            raise _validation("KeyId is required")
        key_id = self._key_id(ref)
        key = self._key(key_id) if key_id else None
        if key is None:
            raise not_found(ref) if key_id else KmsError(KmsCode.NOT_FOUND, f"Invalid keyId '{ref}'")
        return key

    def _key_id(self, ref: str) -> str | None:
        prefix = f"arn:aws:kms:{self.region}:{self.account}:"
        name = ref[len(prefix):] if ref.startswith(prefix) else ref
        if ref.startswith("arn:") and name is ref:
            return None  # another region or account
        if name.startswith("key/") and ref.startswith("arn:"):
            name = name[4:]
        if KEY_ID_RE.fullmatch(name):
            return name
        if name.startswith("alias/"):
            alias = self._alias(name)
            if alias is None and name == MANAGED_S3_ALIAS:
                return self.managed_s3_key().key_id
            return alias.key_id if alias else None
        return None

    def managed_s3_key(self) -> KmsKey:
        """The account's AWS managed key for S3 (``alias/aws/s3``), created on first use."""
        for _ in range(3):
            alias = self._alias(MANAGED_S3_ALIAS)
            if alias is not None:
                key = self._key(alias.key_id)
                if key is not None:
                    return key
            now = self.clock()
            key = KmsKey(key_id=str(uuid.uuid4()), owner="root", description=_MANAGED_DESCRIPTION,
                         state=KeyState.ENABLED, created=now, key_manager=AWS, rotation_enabled=True,
                         next_rotation=now + DEFAULT_ROTATION_DAYS * DAY)
            self.store.create_key(key, self._new_material(key.key_id, 1, now), MANAGED_S3_ALIAS)
            self._sync()  # lost a race with another process: its key is the one (re-read above)
        raise KmsError(KmsCode.INTERNAL, "could not create the AWS managed key aws/s3")

    def _new_material(self, key_id: str, version: int, now: float, on_demand: bool = False) -> Material:
        material = self.rng(kms_format.KEY_SIZE)
        sealed = self.sealer.seal_value(material, kms_format.material_context(key_id, version))
        return Material(key_id, version, sealed, now, on_demand)

    # -- authorization --------------------------------------------------------------------------------
    def authorize(self, principal: Principal, action: str, key: KmsKey, context: Mapping[str, str] | None = None,
                  *, via_s3: bool = False) -> None:
        """AccessDeniedException unless ``principal`` may perform ``action`` (``kms:…``) on ``key``."""
        if principal.is_root:
            return
        arn = self.arn(key.key_id)
        who = f"arn:aws:iam::{self.account}:user/{principal.name}"
        if principal.is_anonymous:
            raise KmsError(KmsCode.ACCESS_DENIED, f"An anonymous request is not authorized to perform: {action}"
                           f" on resource: {arn}")
        text = key.policy or (kpol.managed_s3_policy(self.account, self.region) if key.key_manager == AWS
                              else kpol.default_policy(self.account))
        ctx: dict[str, tuple[str, ...]] = {
            "kms:calleraccount": (self.account,), "aws:username": (principal.name,), "aws:principalarn": (who,),
            "aws:securetransport": ("true" if principal.context.secure else "false",)}
        if principal.context.source_ip:
            ctx["aws:sourceip"] = (principal.context.source_ip,)
        if via_s3:
            ctx["kms:viaservice"] = (self.via_s3,)
        for name, value in (context or {}).items():
            ctx[f"kms:encryptioncontext:{name.lower()}"] = (value,)
        if context:
            ctx["kms:encryptioncontextkeys"] = tuple(context)
        decision = kpol.evaluate(kpol.parse_key_policy(text), principal.name, action, arn, ctx)
        if decision is not kpol.Decision.DENY:
            if key.key_manager == CUSTOMER and key.owner == principal.name:
                return  # the creator manages and uses the keys they created
            if decision is kpol.Decision.ALLOW:
                return
        raise KmsError(KmsCode.ACCESS_DENIED, f"User: {who} is not authorized to perform: {action} on resource:"
                       f" {arn} because no resource-based policy allows the {action} action")

    def _managed(self, principal: Principal, ref: str, action: str) -> KmsKey:
        key = self.resolve(ref)
        self.authorize(principal, action, key)
        return key

    def _customer(self, principal: Principal, ref: str, action: str) -> KmsKey:
        key = self._managed(principal, ref, action)
        if key.key_manager == AWS:
            raise KmsError(KmsCode.UNSUPPORTED, f"{action.removeprefix('kms:')} is not supported on an AWS managed"
                           f" key ({self.arn(key.key_id)})")
        return key

    def usable(self, key: KmsKey) -> None:
        """DisabledException / KMSInvalidStateException unless the key may encrypt and decrypt now."""
        arn = self.arn(key.key_id)
        if key.state is KeyState.DISABLED:
            raise KmsError(KmsCode.DISABLED, f"{arn} is disabled.")
        if key.state is KeyState.PENDING_DELETION:
            raise KmsError(KmsCode.INVALID_STATE, f"{arn} is pending deletion.")

    # -- cryptographic operations ----------------------------------------------------------------------
    def _current(self, key: KmsKey) -> tuple[int, bytes]:
        if key.rotation_enabled and key.next_rotation is not None and key.next_rotation <= self.clock():
            key = self._rotate(key, on_demand=False)
        material = self._material(key.key_id, key.material_version)
        if material is None:
            raise KmsError(KmsCode.INTERNAL, f"key {key.key_id} has no material version {key.material_version}")
        return key.material_version, material

    def generate_data_key(self, principal: Principal, ref: str, context: Mapping[str, str], *,
                          length: int = 32, via_s3: bool = False) -> DataKey:
        if not 1 <= length <= MAX_DATA_KEY:
            raise _validation(f"NumberOfBytes must be between 1 and {MAX_DATA_KEY}")
        key = self.resolve(ref)
        self.authorize(principal, "kms:GenerateDataKey", key, context, via_s3=via_s3)
        self.usable(key)
        version, material = self._current(key)
        plaintext = self.rng(length)
        blob = kms_format.seal_blob(material, key.key_id, version, plaintext, context, self.rng)
        return DataKey(plaintext, blob, self.arn(key.key_id))

    def encrypt(self, principal: Principal, ref: str, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        if not 1 <= len(plaintext) <= kms_format.MAX_PLAINTEXT:
            raise _validation(f"Plaintext must be 1 to {kms_format.MAX_PLAINTEXT} bytes")
        key = self.resolve(ref)
        self.authorize(principal, "kms:Encrypt", key, context)
        self.usable(key)
        version, material = self._current(key)
        return DataKey(plaintext, kms_format.seal_blob(material, key.key_id, version, plaintext, context, self.rng),
                       self.arn(key.key_id))

    def decrypt(self, principal: Principal, blob: bytes, context: Mapping[str, str], ref: str | None = None, *,
                via_s3: bool = False) -> DataKey:
        try:
            header = kms_format.parse_blob_header(blob)
        except CryptoError:
            raise KmsError(KmsCode.INVALID_CIPHERTEXT, "The ciphertext is not a valid ciphertext blob.") from None
        key = self._key(header.key_id)
        if key is None:
            raise KmsError(KmsCode.NOT_FOUND, f"{self.arn(header.key_id)} does not exist (its key material was"
                           " deleted)")
        if ref is not None and self.resolve(ref).key_id != key.key_id:
            raise KmsError(KmsCode.INCORRECT_KEY, "The key ID in the request does not identify a KMS key that can"
                           " perform this operation.")
        self.authorize(principal, "kms:Decrypt", key, context, via_s3=via_s3)
        self.usable(key)
        material = self._material(key.key_id, header.material_version)
        if material is None:
            raise KmsError(KmsCode.INVALID_CIPHERTEXT, "The ciphertext refers to a key version that does not exist.")
        try:
            plaintext = kms_format.open_blob(material, blob, context)
        except CryptoError:
            raise KmsError(KmsCode.INVALID_CIPHERTEXT, "The ciphertext failed authentication (wrong encryption"
                           " context?).") from None
        return DataKey(plaintext, blob, self.arn(key.key_id))

    # -- management ------------------------------------------------------------------------------------------
    def create_key(self, principal: Principal, description: str = "", policy: str | None = None, *,
                   key_usage: str = "ENCRYPT_DECRYPT", key_spec: str = "SYMMETRIC_DEFAULT",
                   tags: Mapping[str, str] | None = None, origin: str = "AWS_KMS") -> KmsKey:
        if principal.is_anonymous:
            raise KmsError(KmsCode.ACCESS_DENIED, "An anonymous request cannot create keys")
        if key_usage != "ENCRYPT_DECRYPT" or key_spec != "SYMMETRIC_DEFAULT" or origin != "AWS_KMS":
            raise KmsError(KmsCode.UNSUPPORTED, "sealbox's key service has symmetric ENCRYPT_DECRYPT keys"
                           " (SYMMETRIC_DEFAULT, origin AWS_KMS) only")
        if len(description) > 8192:
            raise _validation("Description must be at most 8192 characters")
        if policy is not None:
            kpol.parse_key_policy(policy)
        now = self.clock()
        key = KmsKey(key_id=str(uuid.uuid4()), owner=principal.name, description=description,
                     state=KeyState.ENABLED, created=now, policy=policy, tags=dict(tags or {}))
        self.store.create_key(key, self._new_material(key.key_id, 1, now))
        return key

    def describe(self, principal: Principal, ref: str) -> KmsKey:
        return self._managed(principal, ref, "kms:DescribeKey")

    def list_keys(self, principal: Principal) -> list[KmsKey]:
        """The keys ``principal`` may describe (root: all), by key id."""
        self.destroy_due()
        out = []
        for key in self.store.list_keys():
            try:
                self.authorize(principal, "kms:DescribeKey", key)
            except KmsError:
                continue
            out.append(key)
        return out

    def set_enabled(self, principal: Principal, ref: str, enabled: bool) -> KmsKey:
        key = self._managed(principal, ref, "kms:EnableKey" if enabled else "kms:DisableKey")
        if key.state is KeyState.PENDING_DELETION:
            raise KmsError(KmsCode.INVALID_STATE, f"{self.arn(key.key_id)} is pending deletion.")
        new = replace(key, state=KeyState.ENABLED if enabled else KeyState.DISABLED)
        if new != key:
            self.store.update_key(new)
        return new

    def schedule_deletion(self, principal: Principal, ref: str, days: int | None) -> KmsKey:
        window = DEFAULT_DELETION_DAYS if days is None else days
        if not MIN_DELETION_DAYS <= window <= MAX_DELETION_DAYS:
            raise _validation(f"PendingWindowInDays must be between {MIN_DELETION_DAYS} and {MAX_DELETION_DAYS}")
        key = self._customer(principal, ref, "kms:ScheduleKeyDeletion")
        if key.state is KeyState.PENDING_DELETION:
            raise KmsError(KmsCode.INVALID_STATE, f"{self.arn(key.key_id)} is pending deletion.")
        new = replace(key, state=KeyState.PENDING_DELETION, deletion_date=self.clock() + window * DAY,
                      pending_window_days=window)
        self.store.update_key(new)
        return new

    def cancel_deletion(self, principal: Principal, ref: str) -> KmsKey:
        key = self._customer(principal, ref, "kms:CancelKeyDeletion")
        if key.state is not KeyState.PENDING_DELETION:
            raise KmsError(KmsCode.INVALID_STATE, f"{self.arn(key.key_id)} is not pending deletion.")
        new = replace(key, state=KeyState.DISABLED, deletion_date=None, pending_window_days=None)
        self.store.update_key(new)
        return new

    def destroy_due(self) -> list[str]:
        """Destroy every key whose deletion date has passed (crypto-shredding); their ids."""
        now = self.clock()
        gone = []
        for key in self.store.list_keys():
            if key.state is KeyState.PENDING_DELETION and key.deletion_date is not None and key.deletion_date <= now:
                if self.store.destroy_key(key.key_id, self.arn(key.key_id)):
                    gone.append(key.key_id)
        return gone

    # -- rotation --------------------------------------------------------------------------------------------
    def _rotate(self, key: KmsKey, on_demand: bool) -> KmsKey:
        now = self.clock()
        version = key.material_version + 1
        material = self._new_material(key.key_id, version, now, on_demand)
        next_rotation = now + key.rotation_period_days * DAY if key.rotation_enabled else None
        new = replace(key, material_version=version, next_rotation=next_rotation)
        try:
            self.store.add_material(new, material)
        except Exception:  # noqa: BLE001 - another process rotated it at the same moment: use theirs
            self._sync()
            return self.store.get_key(key.key_id) or key
        self._sync()
        return new

    def set_rotation(self, principal: Principal, ref: str, enabled: bool, period_days: int | None = None) -> KmsKey:
        key = self._customer(principal, ref, "kms:EnableKeyRotation" if enabled else "kms:DisableKeyRotation")
        self.usable(key)
        period = key.rotation_period_days if period_days is None else period_days
        if not MIN_ROTATION_DAYS <= period <= MAX_ROTATION_DAYS:
            raise _validation(f"RotationPeriodInDays must be between {MIN_ROTATION_DAYS} and {MAX_ROTATION_DAYS}")
        new = replace(key, rotation_enabled=enabled, rotation_period_days=period,
                      next_rotation=self.clock() + period * DAY if enabled else None)
        self.store.update_key(new)
        return new

    def rotation_status(self, principal: Principal, ref: str) -> KmsKey:
        return self._managed(principal, ref, "kms:GetKeyRotationStatus")

    def rotate_now(self, principal: Principal, ref: str) -> KmsKey:
        key = self._customer(principal, ref, "kms:RotateKeyOnDemand")
        self.usable(key)
        if sum(1 for m in self.store.list_materials(key.key_id) if m.on_demand) >= MAX_ON_DEMAND_ROTATIONS:
            raise KmsError(KmsCode.LIMIT_EXCEEDED, f"{self.arn(key.key_id)} has reached the maximum of"
                           f" {MAX_ON_DEMAND_ROTATIONS} on-demand rotations")
        return self._rotate(key, on_demand=True)

    def rotations(self, principal: Principal, ref: str) -> tuple[KmsKey, list[Material]]:
        key = self._managed(principal, ref, "kms:ListKeyRotations")
        return key, [m for m in self.store.list_materials(key.key_id) if m.version > 1]

    # -- aliases ----------------------------------------------------------------------------------------------
    def _check_alias_name(self, name: str) -> None:
        if not ALIAS_RE.fullmatch(name):
            raise KmsError(KmsCode.VALIDATION, f"Alias must match pattern alias/[a-zA-Z0-9/_-]+: {name!r}")
        if name.startswith("alias/aws/"):
            raise KmsError(KmsCode.INVALID_ALIAS_NAME, "Aliases that begin with alias/aws/ are reserved.")

    def _alias_target(self, principal: Principal, target: str, action: str) -> KmsKey:
        if target.startswith("alias/") or ":alias/" in target:
            raise _validation("An alias's target must be a key id or key ARN, not an alias")
        return self._customer(principal, target, action)

    def create_alias(self, principal: Principal, name: str, target: str) -> Alias:
        self._check_alias_name(name)
        key = self._alias_target(principal, target, "kms:CreateAlias")
        now = self.clock()
        alias = Alias(name, key.key_id, now, now)
        if not self.store.put_alias(alias, create=True):
            raise KmsError(KmsCode.ALREADY_EXISTS, f"An alias with the name {self.alias_arn(name)} already exists")
        return alias

    def update_alias(self, principal: Principal, name: str, target: str) -> Alias:
        self._check_alias_name(name)
        current = self._alias(name)
        if current is None:
            raise KmsError(KmsCode.NOT_FOUND, f"Alias {self.alias_arn(name)} is not found.")
        old = self.resolve(current.key_id)
        self.authorize(principal, "kms:UpdateAlias", old)
        key = self._alias_target(principal, target, "kms:UpdateAlias")
        alias = Alias(name, key.key_id, current.created, self.clock())
        if not self.store.put_alias(alias, create=False):
            raise KmsError(KmsCode.NOT_FOUND, f"Alias {self.alias_arn(name)} is not found.")
        return alias

    def delete_alias(self, principal: Principal, name: str) -> None:
        self._check_alias_name(name)
        current = self._alias(name)
        if current is None:
            raise KmsError(KmsCode.NOT_FOUND, f"Alias {self.alias_arn(name)} is not found.")
        self._customer(principal, current.key_id, "kms:DeleteAlias")
        self.store.delete_alias(name)

    def list_aliases(self, principal: Principal, ref: str | None = None) -> list[Alias]:
        key = self.describe(principal, ref) if ref else None
        out = []
        for alias in self.store.list_aliases():
            if key is not None and alias.key_id != key.key_id:
                continue
            target = self._key(alias.key_id)
            if target is None:
                continue
            try:
                self.authorize(principal, "kms:ListAliases", target)
            except KmsError:
                continue
            out.append(alias)
        return out

    def aliases_of(self, key_id: str) -> list[str]:
        return [a.name for a in self.store.list_aliases() if a.key_id == key_id]

    # -- policy and tags ----------------------------------------------------------------------------------
    def get_policy(self, principal: Principal, ref: str) -> str:
        key = self._managed(principal, ref, "kms:GetKeyPolicy")
        return key.policy or (kpol.managed_s3_policy(self.account, self.region) if key.key_manager == AWS
                              else kpol.default_policy(self.account))

    def put_policy(self, principal: Principal, ref: str, text: str) -> KmsKey:
        key = self._customer(principal, ref, "kms:PutKeyPolicy")
        kpol.parse_key_policy(text)
        new = replace(key, policy=text)
        self.store.update_key(new)
        return new

    def set_tags(self, principal: Principal, ref: str, add: Mapping[str, str], remove: list[str]) -> KmsKey:
        key = self._customer(principal, ref, "kms:TagResource" if add else "kms:UntagResource")
        tags = {k: v for k, v in key.tags.items() if k not in remove}
        tags.update(add)
        if len(tags) > 50:
            raise KmsError(KmsCode.TAG, "A key may have at most 50 tags")
        new = replace(key, tags=tags)
        self.store.update_key(new)
        return new

    def update_description(self, principal: Principal, ref: str, description: str) -> KmsKey:
        key = self._customer(principal, ref, "kms:UpdateKeyDescription")
        new = replace(key, description=description)
        self.store.update_key(new)
        return new


"""The key service in process (real SQLite, real master keys, a clock the test moves): states, the deletion
waiting period and crypto-shredding, automatic rotation, key policies, and the KMS calls of bucket keys."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.crypto import envelope
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.kms import policy as kpol
from sealbox.kms.backend import BuiltinBackend
from sealbox.kms.model import DAY, KeyState, KmsCode, KmsError
from sealbox.kms.service import KeyService
from sealbox.service.identity import Principal
from sealbox.service.kms_sse import KmsEncryption, KmsRequest
from sealbox.service.sealing import Sealer
from sealbox.storage.meta.kms_sqlite import SqliteKmsStore
from sealbox.storage.meta.sqlite import SqliteMetaStore

ROOT = Principal("root", "AK")
ALICE = Principal("alice", "AKA")
BOB = Principal("bob", "AKB")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteKmsStore]:
    SqliteMetaStore(tmp_path / "meta.sqlite3").close()
    kms = SqliteKmsStore(tmp_path / "meta.sqlite3")
    yield kms
    kms.close()


@pytest.fixture
def service(store: SqliteKmsStore, clock: Clock) -> KeyService:
    key = generate_master_key()
    return KeyService(store, Sealer(Keyring([key], key.key_id)), "eu-west-1", clock=clock)


def code(exc: pytest.ExceptionInfo[KmsError]) -> KmsCode:
    return exc.value.code


def test_account_is_twelve_digits_and_stable(store: SqliteKmsStore, tmp_path: Path) -> None:
    account = store.account()
    assert len(account) == 12 and account.isdigit()
    assert SqliteKmsStore(tmp_path / "meta.sqlite3").account() == account


def test_deletion_waits_then_destroys_the_material(service: KeyService, store: SqliteKmsStore, clock: Clock) -> None:
    key = service.create_key(ROOT, "doomed")
    blob = service.encrypt(ROOT, key.key_id, b"secret", {}).blob
    service.schedule_deletion(ROOT, key.key_id, 7)
    clock.now += 7 * DAY - 60
    with pytest.raises(KmsError) as pending:
        service.decrypt(ROOT, blob, {})
    assert code(pending) is KmsCode.INVALID_STATE
    assert store.get_material(key.key_id, 1) is not None  # still recoverable: cancel would bring it back
    clock.now += 120
    with pytest.raises(KmsError) as gone:
        service.decrypt(ROOT, blob, {})
    assert code(gone) is KmsCode.NOT_FOUND
    assert store.get_key(key.key_id) is None and store.get_material(key.key_id, 1) is None


def test_destroy_due_sweeps_every_key_past_its_date(service: KeyService, clock: Clock) -> None:
    keys = [service.create_key(ROOT) for _ in range(3)]
    service.schedule_deletion(ROOT, keys[0].key_id, 7)
    service.schedule_deletion(ROOT, keys[1].key_id, 30)
    clock.now += 8 * DAY
    assert service.destroy_due() == [keys[0].key_id]
    assert [k.key_id for k in service.list_keys(ROOT)] == sorted(k.key_id for k in keys[1:])


def test_automatic_rotation_is_due_after_its_period(service: KeyService, clock: Clock) -> None:
    key = service.create_key(ROOT)
    service.set_rotation(ROOT, key.key_id, True, 90)
    old = service.encrypt(ROOT, key.key_id, b"one", {}).blob
    clock.now += 91 * DAY
    new = service.encrypt(ROOT, key.key_id, b"two", {}).blob
    assert service.describe(ROOT, key.key_id).material_version == 2
    assert service.decrypt(ROOT, old, {}).plaintext == b"one" and service.decrypt(ROOT, new, {}).plaintext == b"two"
    _, rotations = service.rotations(ROOT, key.key_id)
    assert [(m.version, m.on_demand) for m in rotations] == [(2, False)]


def test_on_demand_rotations_are_limited(service: KeyService) -> None:
    key = service.create_key(ROOT)
    for _ in range(10):
        service.rotate_now(ROOT, key.key_id)
    with pytest.raises(KmsError) as exc:
        service.rotate_now(ROOT, key.key_id)
    assert code(exc) is KmsCode.LIMIT_EXCEEDED


def test_state_changes_reach_another_process_instance(service: KeyService, store: SqliteKmsStore,
                                                      tmp_path: Path) -> None:
    """Two KeyServices on one database (two workers): a change by one is seen by the other's next call."""
    other = KeyService(SqliteKmsStore(tmp_path / "meta.sqlite3"), service.sealer, "eu-west-1")
    key = service.create_key(ROOT)
    blob = other.encrypt(ROOT, key.key_id, b"x", {}).blob  # other has the key cached now
    service.set_enabled(ROOT, key.key_id, False)
    with pytest.raises(KmsError) as exc:
        other.decrypt(ROOT, blob, {})
    assert code(exc) is KmsCode.DISABLED


def test_default_policy_creator_and_root(service: KeyService) -> None:
    key = service.create_key(ALICE)
    service.encrypt(ALICE, key.key_id, b"x", {})
    service.set_enabled(ALICE, key.key_id, False)
    service.set_enabled(ROOT, key.key_id, True)
    with pytest.raises(KmsError) as exc:
        service.encrypt(BOB, key.key_id, b"x", {})
    assert code(exc) is KmsCode.ACCESS_DENIED
    with pytest.raises(KmsError):
        service.encrypt(Principal.anonymous(), key.key_id, b"x", {})


def test_key_policy_grants_and_denies(service: KeyService) -> None:
    acct = service.account
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/bob"}, "Action": "kms:Encrypt",
         "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:team": "blue"}}},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:username": "alice"}}}]}
    key = service.create_key(ALICE, policy=json.dumps(policy))
    service.encrypt(BOB, key.key_id, b"x", {"team": "blue"})
    with pytest.raises(KmsError):
        service.encrypt(BOB, key.key_id, b"x", {"team": "red"})
    with pytest.raises(KmsError):  # an explicit Deny beats being the creator
        service.encrypt(ALICE, key.key_id, b"x", {})
    service.encrypt(ROOT, key.key_id, b"x", {})  # root always


def test_managed_s3_key_only_through_s3(service: KeyService) -> None:
    managed = service.managed_s3_key()
    assert service.managed_s3_key().key_id == managed.key_id
    service.authorize(BOB, "kms:GenerateDataKey", managed, via_s3=True)
    with pytest.raises(KmsError):
        service.authorize(BOB, "kms:GenerateDataKey", managed)


@pytest.mark.parametrize("text", ["[]", "{}", '{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:*",'
                                  ' "Resource": "*"}]}', '{"Statement": {"Effect": "Allow", "Principal": "*",'
                                  ' "Action": "s3:GetObject", "Resource": "*"}}', "not json"])
def test_malformed_key_policies(text: str) -> None:
    with pytest.raises(KmsError) as exc:
        kpol.parse_key_policy(text)
    assert code(exc) is KmsCode.MALFORMED_POLICY


class CountingBackend(BuiltinBackend):
    """The real built-in backend, counting the key-service calls SSE-KMS makes."""

    def __init__(self, service: KeyService) -> None:
        super().__init__(service)
        self.generated = 0
        self.decrypted = 0

    def generate(self, principal: Principal, key_arn: str, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        self.generated += 1
        return super().generate(principal, key_arn, context)

    def decrypt(self, blob: bytes, context: Mapping[str, str], key_arn: str) -> bytes:
        self.decrypted += 1
        return super().decrypt(blob, context, key_arn)


def _seal(kms: KmsEncryption, bucket: Bucket, name: str, bucket_key: bool, key_id: str) -> tuple[bytes, str, bytes]:
    choice = kms.choose(bucket, "aws:kms", KmsRequest(key_id, None, bucket_key), True)
    context = envelope.object_context(bucket.name, name, b"u" * 16)
    data_key, record = kms.seal_new(ROOT, choice, bucket.name, name, context)
    return data_key, record, context


def test_bucket_keys_make_few_kms_calls(service: KeyService, store: SqliteKmsStore) -> None:
    key = service.create_key(ROOT)
    bucket = Bucket("bk", "root", 0.0, "eu-west-1")
    for bucket_key, writes_calls, reads_calls in ((False, 1000, 1000), (True, 1, 1)):
        backend = CountingBackend(service)
        kms = KmsEncryption(backend, store)
        sealed = [_seal(kms, bucket, f"o{n}", bucket_key, key.key_id) for n in range(1000)]
        assert backend.generated == writes_calls
        reader = KmsEncryption(backend, store)  # another worker, nothing opened yet
        for data_key, record, context in sealed:
            assert reader.open_record(context, record) == data_key
        assert backend.decrypted == reads_calls


def test_open_record_refuses_at_once_when_the_key_is_disabled(service: KeyService, store: SqliteKmsStore) -> None:
    key = service.create_key(ROOT)
    kms = KmsEncryption(BuiltinBackend(service), store)
    data_key, record, context = _seal(kms, Bucket("b1", "root", 0.0, "eu-west-1"), "k", False, key.key_id)
    assert kms.open_record(context, record) == data_key  # cached now
    service.set_enabled(ROOT, key.key_id, False)
    with pytest.raises(SealboxError) as exc:
        kms.open_record(context, record)
    assert exc.value.code is ErrorCode.KMS_DISABLED
    assert service.describe(ROOT, key.key_id).state is KeyState.DISABLED

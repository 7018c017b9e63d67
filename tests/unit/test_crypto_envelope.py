"""Tests of sealbox.crypto.envelope: data keys sealed under master keys, bound to objects."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from sealbox.crypto.envelope import (
    DATA_KEY_SIZE,
    SEALED_BLOB_SIZE,
    SealedKey,
    new_data_key,
    object_context,
    reseal,
    seal,
    unseal,
)
from sealbox.crypto.errors import CryptoError, IntegrityError, MissingMasterKey
from sealbox.crypto.keyring import Keyring, MasterKey, generate_master_key

UID = bytes(range(16))
CTX = object_context("bucket", "photos/cat.jpg", UID)


@pytest.fixture
def ring() -> Keyring:
    key = generate_master_key()
    return Keyring([key], key.key_id)


def test_new_data_key():
    a, b = new_data_key(), new_data_key()
    assert len(a) == DATA_KEY_SIZE == 32
    assert a != b
    assert new_data_key(lambda n: b"\x05" * n) == b"\x05" * 32
    with pytest.raises(CryptoError):
        new_data_key(lambda n: b"short")


def test_seal_unseal_round_trip(ring):
    dk = new_data_key()
    sealed = seal(dk, ring.active, CTX)
    assert sealed.key_id == ring.active.key_id
    assert len(sealed.blob) == SEALED_BLOB_SIZE == 61
    assert sealed.blob[0] == 1
    assert dk not in sealed.blob
    assert unseal(sealed, ring, CTX) == dk


def test_blob_layout_matches_spec(ring):
    dk = bytes(range(32))
    nonce = b"N" * 12
    sealed = seal(dk, ring.active, CTX, rng=lambda n: nonce[:n])
    key_id = ring.active.key_id.encode()
    aad = b"sealbox-datakey-v1" + struct.pack(">I", len(key_id)) + key_id + CTX
    expected = b"\x01" + nonce + AESGCM(ring.active.material).encrypt(nonce, dk, aad)
    assert sealed.blob == expected


def test_seals_are_randomized(ring):
    dk = new_data_key()
    assert seal(dk, ring.active, CTX).blob != seal(dk, ring.active, CTX).blob


def test_text_round_trip(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    text = sealed.to_text()
    assert text.startswith(f"v1:{ring.active.key_id}:")
    assert text.isascii() and "\n" not in text
    assert base64.b64decode(text.split(":")[2]) == sealed.blob
    assert SealedKey.from_text(text) == sealed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v1",
        "v1:k",
        "v2:k:" + base64.b64encode(b"\x01" * 61).decode(),
        "v1:bad id:" + base64.b64encode(b"\x01" * 61).decode(),
        "v1:k:" + base64.b64encode(b"\x01" * 60).decode(),
        "v1:k:" + base64.b64encode(b"\x02" + b"\x01" * 60).decode(),
        "v1:k:not base64!",
        "v1:k:extra:" + base64.b64encode(b"\x01" * 61).decode(),
    ],
)
def test_from_text_rejects_malformed(text):
    with pytest.raises(IntegrityError):
        SealedKey.from_text(text)


def test_sealed_key_swapped_between_objects_fails(ring):
    ctx_a = object_context("b", "a.txt", UID)
    ctx_b = object_context("b", "b.txt", UID)
    sealed_a = seal(new_data_key(), ring.active, ctx_a)
    with pytest.raises(IntegrityError):
        unseal(sealed_a, ring, ctx_b)


@pytest.mark.parametrize(
    "other",
    [
        object_context("bucket2", "photos/cat.jpg", UID),
        object_context("bucket", "photos/cat.jpeg", UID),
        object_context("bucket", "photos/cat.jpg", bytes(16)),
        b"",
        CTX + b"\x00",
        CTX[:-1],
    ],
)
def test_any_context_difference_fails(ring, other):
    sealed = seal(new_data_key(), ring.active, CTX)
    with pytest.raises(IntegrityError):
        unseal(sealed, ring, other)


def test_relabelled_key_id_fails_even_with_identical_material():
    material = b"\x42" * 32
    ring = Keyring([MasterKey("k1", material), MasterKey("k2", material)], "k1")
    sealed = seal(new_data_key(), ring.get("k1"), CTX)
    relabelled = SealedKey("k2", sealed.blob)
    with pytest.raises(IntegrityError):
        unseal(relabelled, ring, CTX)


def test_unknown_key_id_raises_missing_master_key(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    other = generate_master_key()
    with pytest.raises(MissingMasterKey) as info:
        unseal(sealed, Keyring([other], other.key_id), CTX)
    assert info.value.key_id == sealed.key_id


def test_same_id_wrong_material_fails(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    impostor = MasterKey(ring.active.key_id, bytes(32))
    with pytest.raises(IntegrityError):
        unseal(sealed, Keyring([impostor], impostor.key_id), CTX)


def test_every_blob_byte_is_authenticated(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    for i in range(len(sealed.blob)):
        blob = bytearray(sealed.blob)
        blob[i] ^= 0x01
        with pytest.raises(IntegrityError):
            unseal(SealedKey(sealed.key_id, bytes(blob)), ring, CTX)


@pytest.mark.parametrize("size", [0, 1, 60, 62])
def test_wrong_blob_size_fails(ring, size):
    with pytest.raises(IntegrityError):
        unseal(SealedKey(ring.active.key_id, b"\x01" * size), ring, CTX)


def test_seal_rejects_wrong_data_key_size(ring):
    with pytest.raises(CryptoError):
        seal(b"short", ring.active, CTX)


def test_reseal_moves_to_active_key_and_old_key_can_go(ring):
    dk = new_data_key()
    old = seal(dk, ring.active, CTX)
    rotated = ring.with_new_active()
    new = reseal(old, rotated, CTX)
    assert new.key_id == rotated.active.key_id != old.key_id
    trimmed = rotated.without(old.key_id)
    assert unseal(new, trimmed, CTX) == dk
    with pytest.raises(MissingMasterKey):
        unseal(old, trimmed, CTX)


def test_reseal_with_new_context(ring):
    dk = new_data_key()
    other = object_context("bucket", "copy.jpg", UID)
    moved = reseal(seal(dk, ring.active, CTX), ring, CTX, new_context=other)
    assert unseal(moved, ring, other) == dk
    with pytest.raises(IntegrityError):
        unseal(moved, ring, CTX)


def test_reseal_checks_the_old_context(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    with pytest.raises(IntegrityError):
        reseal(sealed, ring, object_context("x", "y", UID))


def test_object_context_layout():
    ctx = object_context("bk", "k€y", b"\xff" * 16)
    assert ctx == (
        b"sealbox-object-v1"
        + struct.pack(">I", 2)
        + b"bk"
        + struct.pack(">I", 5)
        + "k€y".encode()
        + struct.pack(">I", 16)
        + b"\xff" * 16
    )


def test_object_context_is_unambiguous_for_shifted_boundaries():
    assert object_context("ab", "c", UID) != object_context("a", "bc", UID)
    assert object_context("a", "", UID) != object_context("", "a", UID)


def test_object_context_accepts_surrogateescaped_keys():
    key = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert b"caf\xe9" in object_context("b", key, UID)


texts = st.text(max_size=12)
uids = st.binary(min_size=0, max_size=20)


@given(a=st.tuples(texts, texts, uids), b=st.tuples(texts, texts, uids))
def test_object_context_is_injective(a, b):
    if a != b:
        assert object_context(*a) != object_context(*b)
    else:
        assert object_context(*a) == object_context(*b)


def test_sealed_key_repr_has_no_blob(ring):
    sealed = seal(new_data_key(), ring.active, CTX)
    assert sealed.key_id in repr(sealed)
    assert repr(sealed.blob) not in repr(sealed)

"""sealbox.crypto.kms_format and the two-layer stream (crypto.dsse): pinned by an independent implementation
of the docstrings' byte layouts, and tamper tests over every field."""

from __future__ import annotations

import base64
import hmac
import os
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.crypto import dsse, envelope, kms_format
from sealbox.crypto import stream as aead
from sealbox.crypto.errors import CryptoError, IntegrityError


def lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def canonical(ctx: dict[str, str]) -> bytes:
    items = sorted((k.encode(), v.encode()) for k, v in ctx.items())
    return struct.pack(">I", len(items)) + b"".join(lp(k) + lp(v) for k, v in items)


def test_ciphertext_blob_layout_matches_the_spec() -> None:
    material, key_id, nonce = os.urandom(32), str(uuid.uuid4()), os.urandom(12)
    ctx = {"b": "2", "a": "1"}
    blob = kms_format.seal_blob(material, key_id, 7, b"plain text", ctx, rng=lambda n: nonce)
    header = b"SBKC" + b"\x01" + uuid.UUID(key_id).bytes + struct.pack(">I", 7) + nonce
    assert blob[:37] == header
    expected = AESGCM(material).encrypt(nonce, b"plain text", b"sealbox-kms-ciphertext-v1" + header + canonical(ctx))
    assert blob[37:] == expected
    assert kms_format.parse_blob_header(blob) == kms_format.BlobHeader(key_id, 7)
    assert kms_format.open_blob(material, blob, {"a": "1", "b": "2"}) == b"plain text"  # order does not matter


def test_ciphertext_blob_tampering_fails() -> None:
    material, key_id = os.urandom(32), str(uuid.uuid4())
    blob = kms_format.seal_blob(material, key_id, 1, b"x" * 32, {"k": "v"})
    for at in range(len(blob)):
        bad = bytearray(blob)
        bad[at] ^= 1
        with pytest.raises(IntegrityError):
            kms_format.open_blob(material, bytes(bad), {"k": "v"})
    with pytest.raises(IntegrityError):
        kms_format.open_blob(material, blob, {"k": "w"})
    with pytest.raises(IntegrityError):
        kms_format.open_blob(material, blob, {})
    with pytest.raises(IntegrityError):
        kms_format.open_blob(os.urandom(32), blob, {"k": "v"})


def test_canonical_context_is_injective() -> None:
    assert kms_format.canonical_context({"ab": "c"}) != kms_format.canonical_context({"a": "bc"})
    assert kms_format.canonical_context({}) == b"\0\0\0\0"


def test_material_context_spec() -> None:
    assert kms_format.material_context("k1", 3) == b"sealbox-kms-material-v1" + lp(b"k1") + b"\0\0\0\3"


def _record(mode: int, layers: int = 1) -> tuple[kms_format.KmsRecord, list[bytes], list[bytes], bytes]:
    obj = envelope.object_context("bucket", "key", b"u" * 16)
    keks, dks = [os.urandom(32) for _ in range(layers)], [os.urandom(32) for _ in range(layers)]
    seals = tuple(kms_format.seal_layer(keks[i], dks[i], mode=mode, layer=i, object_context=obj, key_arn="arn:k",
                                        context='{"a":"b"}', wrap=b"wrap%d" % i) for i in range(layers))
    return kms_format.KmsRecord(mode, "arn:k", '{"a":"b"}', seals), keks, dks, obj


def test_key_record_layout_matches_the_spec() -> None:
    record, keks, dks, obj = _record(kms_format.MODE_DSSE, 2)
    raw = base64.b64decode(record.to_text()[len("kms1:"):])
    expected = b"\x01\x03" + lp(b"arn:k") + lp(b'{"a":"b"}') + b"\x02"
    for i, layer in enumerate(record.layers):
        expected += lp(b"wrap%d" % i) + layer.nonce + layer.sealed_key
        aad = b"sealbox-kms-datakey-v1" + bytes((3, i)) + lp(obj) + lp(b"arn:k") + lp(b'{"a":"b"}')
        assert AESGCM(keks[i]).decrypt(layer.nonce, layer.sealed_key, aad) == dks[i]
    assert raw == expected
    parsed = kms_format.KmsRecord.from_text(record.to_text())
    assert parsed == record and parsed.dsse and not parsed.bucket_key
    assert [kms_format.open_layer(keks[i], parsed, i, obj) for i in (0, 1)] == dks


def test_key_record_is_bound_to_object_mode_arn_and_context() -> None:
    record, keks, _, obj = _record(kms_format.MODE_KMS)
    other_obj = envelope.object_context("bucket", "key", b"v" * 16)
    with pytest.raises(IntegrityError):
        kms_format.open_layer(keks[0], record, 0, other_obj)
    for changed in (kms_format.KmsRecord(kms_format.MODE_BUCKET_KEY, record.key_arn, record.context, record.layers),
                    kms_format.KmsRecord(record.mode, "arn:other", record.context, record.layers),
                    kms_format.KmsRecord(record.mode, record.key_arn, '{"a":"c"}', record.layers)):
        with pytest.raises(IntegrityError):
            kms_format.open_layer(keks[0], changed, 0, obj)


@pytest.mark.parametrize("text", ["kms1:!!!", "kms1:" + base64.b64encode(b"\x02\x01").decode(), "v1:x:y",
                                  "kms1:" + base64.b64encode(b"\x01\x03" + lp(b"a") + lp(b"") + b"\x01").decode()])
def test_malformed_records_are_integrity_errors(text: str) -> None:
    with pytest.raises(IntegrityError):
        kms_format.KmsRecord.from_text(text)


def test_kms_etag_spec() -> None:
    dk, md5 = os.urandom(32), os.urandom(16)
    assert kms_format.kms_etag(dk, md5) == hmac.digest(dk, b"sealbox-kms-etag-v1" + md5, "sha256")[:16].hex()


# -- the two-layer stream (DSSE) ---------------------------------------------------------------------------


def reference_two_layer(key: bytes, plaintext: bytes, uid: bytes, index: int, salt: bytes, seg: int) -> bytes:
    """An independent implementation of crypto/dsse.py's docstring."""
    header = b"SBX\x02" + struct.pack(">I", seg) + uid + struct.pack(">I", index) + salt
    outer = AESGCM(hmac.digest(key[:32], b"sealbox-extent-v1" + salt, "sha256"))
    inner = AESGCM(hmac.digest(key[32:], b"sealbox-dsse-inner-v1" + salt, "sha256"))
    pieces = [plaintext[i:i + seg] for i in range(0, len(plaintext), seg)] or [b""]
    out = [header]
    for i, piece in enumerate(pieces):
        nonce = struct.pack(">QI", i, 0)
        aad = header + struct.pack(">QB", i, i == len(pieces) - 1)
        out.append(outer.encrypt(nonce, inner.encrypt(nonce, piece, aad + b"sealbox-dsse-inner-v1"), aad))
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, 1000, 4096, 4097, 20000])
def test_two_layer_extent_matches_the_reference(size: int) -> None:
    key, uid, salt, plain = os.urandom(64), os.urandom(16), os.urandom(16), os.urandom(size)
    blob = aead.encrypt_extent(key, plain, uid, 5, segment_size=4096, rng=lambda n: salt)
    assert blob == reference_two_layer(key, plain, uid, 5, salt, 4096)
    assert len(blob) == aead.ciphertext_size(size, 4096, layers=2)
    assert bytes(aead.decrypt_extent(key, blob, object_uid=uid, extent_index=5, plain_size=size)) == plain


def test_two_layer_tamper_and_downgrade() -> None:
    key, uid, plain = os.urandom(64), os.urandom(16), os.urandom(9000)
    blob = aead.encrypt_extent(key, plain, uid, 0, segment_size=4096)
    for at in (3, 50, 44 + 4096 + 16, len(blob) - 1):
        bad = bytearray(blob)
        bad[at] ^= 1
        with pytest.raises(IntegrityError):
            aead.decrypt_extent(key, bytes(bad), object_uid=uid, extent_index=0, plain_size=9000)
    # re-sealing the segments under the outer key alone (one layer) is refused by a two-layer reader
    one_layer = aead.encrypt_extent(key[:32], plain, uid, 0, segment_size=4096)
    with pytest.raises(IntegrityError):
        aead.decrypt_extent(key, one_layer, object_uid=uid, extent_index=0, plain_size=9000)
    with pytest.raises(IntegrityError):
        aead.decrypt_extent(key[:32], blob, object_uid=uid, extent_index=0, plain_size=9000)
    # the inner layer is checked too: a segment whose outer layer holds a forged inner layer fails
    header = blob[:44]
    outer = AESGCM(hmac.digest(key[:32], b"sealbox-extent-v1" + header[28:44], "sha256"))
    nonce, aad = struct.pack(">QI", 0, 0), header + struct.pack(">QB", 0, 0)
    forged = outer.encrypt(nonce, os.urandom(4096 + 16), aad)
    with pytest.raises(IntegrityError, match="second layer"):
        aead.decrypt_extent(key, header + forged + blob[44 + 4096 + 32:], object_uid=uid, extent_index=0,
                            plain_size=9000)


def test_two_layer_ranges() -> None:
    key, uid, plain = os.urandom(64), os.urandom(16), os.urandom(50_000)
    blob = aead.encrypt_extent(key, plain, uid, 1, segment_size=4096)
    dec = aead.ExtentDecryptor(key, blob[:44], object_uid=uid, extent_index=1, plain_size=len(plain))
    assert dec.layers == 2 and dec.tag_bytes == 32
    for start, end in ((0, 0), (4095, 4096), (10_000, 49_999), (49_999, 49_999)):
        plan = dec.plan_range(start, end)
        out = bytes(dec.decrypt_run(plan.first_segment, blob[plan.cipher_offset:plan.end_offset]))
        assert out[plan.skip:plan.skip + plan.length] == plain[start:end + 1]


def test_data_keys_of_other_sizes_are_refused() -> None:
    with pytest.raises(CryptoError):
        aead.ExtentEncryptor(os.urandom(48), os.urandom(16), 0)
    assert dsse.LAYERED_KEY_SIZE == 64

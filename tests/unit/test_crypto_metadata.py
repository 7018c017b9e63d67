"""Tests of sealbox.crypto.metadata: the sealed ETag, checksums and metadata of an SSE object's rows.

An independent re-implementation of the docstring's byte layout pins the format; every splice of a
blob onto another identity (bucket, key, uid, kind, part number) and every tamper fails to open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from sealbox.core.types import ObjectMetadata
from sealbox.crypto.envelope import object_context
from sealbox.crypto.errors import CryptoError, IntegrityError
from sealbox.crypto.metadata import MIN_BLOB_SIZE, PAD, MetaKind, aad, metadata_key, open_metadata, seal_metadata

DATA_KEY = bytes(range(32))
UID = bytes(range(100, 116))
CTX = object_context("bkt", "photos/cat.jpg", UID)
FIELDS = ObjectMetadata(etag="9e107d9d372bb6826bd81d3542a419d6",
                        checksums={"CRC32": "AAAAAA==", "SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
                        user_meta={"owner": "alice", "project": "x\u00e9"},
                        content_headers={"content-type": "image/jpeg", "content-disposition": "inline"})


def test_round_trip_each_kind() -> None:
    for kind, number in ((MetaKind.VERSION, 0), (MetaKind.UPLOAD, 0), (MetaKind.PART, 7)):
        ad = aad(kind, number, CTX)
        blob = seal_metadata(DATA_KEY, FIELDS, ad)
        assert blob[0] == 1 and (len(blob) - MIN_BLOB_SIZE) % PAD == 0
        assert open_metadata(DATA_KEY, blob, ad) == FIELDS
    empty = aad(MetaKind.UPLOAD, 0, CTX)
    assert open_metadata(DATA_KEY, seal_metadata(DATA_KEY, ObjectMetadata(), empty), empty) == ObjectMetadata()


def test_layout_matches_the_spec() -> None:
    """An independent implementation of the docstring: key, AAD, plaintext and blob layout."""
    nonce = b"N" * 12
    blob = seal_metadata(DATA_KEY, FIELDS, aad(MetaKind.PART, 3, CTX), rng=lambda n: nonce[:n])
    key = hmac.new(DATA_KEY, b"sealbox-metadata-v1", hashlib.sha256).digest()
    assert metadata_key(DATA_KEY) == key
    ad = b"sealbox-metadata-v1" + bytes([3]) + struct.pack(">I", 3) + CTX
    assert aad(MetaKind.PART, 3, CTX) == ad
    text = json.dumps({"c": FIELDS.checksums, "e": FIELDS.etag, "h": FIELDS.content_headers, "m": FIELDS.user_meta},
                      separators=(",", ":"), ensure_ascii=True).encode("ascii")
    assert b"x\\u00e9" in text  # non-ASCII as escapes
    padded = text + b" " * (-len(text) % 32)
    assert blob == b"\x01" + nonce + AESGCM(key).encrypt(nonce, padded, ad)
    # Empty members are omitted; only the etag of a part without checksums remains.
    part = seal_metadata(DATA_KEY, ObjectMetadata(etag="abc"), ad, rng=lambda n: nonce[:n])
    assert AESGCM(key).decrypt(nonce, part[13:], ad) == b'{"e":"abc"}' + b" " * 21


def test_no_value_in_the_clear() -> None:
    blob = seal_metadata(DATA_KEY, FIELDS, aad(MetaKind.VERSION, 0, CTX))
    for value in (FIELDS.etag, "alice", "image/jpeg", "AAAAAA=="):
        assert value.encode() not in blob
    assert bytes.fromhex(FIELDS.etag) not in blob


@pytest.mark.parametrize("other", [
    aad(MetaKind.VERSION, 0, object_context("bkt2", "photos/cat.jpg", UID)),  # another bucket
    aad(MetaKind.VERSION, 0, object_context("bkt", "photos/dog.jpg", UID)),  # another key
    aad(MetaKind.VERSION, 0, object_context("bkt", "photos/cat.jpg", os.urandom(16))),  # another version
    aad(MetaKind.UPLOAD, 0, CTX),  # the upload's row, not the version's
    aad(MetaKind.PART, 1, CTX),  # a part's row
])
def test_blob_bound_to_its_row(other: bytes) -> None:
    blob = seal_metadata(DATA_KEY, FIELDS, aad(MetaKind.VERSION, 0, CTX))
    with pytest.raises(IntegrityError):
        open_metadata(DATA_KEY, blob, other)


def test_parts_of_one_upload_cannot_be_swapped() -> None:
    blob = seal_metadata(DATA_KEY, ObjectMetadata(etag="e1"), aad(MetaKind.PART, 1, CTX))
    with pytest.raises(IntegrityError):
        open_metadata(DATA_KEY, blob, aad(MetaKind.PART, 2, CTX))


def test_other_data_key_fails() -> None:
    ad = aad(MetaKind.VERSION, 0, CTX)
    blob = seal_metadata(DATA_KEY, FIELDS, ad)
    with pytest.raises(IntegrityError):
        open_metadata(os.urandom(32), blob, ad)


def test_every_flipped_byte_and_truncation_fails() -> None:
    ad = aad(MetaKind.VERSION, 0, CTX)
    blob = seal_metadata(DATA_KEY, ObjectMetadata(etag="x"), ad)
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(IntegrityError):
            open_metadata(DATA_KEY, bytes(tampered), ad)
    for cut in (0, 1, 13, len(blob) - 1, len(blob) - PAD):
        with pytest.raises(IntegrityError):
            open_metadata(DATA_KEY, blob[:cut], ad)
    with pytest.raises(IntegrityError):
        open_metadata(DATA_KEY, blob + b"\0" * PAD, ad)


def test_unknown_version_refused() -> None:
    ad = aad(MetaKind.VERSION, 0, CTX)
    blob = seal_metadata(DATA_KEY, FIELDS, ad)
    with pytest.raises(IntegrityError, match="version"):
        open_metadata(DATA_KEY, b"\x02" + blob[1:], ad)


def test_authenticated_but_malformed_plaintext_refused() -> None:
    """A blob made with the right key around a non-conforming plaintext is still not trusted."""
    ad = aad(MetaKind.VERSION, 0, CTX)
    key = metadata_key(DATA_KEY)
    for plaintext in (b"[]" + b" " * 30, b'{"e":1}' + b" " * 25, b'{"z":"a"}' + b" " * 23,
                      b'{"c":{"a":2}}' + b" " * 19, b"\xff" * 32, b'{"m":[]}' + b" " * 24, b"{" + b" " * 31):
        blob = b"\x01" + b"n" * 12 + AESGCM(key).encrypt(b"n" * 12, plaintext, ad)
        with pytest.raises(IntegrityError):
            open_metadata(DATA_KEY, blob, ad)


def test_part_number_only_for_parts_and_short_random_refused() -> None:
    with pytest.raises(CryptoError):
        aad(MetaKind.VERSION, 1, CTX)
    with pytest.raises(CryptoError):
        seal_metadata(DATA_KEY, FIELDS, aad(MetaKind.VERSION, 0, CTX), rng=lambda n: b"short")


def test_nonces_are_fresh() -> None:
    ad = aad(MetaKind.VERSION, 0, CTX)
    assert seal_metadata(DATA_KEY, FIELDS, ad) != seal_metadata(DATA_KEY, FIELDS, ad)


_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)


@given(etag=_text, meta=st.dictionaries(_text, _text, max_size=4), headers=st.dictionaries(_text, _text, max_size=3),
       sums=st.dictionaries(st.sampled_from(["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]), _text, max_size=5))
def test_any_metadata_round_trips(etag: str, meta: dict[str, str], headers: dict[str, str],
                                  sums: dict[str, str]) -> None:
    fields = ObjectMetadata(etag, sums, meta, headers)
    ad = aad(MetaKind.VERSION, 0, CTX)
    assert open_metadata(DATA_KEY, seal_metadata(DATA_KEY, fields, ad), ad) == fields


def test_lone_surrogates_round_trip() -> None:
    fields = ObjectMetadata(user_meta={"k": "caf\udce9"})  # a header value decoded with surrogateescape
    ad = aad(MetaKind.VERSION, 0, CTX)
    assert open_metadata(DATA_KEY, seal_metadata(DATA_KEY, fields, ad), ad) == fields


def test_tags_and_part_checksums_are_sealed_in_their_order() -> None:
    """Schema 7 (issue 16): members "p" (part checksums) and "t" (the tag set, in its order), laid out as the
    docstring says; a blob without them (written before) reads as having none."""
    fields = ObjectMetadata(etag="e", tags={"zeta": "1", "alpha": "Ω"}, part_checksums=("c1==", "c2=="))
    nonce = b"N" * 12
    ad = aad(MetaKind.VERSION, 0, CTX)
    blob = seal_metadata(DATA_KEY, fields, ad, rng=lambda n: nonce[:n])
    text = b'{"e":"e","p":["c1==","c2=="],"t":{"zeta":"1","alpha":"\\u03a9"}}'
    key = metadata_key(DATA_KEY)
    assert blob == b"\x01" + nonce + AESGCM(key).encrypt(nonce, text + b" " * (-len(text) % 32), ad)
    opened = open_metadata(DATA_KEY, blob, ad)
    assert opened == fields and list(opened.tags) == ["zeta", "alpha"]
    assert open_metadata(DATA_KEY, seal_metadata(DATA_KEY, FIELDS, ad), ad).tags == {}
    for plaintext in (b'{"p":"c1"}', b'{"p":[1]}', b'{"t":["a"]}', b'{"t":{"a":1}}'):
        padded = plaintext + b" " * (-len(plaintext) % 32)
        bad = b"\x01" + nonce + AESGCM(key).encrypt(nonce, padded, ad)
        with pytest.raises(IntegrityError):
            open_metadata(DATA_KEY, bad, ad)

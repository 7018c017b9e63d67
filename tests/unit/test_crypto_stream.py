"""Tests of sealbox.crypto.stream: the segmented AEAD extent format."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealbox.crypto.errors import CryptoError, IntegrityError
from sealbox.crypto.stream import (
    HEADER_SIZE,
    MAX_SEGMENT_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    ExtentDecryptor,
    ExtentEncryptor,
    RangePlan,
    ciphertext_size,
    decrypt_extent,
    encrypt_extent,
    plan_range,
    segment_count,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
UID = b"U" * 16
OTHER_UID = b"V" * 16


def patterned(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def fixed_rng(fill: int):
    return lambda n: bytes([fill]) * n


def sealed_segments(blob: bytes, seg: int) -> list[bytes]:
    """Split an extent body into its sealed segments (all full except the last)."""
    body = blob[HEADER_SIZE:]
    step = seg + TAG_SIZE
    return [body[i : i + step] for i in range(0, len(body), step)] or [b""]


def decrypt(blob: bytes, plain_size: int, *, uid: bytes = UID, extent: int = 3, key: bytes = KEY) -> bytes:
    return bytes(decrypt_extent(key, blob, object_uid=uid, extent_index=extent, plain_size=plain_size))


def sizes_for(seg: int) -> list[int]:
    return [0, 1, seg - 1, seg, seg + 1, 2 * seg, 7 * seg + 3, 8 * seg]


# ------------------------------------------------------------------------------ layout


def test_constants():
    assert HEADER_SIZE == 44
    assert TAG_SIZE == 16
    assert SEGMENT_SIZE == 65536


def test_header_layout():
    enc = ExtentEncryptor(KEY, UID, 0x01020304, segment_size=64, rng=fixed_rng(0xAB))
    header = enc.header()
    assert header == b"SBX" + b"\x01" + struct.pack(">I", 64) + UID + b"\x01\x02\x03\x04" + b"\xab" * 16
    assert len(header) == HEADER_SIZE


@pytest.mark.parametrize("seg", [16, 64])
def test_format_matches_spec_byte_for_byte(seg):
    """An independent re-implementation of the documented format yields identical bytes."""
    salt = b"\x5a" * 16
    for size in sizes_for(seg):
        plain = patterned(size, size)
        blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg, rng=lambda n: salt[:n])
        header = b"SBX\x01" + struct.pack(">I", seg) + UID + struct.pack(">I", 3) + salt
        subkey = hmac.new(KEY, b"sealbox-extent-v1" + salt, hashlib.sha256).digest()
        aead = AESGCM(subkey)
        chunks = [plain[i : i + seg] for i in range(0, len(plain), seg)] or [b""]
        body = b"".join(
            aead.encrypt(
                struct.pack(">QI", i, 0), c, header + struct.pack(">QB", i, int(i == len(chunks) - 1))
            )
            for i, c in enumerate(chunks)
        )
        assert blob == header + body
        assert len(blob) == ciphertext_size(size, seg)


def test_segment_count_and_ciphertext_size():
    assert segment_count(0, 16) == 1
    assert segment_count(1, 16) == 1
    assert segment_count(16, 16) == 1
    assert segment_count(17, 16) == 2
    assert ciphertext_size(0, 16) == HEADER_SIZE + TAG_SIZE
    assert ciphertext_size(33, 16) == HEADER_SIZE + 33 + 3 * TAG_SIZE
    assert ciphertext_size(10 * SEGMENT_SIZE) == HEADER_SIZE + 10 * SEGMENT_SIZE + 10 * TAG_SIZE


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("seg", [1, 16, 64])
def test_round_trip_edge_sizes(seg):
    for size in sizes_for(seg) if seg > 1 else [0, 1, 2, 9]:
        plain = patterned(size, seg)
        blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
        assert len(blob) == ciphertext_size(size, seg)
        assert decrypt(blob, size) == plain


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE + 5]
)
def test_round_trip_default_segment_size(size):
    plain = patterned(size)
    blob = encrypt_extent(KEY, plain, UID, 3)
    assert len(blob) == ciphertext_size(size)
    assert decrypt(blob, size) == plain


def test_empty_extent_is_one_empty_final_segment():
    blob = encrypt_extent(KEY, b"", UID, 3, segment_size=16)
    assert len(blob) == HEADER_SIZE + TAG_SIZE
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=0)
    assert dec.segment_count == 1
    assert dec.decrypt_segment(0, blob[HEADER_SIZE:]) == b""


def test_update_holds_back_a_full_segment_until_finalize():
    enc = ExtentEncryptor(KEY, UID, 3, segment_size=16)
    parts = [enc.update(b"x" * 16), enc.update(b"y" * 16), enc.update(b"z"), enc.finalize()]
    # A full segment is only emitted once more data proves it is not the final one.
    assert [len(p) for p in parts] == [0, 16 + TAG_SIZE, 16 + TAG_SIZE, 1 + TAG_SIZE]
    assert enc.plain_size == 33
    assert decrypt(enc.header() + b"".join(parts), 33) == b"x" * 16 + b"y" * 16 + b"z"


def test_exact_multiple_final_segment_is_full():
    enc = ExtentEncryptor(KEY, UID, 3, segment_size=16)
    emitted = enc.update(b"a" * 64)
    assert len(emitted) == 3 * (16 + TAG_SIZE)  # the 4th could be final: held back
    last = enc.finalize()
    assert len(last) == 16 + TAG_SIZE
    blob = enc.header() + emitted + last
    assert decrypt(blob, 64) == b"a" * 64


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seg=st.integers(min_value=1, max_value=80),
    size=st.integers(min_value=0, max_value=1200),
    data=st.data(),
)
def test_random_update_splits_give_identical_ciphertext(seg, size, data):
    plain = patterned(size, size + seg)
    reference = encrypt_extent(KEY, plain, UID, 3, segment_size=seg, rng=fixed_rng(7))
    cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=12)))
    enc = ExtentEncryptor(KEY, UID, 3, segment_size=seg, rng=fixed_rng(7))
    pieces = [enc.header()]
    prev = 0
    kinds = [bytes, bytearray, memoryview]
    for n, cut in enumerate([*cuts, size]):
        chunk = plain[prev:cut]
        pieces.append(enc.update(kinds[n % 3](chunk)))
        prev = cut
    pieces.append(enc.finalize())
    blob = b"".join(pieces)
    assert blob == reference
    assert decrypt(blob, size) == plain


@settings(max_examples=100, deadline=None)
@given(seg=st.integers(min_value=1, max_value=100), size=st.integers(min_value=0, max_value=2000))
def test_round_trip_random_sizes(seg, size):
    plain = os.urandom(size)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    assert len(blob) == ciphertext_size(size, seg)
    assert decrypt(blob, size) == plain


def test_large_updates_many_segments():
    plain = os.urandom(5 * 1024 * 1024 + 123)
    enc = ExtentEncryptor(KEY, UID, 3)
    parts = [enc.header()]
    mv = memoryview(plain)
    for i in range(0, len(plain), 1 << 20):
        parts.append(enc.update(mv[i : i + (1 << 20)]))
    parts.append(enc.finalize())
    blob = b"".join(parts)
    assert blob[HEADER_SIZE:] != plain
    assert decrypt(blob, len(plain)) == plain


def test_huge_single_update_is_not_kept_as_scratch():
    plain = os.urandom(9 * 1024 * 1024)
    blob = encrypt_extent(KEY, plain, UID, 3)
    assert decrypt(blob, len(plain)) == plain


def test_non_byte_buffers_are_accepted():
    import array

    arr = array.array("I", range(100))
    plain = arr.tobytes()
    blob = encrypt_extent(KEY, memoryview(arr), UID, 3, segment_size=64)
    assert decrypt(blob, len(plain)) == plain


def test_same_key_extents_never_share_subkeys():
    plain = b"same plaintext" * 10
    a = encrypt_extent(KEY, plain, UID, 3, segment_size=16)
    b = encrypt_extent(KEY, plain, UID, 3, segment_size=16)
    assert a[:28] == b[:28]  # same magic/version/segment size/uid/extent
    assert a[28:HEADER_SIZE] != b[28:HEADER_SIZE]  # random salt
    assert a[HEADER_SIZE:] != b[HEADER_SIZE:]


def test_decrypt_segment_each_index():
    seg = 16
    plain = patterned(5 * seg + 7)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    assert dec.segment_size == seg
    assert dec.segment_count == 6
    assert dec.ciphertext_size == len(blob)
    for i, sealed in enumerate(sealed_segments(blob, seg)):
        assert dec.decrypt_segment(i, sealed) == plain[i * seg : (i + 1) * seg]
        assert dec.decrypt_run(i, memoryview(sealed)) == plain[i * seg : (i + 1) * seg]


def test_decryptor_is_reusable_across_runs():
    seg = 16
    plain = patterned(40 * seg + 3)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    step = 3 * (seg + TAG_SIZE)
    body = memoryview(blob)[HEADER_SIZE:]
    out = [dec.decrypt_run(j // (seg + TAG_SIZE), body[j : j + step]) for j in range(0, len(body), step)]
    assert b"".join(out) == plain


def test_decrypt_run_into_a_given_buffer():
    seg = 16
    plain = patterned(7 * seg + 5)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    body = blob[HEADER_SIZE:]
    assert dec.plain_length(len(body)) == len(plain)
    exact = bytearray(b"\xee" * len(plain))
    assert dec.decrypt_run(0, body, exact) is exact and exact == plain
    larger = bytearray(b"\xee" * (len(plain) + 9))
    view = dec.decrypt_run(0, body, larger)
    assert isinstance(view, memoryview) and view == plain and larger[len(plain):] == b"\xee" * 9
    # one segment (the path that otherwise returns AES-GCM's own output) also fills the buffer
    one = bytearray(seg + 4)
    assert dec.decrypt_run(2, body[2 * (seg + TAG_SIZE): 3 * (seg + TAG_SIZE)], one) == plain[2 * seg: 3 * seg]
    with pytest.raises(ValueError, match="output buffer"):
        dec.decrypt_run(0, body, bytearray(len(plain) - 1))


def test_decrypt_run_into_a_buffer_still_rejects_tampering():
    seg = 16
    plain = patterned(4 * seg)
    blob = bytearray(encrypt_extent(KEY, plain, UID, 3, segment_size=seg))
    blob[HEADER_SIZE + 2 * (seg + TAG_SIZE) + 1] ^= 1
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    with pytest.raises(IntegrityError, match="segment 2"):
        dec.decrypt_run(0, blob[HEADER_SIZE:], bytearray(len(plain)))


# ------------------------------------------------------------------------------ ranges


def read_range(blob: bytes, plain_size: int, start: int, end: int, seg: int) -> bytes:
    plan = plan_range(plain_size, start, end, seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=plain_size)
    chunk = blob[plan.cipher_offset : plan.end_offset]
    assert len(chunk) == plan.cipher_length
    plain = dec.decrypt_run(plan.first_segment, chunk)
    return bytes(plain[plan.skip : plan.skip + plan.length])


def test_plan_range_examples():
    # 100 bytes, 16-byte segments: 7 segments, last has 4 bytes.
    assert plan_range(100, 0, 99, 16) == RangePlan(HEADER_SIZE, 100 + 7 * TAG_SIZE, 0, 0, 100)
    assert plan_range(100, 17, 17, 16) == RangePlan(HEADER_SIZE + 32, 32, 1, 1, 1)
    assert plan_range(100, 15, 16, 16) == RangePlan(HEADER_SIZE, 64, 0, 15, 2)
    assert plan_range(100, 99, 99, 16) == RangePlan(HEADER_SIZE + 6 * 32, 4 + TAG_SIZE, 6, 3, 1)
    assert plan_range(96, 80, 95, 16) == RangePlan(HEADER_SIZE + 5 * 32, 32, 5, 0, 16)


@pytest.mark.parametrize(("size", "start", "end"), [(0, 0, 0), (10, 5, 4), (10, 0, 10), (10, -1, 3)])
def test_plan_range_rejects_invalid(size, start, end):
    with pytest.raises(ValueError):
        plan_range(size, start, end, 16)


@settings(max_examples=200, deadline=None)
@given(
    seg=st.integers(min_value=1, max_value=70),
    size=st.integers(min_value=1, max_value=1500),
    data=st.data(),
)
def test_random_ranges_match_slicing(seg, size, data):
    plain = patterned(size, seg * 7919 + size)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size - 1))
    assert read_range(blob, size, start, end, seg) == plain[start : end + 1]
    plan = plan_range(size, start, end, seg)
    assert plan.cipher_offset >= HEADER_SIZE
    assert plan.end_offset <= len(blob)


def test_every_range_of_small_extent():
    seg = 8
    for size in (1, 7, 8, 9, 17, 24):
        plain = patterned(size, size)
        blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
        for start in range(size):
            for end in range(start, size):
                assert read_range(blob, size, start, end, seg) == plain[start : end + 1]


# ------------------------------------------------------------------------------ tampering


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 50])
def test_flip_any_byte_anywhere_fails(size):
    seg = 16
    plain = patterned(size, 99)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            bad = bytearray(blob)
            bad[i] ^= bit
            with pytest.raises(IntegrityError):
                decrypt(bytes(bad), size)


def test_flip_in_tag_fails_for_decrypt_segment():
    seg = 16
    blob = encrypt_extent(KEY, patterned(40), UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=40)
    segs = sealed_segments(blob, seg)
    for i, sealed in enumerate(segs):
        bad = bytearray(sealed)
        bad[-1] ^= 1
        with pytest.raises(IntegrityError):
            dec.decrypt_segment(i, bytes(bad))


def test_swap_two_segments_fails():
    seg = 16
    plain = patterned(5 * seg)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    segs = sealed_segments(blob, seg)
    segs[1], segs[2] = segs[2], segs[1]
    with pytest.raises(IntegrityError):
        decrypt(blob[:HEADER_SIZE] + b"".join(segs), len(plain))
    # also caught segment by segment
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(1, segs[1])


def test_swap_equal_plaintext_segments_still_fails():
    seg = 16
    plain = b"A" * (4 * seg)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    segs = sealed_segments(blob, seg)
    segs[0], segs[1] = segs[1], segs[0]
    with pytest.raises(IntegrityError):
        decrypt(blob[:HEADER_SIZE] + b"".join(segs), len(plain))


@pytest.mark.parametrize("size", [33, 48])  # short last segment, full last segment
def test_drop_last_segment_fails(size):
    seg = 16
    plain = patterned(size)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    segs = sealed_segments(blob, seg)
    truncated = blob[:HEADER_SIZE] + b"".join(segs[:-1])
    # With the trusted size from metadata: the file is too short.
    with pytest.raises(IntegrityError):
        decrypt(truncated, size)
    # Even if the caller believed the shorter size, the last present segment is not final.
    with pytest.raises(IntegrityError):
        decrypt(truncated, (len(segs) - 1) * seg)
    # And a run that stops early at a non-final segment cannot be passed off as the end.
    dec = ExtentDecryptor(
        KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=(len(segs) - 1) * seg
    )
    with pytest.raises(IntegrityError):
        dec.decrypt_run(len(segs) - 2, segs[-2])


def test_truncated_within_a_segment_fails():
    seg = 16
    plain = patterned(50)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=50)
    for cut in range(1, len(blob) - HEADER_SIZE):
        if cut % (seg + TAG_SIZE) == 0:
            continue  # a whole-segment prefix is a valid run (caller checks read length)
        with pytest.raises(IntegrityError):
            dec.decrypt_run(0, blob[HEADER_SIZE : HEADER_SIZE + cut])
        with pytest.raises(IntegrityError):
            decrypt(blob[: HEADER_SIZE + cut], 50)
    with pytest.raises(IntegrityError):
        dec.decrypt_run(0, b"")


def test_append_segment_fails():
    seg = 16
    plain = patterned(3 * seg)
    blob = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    segs = sealed_segments(blob, seg)
    extended = blob + segs[0]
    with pytest.raises(IntegrityError):
        decrypt(extended, len(plain))
    with pytest.raises(IntegrityError):
        decrypt(extended, len(plain) + seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=len(plain))
    with pytest.raises(IntegrityError):
        dec.decrypt_run(0, extended[HEADER_SIZE:])
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(3, segs[0])
    with pytest.raises(IntegrityError):
        dec.decrypt_run(2, segs[2] + b"\x00")


def test_extension_by_longer_extent_under_same_key_fails():
    seg = 16
    short = patterned(2 * seg + 5)
    longer = short + patterned(seg, 5)
    blob_long = encrypt_extent(KEY, longer, UID, 3, segment_size=seg)
    # Claim the shorter size: segment 2 of the long extent is not final.
    dec = ExtentDecryptor(KEY, blob_long[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=3 * seg)
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(2, sealed_segments(blob_long, seg)[2])


def test_splice_segment_from_another_extent_of_same_key_fails():
    seg = 16
    plain = patterned(4 * seg)
    a = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    b = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)  # re-uploaded part: same key, uid, index
    c = encrypt_extent(KEY, plain, UID, 4, segment_size=seg)  # another part of the same object
    for other in (b, c):
        segs = sealed_segments(a, seg)
        segs[1] = sealed_segments(other, seg)[1]
        with pytest.raises(IntegrityError):
            decrypt(a[:HEADER_SIZE] + b"".join(segs), len(plain))
    # Header of one extent with the body of another.
    with pytest.raises(IntegrityError):
        decrypt(b[:HEADER_SIZE] + a[HEADER_SIZE:], len(plain))


def test_splice_between_objects_fails():
    seg = 16
    plain = patterned(3 * seg)
    a = encrypt_extent(KEY, plain, UID, 3, segment_size=seg)
    other = encrypt_extent(KEY, plain, OTHER_UID, 3, segment_size=seg)
    with pytest.raises(IntegrityError):
        decrypt(a[:HEADER_SIZE] + other[HEADER_SIZE:], len(plain))


def test_wrong_uid_or_extent_index_fails():
    blob = encrypt_extent(KEY, b"hello", UID, 3, segment_size=16)
    with pytest.raises(IntegrityError):
        decrypt(blob, 5, uid=OTHER_UID)
    with pytest.raises(IntegrityError):
        decrypt(blob, 5, extent=4)
    header = blob[:HEADER_SIZE]
    with pytest.raises(IntegrityError):
        ExtentDecryptor(KEY, header, object_uid=OTHER_UID, extent_index=3, plain_size=5)
    with pytest.raises(IntegrityError):
        ExtentDecryptor(KEY, header, object_uid=UID, extent_index=0, plain_size=5)


def test_forged_header_with_other_uid_fails_authentication():
    blob = encrypt_extent(KEY, b"hello world", UID, 3, segment_size=16)
    forged = blob[:8] + OTHER_UID + blob[24:]
    with pytest.raises(IntegrityError):
        decrypt(forged, 11, uid=OTHER_UID)


def test_wrong_data_key_fails():
    blob = encrypt_extent(KEY, b"secret data", UID, 3, segment_size=16)
    with pytest.raises(IntegrityError):
        decrypt(blob, 11, key=OTHER_KEY)


def test_wrong_plain_size_fails():
    blob = encrypt_extent(KEY, patterned(40), UID, 3, segment_size=16)
    for wrong in (0, 39, 41, 48, 32):
        with pytest.raises(IntegrityError):
            decrypt(blob, wrong)


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"SBX",
        b"XBX\x01" + b"\x00" * 40,
        b"SBX\x02" + b"\x00" * 40,
        b"SBX\x01" + b"\x00\x00\x00\x00" + UID + b"\x00\x00\x00\x03" + b"\x00" * 16,  # segment size 0
        b"SBX\x01" + struct.pack(">I", MAX_SEGMENT_SIZE + 1) + UID + b"\x00\x00\x00\x03" + b"\x00" * 16,
        b"SBX\x01" + struct.pack(">I", 16) + UID + b"\x00\x00\x00\x03" + b"\x00" * 17,
    ],
)
def test_malformed_headers_fail(header):
    with pytest.raises(IntegrityError):
        ExtentDecryptor(KEY, header, object_uid=UID, extent_index=3, plain_size=1)


def test_decrypt_segment_bounds_and_sizes():
    seg = 16
    blob = encrypt_extent(KEY, patterned(40), UID, 3, segment_size=seg)
    dec = ExtentDecryptor(KEY, blob[:HEADER_SIZE], object_uid=UID, extent_index=3, plain_size=40)
    segs = sealed_segments(blob, seg)
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(-1, segs[0])
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(3, segs[2])
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(0, segs[0][:-1])
    with pytest.raises(IntegrityError):
        dec.decrypt_segment(2, segs[1])  # full-size segment where the short final one belongs
    with pytest.raises(IntegrityError):
        dec.decrypt_run(-1, segs[0])
    with pytest.raises(IntegrityError):
        dec.decrypt_run(5, segs[0])


def test_short_blob_fails():
    with pytest.raises(IntegrityError):
        decrypt(b"SBX\x01", 0)


# ------------------------------------------------------------------------------ misuse


def test_update_after_finalize_and_double_finalize():
    enc = ExtentEncryptor(KEY, UID, 3)
    enc.finalize()
    with pytest.raises(CryptoError):
        enc.update(b"x")
    with pytest.raises(CryptoError):
        enc.finalize()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data_key": b"short"},
        {"object_uid": b"short"},
        {"extent_index": -1},
        {"extent_index": 2**32},
        {"segment_size": 0},
        {"segment_size": MAX_SEGMENT_SIZE + 1},
    ],
)
def test_encryptor_rejects_bad_parameters(kwargs):
    args = {"data_key": KEY, "object_uid": UID, "extent_index": 3, "segment_size": 16} | kwargs
    with pytest.raises((ValueError, CryptoError)):
        ExtentEncryptor(**args)


def test_bad_rng_rejected():
    with pytest.raises(CryptoError):
        ExtentEncryptor(KEY, UID, 3, rng=lambda n: b"x")

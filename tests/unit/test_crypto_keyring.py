"""Tests of sealbox.crypto.keyring: master keys, keyring operations, file and env formats."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from datetime import date
from pathlib import Path

import pytest

from sealbox.crypto.errors import CryptoError, KeyFileError, MissingMasterKey
from sealbox.crypto.keyring import (
    Keyring,
    MasterKey,
    generate_master_key,
    keyring_from_env,
    keyring_to_env,
    load_keyring,
    load_or_create_keyring,
    save_keyring,
)


def counting_rng(start: int = 1):
    state = {"n": start}

    def rng(n: int) -> bytes:
        out = bytes((state["n"] + i) % 256 for i in range(n))
        state["n"] += 1
        return out

    return rng


def mk(key_id: str, fill: int) -> MasterKey:
    return MasterKey(key_id, bytes([fill]) * 32)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ------------------------------------------------------------------------------ master keys


def test_generate_master_key_id_format_and_material():
    key = generate_master_key(today=date(2026, 11, 27))
    assert re.fullmatch(r"mk-20261127-[0-9a-f]{8}", key.key_id)
    assert isinstance(key.material, bytes) and len(key.material) == 32
    assert key.created is not None and key.created.date() == date(2026, 11, 27)


def test_generate_master_key_is_deterministic_with_injected_rng():
    a = generate_master_key(rng=counting_rng(), today=date(2026, 1, 2))
    b = generate_master_key(rng=counting_rng(), today=date(2026, 1, 2))
    assert a == b
    assert a.key_id == "mk-20260102-01020304"


def test_generate_master_key_default_date_is_today():
    key = generate_master_key()
    assert key.key_id.startswith("mk-")
    assert len(key.key_id) == len("mk-20261127-3f9a2c1b")


def test_random_keys_differ():
    assert generate_master_key().material != generate_master_key().material


def test_material_never_in_repr_or_str():
    key = generate_master_key()
    text = repr(key) + str(key)
    assert key.key_id in text
    for rendering in (repr(key.material), key.material.hex(), base64.b64encode(key.material).decode()):
        assert rendering not in text
    ring = Keyring([key], key.key_id)
    assert repr(key.material) not in repr(ring)
    assert key.material.hex() not in repr(ring)


@pytest.mark.parametrize("bad_id", ["", "has space", "a:b", "a,b", "-leading", "x" * 65, "é"])
def test_master_key_rejects_bad_ids(bad_id):
    with pytest.raises(CryptoError):
        MasterKey(bad_id, b"\0" * 32)


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_master_key_rejects_wrong_material_size(size):
    with pytest.raises(CryptoError):
        MasterKey("k1", b"\0" * size)


# ------------------------------------------------------------------------------ keyring


def test_keyring_basics():
    a, b = mk("a", 1), mk("b", 2)
    ring = Keyring([a, b], "b")
    assert ring.active is b
    assert ring.get("a") is a
    assert ring.ids() == ["a", "b"]
    assert "a" in ring and "zzz" not in ring
    assert len(ring) == 2
    assert list(ring) == [a, b]


def test_get_unknown_raises_missing_master_key_with_id():
    ring = Keyring([mk("a", 1)], "a")
    with pytest.raises(MissingMasterKey) as info:
        ring.get("nope")
    assert info.value.key_id == "nope"
    assert isinstance(info.value, CryptoError)


def test_keyring_rejects_bad_construction():
    with pytest.raises(CryptoError):
        Keyring([], "a")
    with pytest.raises(CryptoError):
        Keyring([mk("a", 1)], "b")
    with pytest.raises(CryptoError):
        Keyring([mk("a", 1), mk("a", 2)], "a")


def test_with_new_active_adds_fresh_active_key():
    ring = Keyring([mk("a", 1)], "a")
    rotated = ring.with_new_active()
    assert ring.ids() == ["a"]  # immutable
    assert len(rotated) == 2
    assert rotated.ids()[0] == "a"
    assert rotated.active.key_id == rotated.ids()[1]
    assert rotated.active.key_id.startswith("mk-")
    assert rotated.get("a") == ring.get("a")


def test_with_new_active_refuses_id_collision_forever():
    # An rng that always produces the same id: the second rotation cannot find a new id.
    def fixed(n: int) -> bytes:
        return b"\x07" * n

    ring = Keyring([mk("a", 1)], "a").with_new_active(fixed)
    with pytest.raises(CryptoError):
        ring.with_new_active(fixed)


def test_without_drops_inactive_and_refuses_active():
    ring = Keyring([mk("a", 1), mk("b", 2)], "b")
    assert ring.without("a").ids() == ["b"]
    with pytest.raises(CryptoError):
        ring.without("b")
    with pytest.raises(MissingMasterKey):
        ring.without("zzz")


def test_with_key():
    ring = Keyring([mk("a", 1)], "a")
    assert ring.with_key(mk("b", 2)).active.key_id == "a"
    assert ring.with_key(mk("b", 2), make_active=True).active.key_id == "b"


# ------------------------------------------------------------------------------ file


def test_save_then_load_round_trip(tmp_path):
    ring = Keyring([generate_master_key(), mk("legacy", 9)], "legacy").with_new_active()
    path = tmp_path / "keyring.json"
    save_keyring(path, ring)
    loaded = load_keyring(path)
    assert loaded == ring
    assert loaded.active.key_id == ring.active.key_id
    assert [k.material for k in loaded] == [k.material for k in ring]


def test_file_format_is_versioned_json(tmp_path):
    key = generate_master_key(today=date(2026, 11, 27))
    path = tmp_path / "k.json"
    save_keyring(path, Keyring([key], key.key_id))
    doc = json.loads(path.read_text())
    assert doc["format"] == 1
    assert doc["active"] == key.key_id
    assert doc["keys"] == [
        {
            "id": key.key_id,
            "material": base64.b64encode(key.material).decode(),
            "created": "2026-11-27T00:00:00+00:00",
        }
    ]


def test_saved_file_is_0600_even_with_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "k.json"
        save_keyring(path, Keyring([mk("a", 1)], "a"))
    finally:
        os.umask(old)
    assert mode_of(path) == 0o600


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "k.json"
    save_keyring(path, Keyring([mk("a", 1)], "a"))
    save_keyring(path, Keyring([mk("a", 1), mk("b", 2)], "b"))
    assert load_keyring(path).ids() == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]
    assert mode_of(path) == 0o600


def test_0644_refused_with_clear_message(tmp_path):
    path = tmp_path / "k.json"
    save_keyring(path, Keyring([mk("a", 1)], "a"))
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError) as info:
        load_keyring(path)
    message = str(info.value)
    assert "0644" in message and "chmod 600" in message
    assert str(path) in message


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o601, 0o610, 0o620])
def test_any_group_or_other_bit_refused(tmp_path, mode):
    path = tmp_path / "k.json"
    save_keyring(path, Keyring([mk("a", 1)], "a"))
    os.chmod(path, mode)
    with pytest.raises(KeyFileError):
        load_keyring(path)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_accepted(tmp_path, mode):
    path = tmp_path / "k.json"
    save_keyring(path, Keyring([mk("a", 1)], "a"))
    os.chmod(path, mode)
    assert load_keyring(path).ids() == ["a"]


def test_missing_file_is_key_file_error(tmp_path):
    with pytest.raises(KeyFileError, match="does not exist"):
        load_keyring(tmp_path / "absent.json")


def test_directory_is_refused(tmp_path):
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        load_keyring(d)


def write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


GOOD_B64 = base64.b64encode(b"\x01" * 32).decode()


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        json.dumps({"format": 2, "active": "a", "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"format": "1", "active": "a", "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"format": True, "active": "a", "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"active": "a", "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"format": 1, "active": "b", "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"format": 1, "active": "a", "keys": []}),
        json.dumps({"format": 1, "active": "a", "keys": {"a": GOOD_B64}}),
        json.dumps({"format": 1, "active": 1, "keys": [{"id": "a", "material": GOOD_B64}]}),
        json.dumps({"format": 1, "active": "a", "keys": ["a"]}),
        json.dumps({"format": 1, "active": "a", "keys": [{"id": "a"}]}),
        json.dumps({"format": 1, "active": "a", "keys": [{"id": "a", "material": "!!notbase64!!"}]}),
        json.dumps({"format": 1, "active": "a", "keys": [{"id": "a", "material": GOOD_B64[:-4]}]}),
        json.dumps(
            {
                "format": 1,
                "active": "a",
                "keys": [{"id": "a", "material": base64.b64encode(b"x" * 16).decode()}],
            }
        ),
        json.dumps(
            {
                "format": 1,
                "active": "a",
                "keys": [{"id": "a", "material": GOOD_B64}, {"id": "a", "material": GOOD_B64}],
            }
        ),
        json.dumps({"format": 1, "active": "a:b", "keys": [{"id": "a:b", "material": GOOD_B64}]}),
        json.dumps({"format": 1, "active": "a", "keys": [{"id": "a", "material": GOOD_B64, "created": 5}]}),
        json.dumps(
            {"format": 1, "active": "a", "keys": [{"id": "a", "material": GOOD_B64, "created": "yesterday"}]}
        ),
    ],
)
def test_malformed_files_refused(tmp_path, doc):
    path = write_private(tmp_path / "k.json", doc)
    with pytest.raises(KeyFileError):
        load_keyring(path)


def test_malformed_file_message_does_not_leak_material(tmp_path):
    secret = base64.b64encode(b"S" * 31).decode()  # wrong length
    path = write_private(
        tmp_path / "k.json",
        json.dumps({"format": 1, "active": "a", "keys": [{"id": "a", "material": secret}]}),
    )
    with pytest.raises(KeyFileError) as info:
        load_keyring(path)
    assert secret not in str(info.value)


def test_optional_created_and_extra_members_accepted(tmp_path):
    path = write_private(
        tmp_path / "k.json",
        json.dumps(
            {
                "format": 1,
                "active": "a",
                "comment": "x",
                "keys": [{"id": "a", "material": GOOD_B64, "created": None, "note": 1}],
            }
        ),
    )
    ring = load_keyring(path)
    assert ring.active.material == b"\x01" * 32
    assert ring.active.created is None


def test_load_or_create_creates_then_loads(tmp_path):
    path = tmp_path / "sub" / "dir" / "keyring.json"
    ring, created = load_or_create_keyring(path)
    assert created is True
    assert mode_of(path) == 0o600
    assert len(ring) == 1
    again, created_again = load_or_create_keyring(path)
    assert created_again is False
    assert again == ring
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json"]


def test_load_or_create_refuses_existing_unsafe_file(tmp_path):
    path = tmp_path / "keyring.json"
    load_or_create_keyring(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError):
        load_or_create_keyring(path)


def test_load_follows_symlink_and_checks_target_mode(tmp_path):
    target = tmp_path / "real.json"
    save_keyring(target, Keyring([mk("a", 1)], "a"))
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert load_keyring(link).ids() == ["a"]
    os.chmod(target, 0o644)
    with pytest.raises(KeyFileError):
        load_keyring(link)


# ------------------------------------------------------------------------------ env


def test_keyring_from_env_first_is_active():
    a, b = base64.b64encode(b"\x0a" * 32).decode(), base64.b64encode(b"\x0b" * 32).decode()
    ring = keyring_from_env(f"mk-20261127-3f9a2c1b:{a}, old-key:{b} ,")
    assert ring.ids() == ["mk-20261127-3f9a2c1b", "old-key"]
    assert ring.active.key_id == "mk-20261127-3f9a2c1b"
    assert ring.get("old-key").material == b"\x0b" * 32


def test_keyring_env_round_trip():
    ring = Keyring([mk("a", 1), mk("b", 2), mk("c", 3)], "b")
    parsed = keyring_from_env(keyring_to_env(ring))
    assert parsed.active.key_id == "b"
    assert sorted(parsed.ids()) == ["a", "b", "c"]
    assert {k.key_id: k.material for k in parsed} == {k.key_id: k.material for k in ring}


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        "justanid",
        f"bad id:{GOOD_B64}",
        f":{GOOD_B64}",
        "a:notbase64!",
        f"a:{base64.b64encode(b'x' * 31).decode()}",
        f"a:{GOOD_B64},a:{GOOD_B64}",
    ],
)
def test_keyring_from_env_rejects_malformed(value):
    with pytest.raises(KeyFileError):
        keyring_from_env(value)

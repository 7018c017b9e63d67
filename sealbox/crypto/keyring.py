"""Master keys and the keyring that holds them.

A *master key* is 32 random bytes (AES-256) with a printable, non-secret id. Master keys never
encrypt object data: they only seal per-object data keys (see ``sealbox.crypto.envelope``).
The keyring holds every master key still needed to unseal stored data keys plus one *active*
key under which new data keys are sealed. Rotation = ``with_new_active()``, then re-seal
stored data keys (``envelope.reseal``), then ``without(old_id)``.

Key ids
    ``generate_master_key`` makes ids ``mk-YYYYMMDD-<8 lowercase hex>`` (creation date + 4
    random bytes), e.g. ``mk-20261127-3f9a2c1b``. Any id matching
    ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}`` is accepted, so an id never contains ``:`` or ``,``
    (the separators of the text formats below) nor whitespace.

Keyring file (JSON, UTF-8), format version 1::

    {"format": 1,
     "active": "<id of the active key>",
     "keys": [{"id": "<key id>", "material": "<standard base64 of 32 bytes>",
               "created": "<ISO 8601 UTC timestamp>"}, ...]}

    - ``format`` must be the integer 1; ``active`` must name one of ``keys``;
      ids must be unique; ``material`` must decode (strict base64, padding required)
      to exactly 32 bytes; ``created`` is optional (absent or null when unknown).
    - Unknown extra members are ignored.
    - The file must be a regular file whose mode grants nothing to group or others
      (``mode & 0o077 == 0``, i.e. 0600 or 0400); otherwise ``load_keyring`` refuses it.
    - ``save_keyring`` writes atomically: a temp file in the same directory created with
      ``os.open(..., 0o600)`` (and fchmod 0600 regardless of umask), written, fsynced, renamed
      over the target, then the directory is fsynced.

Environment value (``keyring_from_env``)::

    <key_id>:<base64 material>[,<key_id>:<base64 material>...]

    Comma-separated entries, the first one is the active key; whitespace around entries is
    ignored; ids must be unique; material is standard base64 of exactly 32 bytes.
    Example: ``mk-20261127-3f9a2c1b:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=``
    ``keyring_to_env`` produces this format.

Errors: malformed/unsafe sources raise ``KeyFileError``; unknown ids raise
``MissingMasterKey``; misuse (no keys, unknown active id, duplicate ids, dropping the active
key) raises ``CryptoError``. Key material never appears in a ``repr`` or an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sealbox.crypto.errors import CryptoError, KeyFileError, MissingMasterKey

__all__ = [
    "KEYRING_FORMAT",
    "MASTER_KEY_SIZE",
    "Keyring",
    "MasterKey",
    "generate_master_key",
    "keyring_from_env",
    "keyring_to_env",
    "load_keyring",
    "load_or_create_keyring",
    "save_keyring",
    "valid_key_id",
]

MASTER_KEY_SIZE = 32
KEYRING_FORMAT = 1
_MAX_FILE_SIZE = 1 << 20

_KEY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

Rng = Callable[[int], bytes]


def valid_key_id(key_id: object) -> bool:
    """True if ``key_id`` is an acceptable master key id (see module docstring)."""
    return isinstance(key_id, str) and _KEY_ID_RE.fullmatch(key_id) is not None


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit master key. ``repr`` shows the id only, never the material."""

    key_id: str
    material: bytes = field(repr=False)
    created: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not valid_key_id(self.key_id):
            raise CryptoError(f"invalid master key id {self.key_id!r}")
        if not isinstance(self.material, bytes) or len(self.material) != MASTER_KEY_SIZE:
            raise CryptoError(f"master key {self.key_id!r} material must be {MASTER_KEY_SIZE} bytes")


def generate_master_key(rng: Rng = os.urandom, today: date | None = None) -> MasterKey:
    """A fresh random master key with id ``mk-YYYYMMDD-<8 hex>``.

    ``today`` fixes the date part (and the ``created`` timestamp to that midnight UTC);
    by default the current UTC time is used.
    """
    if today is None:
        created = datetime.now(UTC).replace(microsecond=0)
        today = created.date()
    else:
        created = datetime.combine(today, time(), UTC)
    suffix = rng(4)
    material = rng(MASTER_KEY_SIZE)
    if len(suffix) != 4 or len(material) != MASTER_KEY_SIZE:
        raise CryptoError("random source returned the wrong number of bytes")
    return MasterKey(f"mk-{today:%Y%m%d}-{suffix.hex()}", bytes(material), created)


class Keyring:
    """An immutable set of master keys, one of them active (used for new seals).

    Iterating yields the ``MasterKey`` objects in keyring order.
    """

    __slots__ = ("_active", "_keys")

    def __init__(self, keys: Sequence[MasterKey], active_id: str) -> None:
        by_id: dict[str, MasterKey] = {}
        for key in keys:
            if not isinstance(key, MasterKey):
                raise CryptoError("keyring entries must be MasterKey instances")
            if key.key_id in by_id:
                raise CryptoError(f"duplicate master key id {key.key_id!r}")
            by_id[key.key_id] = key
        if not by_id:
            raise CryptoError("a keyring needs at least one master key")
        if active_id not in by_id:
            raise CryptoError(f"active master key {active_id!r} is not in the keyring")
        self._keys = by_id
        self._active = by_id[active_id]

    @property
    def active(self) -> MasterKey:
        return self._active

    def get(self, key_id: str) -> MasterKey:
        try:
            return self._keys[key_id]
        except (KeyError, TypeError):
            raise MissingMasterKey(key_id) from None

    def ids(self) -> list[str]:
        """Key ids in keyring order."""
        return list(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[MasterKey]:
        return iter(list(self._keys.values()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keyring):
            return NotImplemented
        return self._active.key_id == other._active.key_id and list(self._keys.values()) == list(
            other._keys.values()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Keyring(active={self._active.key_id!r}, ids={self.ids()!r})"

    def with_new_active(self, rng: Rng = os.urandom) -> Keyring:
        """A new keyring with a freshly generated key added (last) and made active."""
        for _ in range(8):
            key = generate_master_key(rng)
            if key.key_id not in self._keys:
                return Keyring([*self._keys.values(), key], key.key_id)
        raise CryptoError("could not generate a master key id distinct from the existing ones")

    def with_key(self, key: MasterKey, *, make_active: bool = False) -> Keyring:
        """A new keyring with ``key`` added (last); optionally active."""
        return Keyring([*self._keys.values(), key], key.key_id if make_active else self._active.key_id)

    def without(self, key_id: str) -> Keyring:
        """A new keyring without ``key_id``. Refuses to drop the active key."""
        if key_id not in self._keys:
            raise MissingMasterKey(key_id)
        if key_id == self._active.key_id:
            raise CryptoError(f"refusing to remove the active master key {key_id!r}")
        return Keyring([k for k in self._keys.values() if k.key_id != key_id], self._active.key_id)


# ---------------------------------------------------------------------------------------- file


def _b64decode_key(text: object, where: str, exc: type[CryptoError]) -> bytes:
    if not isinstance(text, str):
        raise exc(f"{where}: key material must be a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise exc(f"{where}: key material is not valid base64") from None
    if len(raw) != MASTER_KEY_SIZE:
        raise exc(f"{where}: key material must decode to {MASTER_KEY_SIZE} bytes, got {len(raw)}")
    return raw


def _parse_created(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise KeyFileError(f"{where}: 'created' must be an ISO 8601 string")
    try:
        created = datetime.fromisoformat(value)
    except ValueError:
        raise KeyFileError(f"{where}: 'created' is not an ISO 8601 timestamp") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created


def _keyring_from_document(doc: Any, where: str) -> Keyring:
    if not isinstance(doc, dict):
        raise KeyFileError(f"{where}: top level must be a JSON object")
    fmt = doc.get("format")
    if type(fmt) is not int or fmt != KEYRING_FORMAT:
        raise KeyFileError(f"{where}: unsupported keyring format {fmt!r} (expected {KEYRING_FORMAT})")
    active = doc.get("active")
    entries = doc.get("keys")
    if not isinstance(active, str):
        raise KeyFileError(f"{where}: 'active' must be a key id string")
    if not isinstance(entries, list) or not entries:
        raise KeyFileError(f"{where}: 'keys' must be a non-empty list")
    keys: list[MasterKey] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        at = f"{where}: keys[{n}]"
        if not isinstance(entry, dict):
            raise KeyFileError(f"{at} must be an object")
        key_id = entry.get("id")
        if not valid_key_id(key_id):
            raise KeyFileError(f"{at}: invalid key id {key_id!r}")
        assert isinstance(key_id, str)
        if key_id in seen:
            raise KeyFileError(f"{at}: duplicate key id {key_id!r}")
        seen.add(key_id)
        material = _b64decode_key(entry.get("material"), f"{at} ({key_id})", KeyFileError)
        keys.append(MasterKey(key_id, material, _parse_created(entry.get("created"), at)))
    if active not in seen:
        raise KeyFileError(f"{where}: active key {active!r} is not one of the keys")
    return Keyring(keys, active)


def _keyring_to_document(keyring: Keyring) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for key in keyring:
        entry: dict[str, Any] = {"id": key.key_id, "material": base64.b64encode(key.material).decode("ascii")}
        if key.created is not None:
            entry["created"] = key.created.isoformat()
        entries.append(entry)
    return {"format": KEYRING_FORMAT, "active": keyring.active.key_id, "keys": entries}


def load_keyring(path: Path) -> Keyring:
    """Read a keyring file; refuses group/other-accessible or malformed files (KeyFileError)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KeyFileError(f"keyring file {path} does not exist") from None
    except OSError as e:
        raise KeyFileError(f"cannot open keyring file {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"keyring file {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"keyring file {path} has mode {mode:04o}, which lets group/others access the master "
                f"keys; refusing to use it (fix with: chmod 600 {path})"
            )
        if st.st_size > _MAX_FILE_SIZE:
            raise KeyFileError(f"keyring file {path} is too large ({st.st_size} bytes)")
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as e:
        raise KeyFileError(f"cannot read keyring file {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    try:
        doc = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError(f"keyring file {path} is not valid UTF-8 JSON") from None
    return _keyring_from_document(doc, f"keyring file {path}")


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _write_temp(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _serialize(keyring: Keyring) -> bytes:
    return (json.dumps(_keyring_to_document(keyring), indent=2) + "\n").encode("utf-8")


def save_keyring(path: Path, keyring: Keyring) -> None:
    """Atomically (re)write the keyring file with mode 0600 (see module docstring)."""
    path = Path(path)
    try:
        tmp = _write_temp(path, _serialize(keyring))
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
    except OSError as e:
        raise KeyFileError(f"cannot write keyring file {path}: {e.strerror or e}") from None
    _fsync_dir(path.parent)


def load_or_create_keyring(path: Path) -> tuple[Keyring, bool]:
    """Load the keyring at ``path``, or create it with one fresh key. Returns (keyring, created).

    Creation never overwrites a file that appeared concurrently (the temp file is hard-linked
    into place); the parent directory is created with mode 0700 if missing.
    """
    path = Path(path)
    if os.path.lexists(path):
        return load_keyring(path), False
    keyring = Keyring([key := generate_master_key()], key.key_id)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = _write_temp(path, _serialize(keyring))
    except OSError as e:
        raise KeyFileError(f"cannot create keyring file {path}: {e.strerror or e}") from None
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_keyring(path), False
        except OSError:
            # Filesystem without hard links: fall back to rename (tiny race window).
            if os.path.lexists(path):
                return load_keyring(path), False
            os.replace(tmp, path)
    except OSError as e:
        raise KeyFileError(f"cannot create keyring file {path}: {e.strerror or e}") from None
    finally:
        _unlink_quietly(tmp)
    _fsync_dir(path.parent)
    return keyring, True


# ----------------------------------------------------------------------------------------- env


def keyring_from_env(value: str) -> Keyring:
    """Parse ``id:base64[,id:base64...]`` (first entry active). Raises KeyFileError."""
    keys: list[MasterKey] = []
    seen: set[str] = set()
    for n, raw in enumerate(value.split(",")):
        entry = raw.strip()
        if not entry:
            continue
        key_id, sep, material = entry.partition(":")
        key_id = key_id.strip()
        where = f"keyring value entry {n + 1}"
        if not sep:
            raise KeyFileError(f"{where}: expected '<key_id>:<base64 material>'")
        if not valid_key_id(key_id):
            raise KeyFileError(f"{where}: invalid key id {key_id!r}")
        if key_id in seen:
            raise KeyFileError(f"{where}: duplicate key id {key_id!r}")
        seen.add(key_id)
        keys.append(MasterKey(key_id, _b64decode_key(material.strip(), f"{where} ({key_id})", KeyFileError)))
    if not keys:
        raise KeyFileError("keyring value holds no keys (expected '<key_id>:<base64 material>,...')")
    return Keyring(keys, keys[0].key_id)


def keyring_to_env(keyring: Keyring) -> str:
    """The ``keyring_from_env`` text for ``keyring`` (active key first). Contains secrets."""
    ordered = [keyring.active] + [k for k in keyring if k.key_id != keyring.active.key_id]
    return ",".join(f"{k.key_id}:{base64.b64encode(k.material).decode('ascii')}" for k in ordered)

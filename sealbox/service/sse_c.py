"""SSE-C (customer-provided keys) for objects: new key records, recognising the key, opening data keys.

Formats and derivation: ``sealbox.crypto.ssec``. The customer key arrives with each request (parsed at
the edge into a ``CustomerKey``), is used for one keyed hash (BLAKE2b, crypto.ssec), and is dropped with the request: nothing
is cached by it. What is cached per process is the opened server share (one 32-byte value per data
directory, not derived from any customer key), so a GET of an SSE-C object costs one keyed hash and one
constant-time compare on top of an SSE-S3 GET, and no unseal.

Without the customer's key the server cannot decrypt an SSE-C object: its data key is derived from
that key and never stored. The object's metadata (ETag, checksums, user metadata) is sealed under a key
derived from the share alone, so listings work without the customer key, as on AWS.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Protocol

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.crypto import ssec
from sealbox.crypto.errors import IntegrityError
from sealbox.service.sealing import Sealer

WRONG_KEY = "Access Denied"


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """The three SSE-C headers of one request, checked (``sealbox.http.sse_c``). ``repr`` hides the key."""

    key: bytes = field(repr=False)
    md5: str  # base64 MD5 of the key, as sent (echoed in responses)


class ShareStore(Protocol):
    def sse_c_share(self) -> tuple[str, str] | None: ...

    def sse_c_share_by_ref(self, ref: str) -> str | None: ...

    def add_sse_c_share(self, ref: str, sealed: str) -> tuple[str, str]: ...


class CustomerKeys:
    """The SSE-C side of a worker; also the ``Sealer``'s opener of SSE-C records' metadata keys."""

    def __init__(self, store: ShareStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer
        self._lock = threading.Lock()
        self._shares: dict[str, bytes] = {}  # share ref -> share (never keyed by a customer key)
        self._current: str | None = None

    # -- the server share --------------------------------------------------------------------------
    def _share(self, ref: str) -> bytes:
        share = self._shares.get(ref)
        if share is not None:
            return share
        sealed = self.store.sse_c_share_by_ref(ref)
        if sealed is None:
            raise IntegrityError(f"the SSE-C server share {ref} named by a key record does not exist")
        share = self.sealer.open_value(sealed, ssec.share_context(ref))
        with self._lock:
            self._shares[ref] = share
        return share

    def _current_ref(self) -> str:
        if self._current is not None:
            return self._current
        found = self.store.sse_c_share()
        if found is None:
            ref = secrets.token_hex(8)
            value = secrets.token_bytes(ssec.SHARE_SIZE)
            found = self.store.add_sse_c_share(ref, self.sealer.seal_value(value, ssec.share_context(ref)))
        self._current = found[0]
        return found[0]

    # -- objects -----------------------------------------------------------------------------------
    def seal_new(self, customer: CustomerKey, context: bytes) -> tuple[bytes, str]:
        """A new object's (or upload's) data key under ``customer``'s key, and its key record."""
        ref = self._current_ref()
        salt = ssec.new_salt()
        data_key, check = ssec.derive(customer.key, self._share(ref), salt, context)
        return data_key, ssec.SsecRecord(ref, salt, check).to_text()

    def data_key(self, customer: CustomerKey, sealed_text: str, context: bytes) -> bytes | None:
        """The data key of the object ``context`` names, or None when ``customer`` is not its key.
        One keyed hash and a constant-time compare whatever the object's size (no size-dependent timing)."""
        record = ssec.parse(sealed_text)
        data_key, check = ssec.derive(customer.key, self._share(record.share_ref), record.salt, context)
        return data_key if record.matches(check) else None

    def open(self, customer: CustomerKey | None, sealed_text: str, context: bytes) -> bytes:
        """GET/HEAD/copy source: 400 without a key (as AWS), 403 AccessDenied with another one."""
        if customer is None:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The object was stored using a form of Server Side"
                               " Encryption. The correct parameters must be provided to retrieve the object.")
        data_key = self.data_key(customer, sealed_text, context)
        if data_key is None:
            raise SealboxError(ErrorCode.ACCESS_DENIED, WRONG_KEY)
        return data_key

    def metadata_key(self, context: bytes, sealed_text: str) -> bytes:
        """``Sealer``'s hook: what an SSE-C row's metadata is sealed under (no customer key needed)."""
        record = ssec.parse(sealed_text)
        return ssec.metadata_key(self._share(record.share_ref), record.salt, context)


def attach(store: ShareStore, sealer: Sealer) -> CustomerKeys:
    """SSE-C for ``sealer`` (and so for the metadata store whose cipher it backs)."""
    keys = CustomerKeys(store, sealer)
    sealer.attach_ssec(keys)
    return keys

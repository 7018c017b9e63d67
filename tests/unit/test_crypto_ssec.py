"""The SSE-C key record and derivation (sealbox.crypto.ssec): format, binding, tamper detection."""

from __future__ import annotations

import base64
import os

import pytest

from sealbox.crypto import ssec
from sealbox.crypto.envelope import object_context
from sealbox.crypto.errors import IntegrityError

SHARE, SALT = os.urandom(32), os.urandom(16)
KEY = os.urandom(32)
CTX = object_context("bucket", "key", b"u" * 16)


def test_record_round_trip_and_version_byte() -> None:
    _, check = ssec.derive(KEY, SHARE, SALT, CTX)
    text = ssec.SsecRecord("0123abcd", SALT, check).to_text()
    assert text.startswith("ssec1:") and ssec.is_record(text)
    raw = base64.b64decode(text[6:])
    assert raw[0] == 1 and raw[1] == 8 and len(raw) == 2 + 8 + 16 + 32
    assert ssec.SsecRecord.from_text(text) == ssec.SsecRecord("0123abcd", SALT, check)
    assert KEY not in raw and base64.b64encode(KEY) not in text.encode()


@pytest.mark.parametrize("mutate", [lambda r: b"\x02" + r[1:], lambda r: r[:-1], lambda r: r + b"x",
                                    lambda r: r[:1] + b"\x30" + r[2:]], ids=["version", "short", "long", "length"])
def test_malformed_records_are_refused(mutate: object) -> None:
    raw = base64.b64decode(ssec.SsecRecord("ref", SALT, bytes(32)).to_text()[6:])
    with pytest.raises(IntegrityError):
        ssec.SsecRecord.from_text("ssec1:" + base64.b64encode(mutate(raw)).decode())  # type: ignore[operator]
    with pytest.raises(IntegrityError):
        ssec.SsecRecord.from_text("kms1:" + base64.b64encode(raw).decode())


def test_derivation_binds_key_share_salt_and_object() -> None:
    data_key, check = ssec.derive(KEY, SHARE, SALT, CTX)
    assert len(data_key) == len(check) == 32 and data_key != check
    assert ssec.derive(KEY, SHARE, SALT, CTX) == (data_key, check)
    others = [ssec.derive(os.urandom(32), SHARE, SALT, CTX), ssec.derive(KEY, os.urandom(32), SALT, CTX),
              ssec.derive(KEY, SHARE, os.urandom(16), CTX),
              ssec.derive(KEY, SHARE, SALT, object_context("bucket", "key2", b"u" * 16))]
    assert all(dk != data_key and c != check for dk, c in others)
    record = ssec.SsecRecord("r", SALT, check)
    assert record.matches(check) and not record.matches(others[0][1])


def test_metadata_key_needs_no_customer_key_and_is_not_the_data_key() -> None:
    meta = ssec.metadata_key(SHARE, SALT, CTX)
    assert len(meta) == 32 and meta not in ssec.derive(KEY, SHARE, SALT, CTX)
    assert meta != ssec.metadata_key(SHARE, SALT, object_context("bucket", "other", b"u" * 16))

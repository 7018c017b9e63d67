"""Hostile XML request bodies: malformed, oversized, entity bombs, external entities — each a MalformedXML."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.hostile.conftest import assert_serving
from tests.support import Server, signed_request, unique_bucket, xml_code

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Delete><Object><Key>&lol9;</Key></Object></Delete>"""

QUADRATIC_BLOWUP = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "' + b"x" * 20000 + b'">]><Delete><Object><Key>'
                    + b"&a;" * 2000 + b"</Key></Object></Delete>")

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd">
<Delete><Object><Key>k</Key></Object></Delete>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<Delete><Object><Key>k</Key></Object></Delete>"""

MALFORMED = {
    "not-xml": b"this is not xml",
    "truncated": b"<Delete><Object><Key>k</Key></Obj",
    "unclosed": b"<Delete><Object><Key>k",
    "two-roots": b"<Delete></Delete><Delete></Delete>",
    "binary": bytes(range(256)),
    "bad-encoding": b'<?xml version="1.0" encoding="UTF-8"?><Delete><Object><Key>\xff\xfe</Key></Object></Delete>',
    "nul": b"<Delete><Object><Key>a\x00b</Key></Object></Delete>",
    "deep-nesting": b"<a>" * 20000 + b"</a>" * 20000,
    "wrong-root": b"<NotDelete><Object><Key>k</Key></Object></NotDelete>",
    "no-objects": b"<Delete></Delete>",
    "empty-key": b"<Delete><Object><Key></Key></Object></Delete>",
    "processing-instruction-only": b'<?xml version="1.0"?>',
}
HOSTILE = {"billion-laughs": BILLION_LAUGHS, "quadratic-blowup": QUADRATIC_BLOWUP,
           "external-entity": EXTERNAL_ENTITY, "external-dtd": EXTERNAL_DTD, "parameter-entity": PARAMETER_ENTITY}


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _delete_objects(server: Server, bucket: str, body: bytes) -> tuple[int, str | None, str]:
    response = signed_request(server, "POST", f"/{bucket}?delete", body=body, params={},
                              headers={"Content-MD5": _md5(body)})
    return response.status_code, xml_code(response), response.text


@pytest.mark.parametrize("name", sorted({**MALFORMED, **HOSTILE}))
def test_delete_objects_refuses_hostile_xml(server: Server, hostile_bucket: str, name: str) -> None:
    body = {**MALFORMED, **HOSTILE}[name]
    s3 = server.client()
    s3.put_object(Bucket=hostile_bucket, Key="k", Body=b"survivor")  # type: ignore[attr-defined]
    status, code, text = _delete_objects(server, hostile_bucket, body)
    assert (status, code) == (400, "MalformedXML"), text
    assert "root:" not in text and "lollol" not in text  # nothing was expanded or read from disk
    assert len(text) < 4096
    # The object named in the hostile document (k) is untouched, and the server serves.
    assert s3.get_object(Bucket=hostile_bucket, Key="k")["Body"].read() == b"survivor"  # type: ignore[attr-defined]
    assert_serving(server)


def test_delete_objects_refuses_oversized_body(server: Server, hostile_bucket: str) -> None:
    keys = "".join(f"<Object><Key>{'k' * 1000}{i}</Key></Object>" for i in range(2200))  # > 2 MiB
    body = f"<Delete>{keys}</Delete>".encode()
    status, code, text = _delete_objects(server, hostile_bucket, body)
    assert (status, code) == (400, "MalformedXML"), text
    assert_serving(server)


def test_delete_objects_refuses_more_than_1000_keys(server: Server, hostile_bucket: str) -> None:
    body = ("<Delete>" + "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001)) + "</Delete>").encode()
    status, code, text = _delete_objects(server, hostile_bucket, body)
    assert (status, code) == (400, "MalformedXML"), text


@pytest.mark.parametrize("name", sorted({**MALFORMED, **HOSTILE}))
def test_put_bucket_versioning_refuses_hostile_xml(server: Server, hostile_bucket: str, name: str) -> None:
    body = {**MALFORMED, **HOSTILE}[name].replace(b"Delete", b"VersioningConfiguration")
    response = signed_request(server, "PUT", f"/{hostile_bucket}?versioning", body=body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text
    assert "root:" not in response.text
    status = server.client().get_bucket_versioning(Bucket=hostile_bucket).get("Status")  # type: ignore[attr-defined]
    assert status is None  # unchanged
    assert_serving(server)


def test_put_bucket_versioning_refuses_oversized_body(server: Server, hostile_bucket: str) -> None:
    body = b"<VersioningConfiguration><Status>Enabled</Status>" + b"<!--" + b"x" * 200_000 + b"-->" \
        + b"</VersioningConfiguration>"
    response = signed_request(server, "PUT", f"/{hostile_bucket}?versioning", body=body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text
    assert server.client().get_bucket_versioning(Bucket=hostile_bucket).get("Status") is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(set(HOSTILE) | {"not-xml", "truncated", "binary", "deep-nesting"}))
def test_create_bucket_refuses_hostile_configuration(server: Server, name: str) -> None:
    body = {**MALFORMED, **HOSTILE}[name].replace(b"Delete", b"CreateBucketConfiguration")
    bucket = unique_bucket("hostile")
    response = signed_request(server, "PUT", f"/{bucket}", body=body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text
    assert "root:" not in response.text
    assert signed_request(server, "HEAD", f"/{bucket}").status_code == 404  # no bucket was made
    assert_serving(server)


def test_create_bucket_refuses_oversized_configuration(server: Server) -> None:
    body = (b"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>"
            + b" " * 100_000 + b"</CreateBucketConfiguration>")
    bucket = unique_bucket("hostile")
    response = signed_request(server, "PUT", f"/{bucket}", body=body)
    assert (response.status_code, xml_code(response)) == (400, "MalformedXML"), response.text
    assert signed_request(server, "HEAD", f"/{bucket}").status_code == 404

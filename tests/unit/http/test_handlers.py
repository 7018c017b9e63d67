"""Handlers in-process: routed, authenticated requests rendered without a socket.

The black-box suite proves the wire; these pin what the edge adds to the service's answers
(headers from typed error facts, ranges, the version-id rule) and that routing hands handlers
what it parsed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealbox.config import Settings
from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.http.app import describe, fact_headers
from sealbox.http.handlers import HANDLERS, Services
from sealbox.http.request import Incoming, Request, Response
from sealbox.http.router import Op, Route, route
from sealbox.http.sigv4 import ANONYMOUS_CONTEXT
from sealbox.service.buckets import BucketService
from sealbox.service.cors import CorsService
from sealbox.service.identity import ROOT, Identity, Principal
from sealbox.service.objects import ObjectService, WriteParams
from sealbox.service.metadata import MetadataSealer
from sealbox.service.sealing import Sealer
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
from tests.support import run_async
from tests.unit.service.test_objects import Body

ROOT_USER = Principal(ROOT, "AKROOT")


async def _no_body() -> None:
    raise AssertionError("this request has no body")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    key = generate_master_key()
    sealer = Sealer(Keyring([key], key.key_id))
    meta = SqliteMetaStore(tmp_path / "meta.sqlite3", metadata=MetadataSealer(sealer))
    buckets = BucketService(meta, "us-east-1", None)
    with ThreadPoolExecutor(4) as pool:
        objects = ObjectService(meta, LocalBlobStore(tmp_path), sealer, buckets, pool)
        buckets.create(ROOT_USER, "bkt", None)
        yield Services(settings=Settings(data_dir=tmp_path), identity=Identity(meta, sealer), buckets=buckets,
                       objects=objects, cors=CorsService(meta, buckets))
    meta.close()


def _request(method: str, bucket: str | None, key: str | None, query: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> Request:
    query, headers = query or {}, headers or {}
    incoming = Incoming(method=method, raw_path=f"/{bucket}/{key}", raw_query="", query=query, headers=headers,
                        receive=_no_body, secure=False, client_ip="127.0.0.1", request_id="TEST")
    incoming.bucket, incoming.key = bucket, key
    target = route(method, bucket, key, query, headers)
    incoming.route = target
    return Request(incoming, target, ANONYMOUS_CONTEXT, ROOT_USER)


def _call(services: Services, request: Request) -> Response:
    async def call() -> Response:
        return await HANDLERS[request.route.op](services, request)

    return run_async(call())


def test_every_operation_has_a_handler() -> None:
    assert set(HANDLERS) == set(Op)


def test_routing_carries_what_it_parsed() -> None:
    got = route("PUT", "b", "k", {"partNumber": "7", "uploadId": "u1"}, {})
    assert got == Route(Op.UPLOAD_PART, "b", "k", None, "u1", 7)
    got = route("GET", "b", "k", {"versionId": "v1", "partNumber": "2"}, {})
    assert (got.op, got.version_id, got.part_number) == (Op.GET_OBJECT, "v1", 2)
    for bad in ("0", "10001", "x", "-1"):
        with pytest.raises(SealboxError) as info:
            route("GET", "b", "k", {"partNumber": bad}, {})
        assert info.value.code is ErrorCode.INVALID_ARGUMENT and info.value.extra["ArgumentValue"] == bad
    with pytest.raises(SealboxError) as info:
        route("PUT", "b", "k", {"uploadId": "u1"}, {})  # UploadPart without a part number
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_get_object_renders_ranges_and_parts(services: Services) -> None:
    data = os.urandom(5000)
    run_async(services.objects.put(ROOT_USER, "bkt", "k", Body(data), WriteParams()))
    whole = _call(services, _request("GET", "bkt", "k"))
    assert whole.status == 200 and bytes(whole.body) == data and whole.headers["content-length"] == "5000"
    assert "content-range" not in whole.headers and "x-amz-version-id" not in whole.headers
    ranged = _call(services, _request("GET", "bkt", "k", headers={"range": "bytes=10-19"}))
    assert ranged.status == 206 and bytes(ranged.body) == data[10:20]
    assert ranged.headers["content-range"] == "bytes 10-19/5000"
    part = _call(services, _request("GET", "bkt", "k", query={"partNumber": "1"}))
    assert part.status == 206 and bytes(part.body) == data and "x-amz-mp-parts-count" not in part.headers
    head = _call(services, _request("HEAD", "bkt", "k", headers={"range": "bytes=-100"}))
    assert head.status == 206 and head.body == b"" and head.headers["content-length"] == "100"


def test_error_facts_become_the_headers_aws_sends() -> None:
    facts = ErrorFacts(delete_marker=True, version_id="v1", last_modified=0.0, allowed_methods=("DELETE",),
                       etag='"abc"')
    assert fact_headers(facts) == {"x-amz-delete-marker": "true", "x-amz-version-id": "v1",
                                   "last-modified": "Thu, 01 Jan 1970 00:00:00 GMT", "allow": "DELETE",
                                   "etag": '"abc"'}
    assert fact_headers(ErrorFacts()) == {}


def test_a_refused_request_is_logged_with_its_operation_and_subresource() -> None:
    refused = Incoming(method="GET", raw_path="/b", raw_query="tagging", query={"tagging": ""}, headers={},
                       receive=_no_body, secure=False, client_ip="127.0.0.1", request_id="T")
    refused.bucket = "b"
    assert describe(refused) == "GET /b?tagging (not routed)"
    routed = _request("PUT", "b", "k", query={"partNumber": "1", "uploadId": "u", "X-Amz-Signature": "secret"})
    text = describe(routed.incoming)
    assert text == "PUT /b/k?X-Amz-Signature&partNumber&uploadId (UploadPart)" and "secret" not in text

"""SigV4 verification, held to the AWS documentation's vectors and to what botocore really sends."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import boto3
import botocore.auth
import botocore.crt.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.compat import HAS_CRT
from botocore.config import Config
from botocore.credentials import Credentials

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http import sigv4
from sealbox.http.sigv4 import (
    AuthContext,
    PayloadMode,
    SigningRequest,
    authenticate,
    canonical_query,
    canonical_uri,
    chunk_string_to_sign,
    derive_signing_key,
    hmac_sha256_hex,
    split_query,
    trailer_string_to_sign,
)

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
ACCESS_KEY = "AKIASEALBOXTEST00001"
SECRET = "s3cr3t/with+plus=and~tilde"
SECRETS = {ACCESS_KEY: SECRET}
ENDPOINT = "http://127.0.0.1:9000"

KEYS = [
    "plain.txt",
    "a b.txt",
    "ünïcødé/日本語.txt",
    "a+b=c.txt",
    "tilde~key",
    "bang!(paren)'star*",
    "dir//double/./dot/../x",
    "semi;colon,comma&amp?q#hash",
    "%41literal-percent",
    "trailing/",
    "  spaces  around  ",
]


# ------------------------------------------------------------------------------------------ harness


class _Captured(Exception):
    """Raised from botocore's before-send hook: the request is captured, never sent."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: AWSPreparedRequest, **_: Any) -> None:
    raise _Captured(request)


def _frozen_now(remove_tzinfo: bool = True) -> datetime:
    return NOW.replace(tzinfo=None) if remove_tzinfo else NOW


@pytest.fixture(autouse=True)
def frozen_botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # With awscrt installed, boto3 clients sign through the CRT signer (aws-c-auth): an independent
    # implementation to hold ours to. Both signers read the clock through get_current_datetime.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", _frozen_now)
    if HAS_CRT:
        monkeypatch.setattr(botocore.crt.auth, "get_current_datetime", _frozen_now)


def make_client(
    endpoint: str = ENDPOINT,
    region: str = "us-east-1",
    access_key: str = ACCESS_KEY,
    secret: str = SECRET,
    token: str | None = None,
    checksums: str = "when_supported",
    **s3: Any,
) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(
            signature_version="s3v4",  # boto3 presigns with Signature Version 2 otherwise
            s3={"addressing_style": "path", **s3},
            retries={"max_attempts": 0},
            request_checksum_calculation=checksums,
        ),
    )
    client.meta.events.register("before-send", _capture)
    return client


def capture(client: Any, operation: str, **kwargs: Any) -> AWSPreparedRequest:
    with pytest.raises(_Captured) as caught:
        getattr(client, operation)(**kwargs)
    return caught.value.request


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def from_prepared(prepared: AWSPreparedRequest) -> SigningRequest:
    parts = urlsplit(prepared.url)
    headers = {name.lower(): _text(value) for name, value in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    return SigningRequest(prepared.method, parts.path, parts.query, headers)


def from_url(method: str, url: str, headers: dict[str, str] | None = None) -> SigningRequest:
    parts = urlsplit(url)
    return SigningRequest(method, parts.path, parts.query, {"host": parts.netloc, **(headers or {})})


def sign_raw(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    region: str = "us-east-1",
) -> SigningRequest:
    """Sign a hand-made URL with botocore's S3 signer, which signs the URL's own encoding verbatim."""
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=body)
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET), "s3", region).add_auth(request)
    return from_prepared(request.prepare())


def check(request: SigningRequest, now: datetime = NOW, **kwargs: Any) -> AuthContext:
    return authenticate(request, SECRETS.get, now, **kwargs)


def refused(request: SigningRequest, code: ErrorCode, now: datetime = NOW) -> SealboxError:
    with pytest.raises(SealboxError) as caught:
        check(request, now)
    assert caught.value.code is code, repr(caught.value)
    return caught.value


def with_headers(request: SigningRequest, **changes: str | None) -> SigningRequest:
    headers = dict(request.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return dataclasses.replace(request, headers=headers)


def set_query_param(request: SigningRequest, name: str, value: str) -> SigningRequest:
    pairs = [(n, value if n == name else v) for n, v in parse_qsl(request.raw_query, keep_blank_values=True)]
    return dataclasses.replace(request, raw_query=urlencode(pairs, quote_via=quote, safe="-_.~"))


# ------------------------------------------------------------------------------ AWS documentation


DOC_KEY = "AKIAIOSFODNN7EXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_NOW = datetime(2013, 5, 24, 0, 5, tzinfo=UTC)
DOC_SCOPE = "20130524/us-east-1/s3/aws4_request"
DOC_HOST = "examplebucket.s3.amazonaws.com"


def _doc_authorization(signed_headers: str, signature: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={DOC_KEY}/{DOC_SCOPE},"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


DOC_HEADER_EXAMPLES = {
    "GET object": SigningRequest(
        "GET",
        "/test.txt",
        "",
        {
            "host": DOC_HOST,
            "range": "bytes=0-9",
            "x-amz-content-sha256": sigv4.EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
            "authorization": _doc_authorization(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        },
    ),
    "PUT object": SigningRequest(
        "PUT",
        "/test%24file.text",
        "",
        {
            "host": DOC_HOST,
            "date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-date": "20130524T000000Z",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
            "authorization": _doc_authorization(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        },
    ),
    "GET bucket lifecycle": SigningRequest(
        "GET",
        "/",
        "lifecycle",
        {
            "host": DOC_HOST,
            "x-amz-content-sha256": sigv4.EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
            "authorization": _doc_authorization(
                "host;x-amz-content-sha256;x-amz-date",
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
        },
    ),
    "GET bucket list objects": SigningRequest(
        "GET",
        "/",
        "max-keys=2&prefix=J",
        {
            "host": DOC_HOST,
            "x-amz-content-sha256": sigv4.EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
            "authorization": _doc_authorization(
                "host;x-amz-content-sha256;x-amz-date",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        },
    ),
}

DOC_PRESIGNED = from_url(
    "GET",
    f"https://{DOC_HOST}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={DOC_KEY}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
)

# The chunked-upload example's request; its signature is the seed of the chunk signatures.
DOC_STREAMING = SigningRequest(
    "PUT",
    "/examplebucket/chunkObject.txt",
    "",
    {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": _doc_authorization(
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class",
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
    },
)


def doc_check(request: SigningRequest, now: datetime = DOC_NOW) -> AuthContext:
    return authenticate(request, {DOC_KEY: DOC_SECRET}.get, now)


@pytest.mark.parametrize("name", sorted(DOC_HEADER_EXAMPLES))
def test_aws_documentation_header_examples(name: str) -> None:
    request = DOC_HEADER_EXAMPLES[name]
    context = doc_check(request)
    assert context.access_key == DOC_KEY
    assert context.payload_mode is PayloadMode.SIGNED
    assert context.payload_sha256 == request.headers["x-amz-content-sha256"]
    assert context.scope == DOC_SCOPE
    assert context.amz_date == "20130524T000000Z"
    assert not context.presigned


def test_aws_documentation_presigned_example() -> None:
    context = doc_check(DOC_PRESIGNED)
    assert context.presigned
    assert context.payload_mode is PayloadMode.UNSIGNED
    assert context.seed_signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"


def test_aws_documentation_streaming_seed() -> None:
    context = doc_check(DOC_STREAMING)
    assert context.payload_mode is PayloadMode.STREAMING_SIGNED
    assert context.payload_sha256 is None
    assert context.seed_signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    assert context.signing_key == derive_signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")


def test_aws_documentation_first_chunk_signature() -> None:
    key = derive_signing_key(DOC_SECRET, "20130524", "us-east-1")
    string_to_sign = chunk_string_to_sign(
        "20130524T000000Z",
        DOC_SCOPE,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        hashlib.sha256(b"a" * 65536).hexdigest(),
    )
    assert string_to_sign.startswith("AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n")
    assert hmac_sha256_hex(key, string_to_sign) == (
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    )


def test_aws_documentation_trailer_signature() -> None:
    key = derive_signing_key(DOC_SECRET, "20130524", "us-east-1")
    string_to_sign = trailer_string_to_sign(
        "20130524T000000Z",
        DOC_SCOPE,
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        hashlib.sha256(b"x-amz-checksum-crc32c:sOO8/Q==\n").hexdigest(),
    )
    assert hmac_sha256_hex(key, string_to_sign) == (
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
    )


def test_aws_documentation_example_tampered() -> None:
    request = DOC_HEADER_EXAMPLES["GET object"]
    with pytest.raises(SealboxError) as caught:
        doc_check(with_headers(request, range="bytes=0-10"))
    assert caught.value.code is ErrorCode.SIGNATURE_DOES_NOT_MATCH


# ---------------------------------------------------------------------------------- botocore: header


@pytest.mark.parametrize("key", KEYS)
def test_botocore_signed_payload_put(key: str) -> None:
    body = b"hello sealbox"
    request = from_prepared(
        capture(
            make_client(), "put_object", Bucket="bucket", Key=key, Body=body, Metadata={"note": "  a   b "}
        )
    )
    context = check(request)
    assert context.access_key == ACCESS_KEY
    assert context.payload_mode is PayloadMode.SIGNED
    assert context.payload_sha256 == hashlib.sha256(body).hexdigest()
    assert context.scope == "20261127/us-east-1/s3/aws4_request"
    assert context.amz_date == "20261127T120000Z"
    assert context.signing_key == derive_signing_key(SECRET, "20261127", "us-east-1")
    assert context.seed_signature and request.headers["authorization"].endswith(context.seed_signature)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("operation", ["get_object", "head_object", "delete_object", "get_object_tagging"])
def test_botocore_keys_and_operations(key: str, operation: str) -> None:
    request = from_prepared(capture(make_client(), operation, Bucket="bucket", Key=key))
    assert check(request).access_key == ACCESS_KEY


def test_botocore_unsigned_payload() -> None:
    client = make_client("https://s3.example.test", checksums="when_required", payload_signing_enabled=False)
    prepared = capture(client, "upload_part", Bucket="b", Key="k", UploadId="u+/=", PartNumber=3, Body=b"x")
    request = from_prepared(prepared)
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    context = check(request)
    assert context.payload_mode is PayloadMode.UNSIGNED
    assert context.payload_sha256 is None


def test_botocore_streaming_unsigned_trailer() -> None:
    client = make_client("https://s3.example.test")
    request = from_prepared(capture(client, "put_object", Bucket="b", Key="k k", Body=b"payload"))
    assert check(request).payload_mode is PayloadMode.STREAMING_UNSIGNED_TRAILER


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("list_objects_v2", {"Prefix": "a b", "Delimiter": "/"}),
        ("list_objects_v2", {"Prefix": "ü+=&?#%", "StartAfter": "~!*'()", "MaxKeys": 7}),
        ("list_objects", {"Prefix": "x+y z", "Marker": "m=1&n=2"}),
        ("list_object_versions", {"Prefix": "p", "KeyMarker": "k", "VersionIdMarker": "v"}),
        ("list_multipart_uploads", {"Prefix": "p"}),
        ("get_bucket_versioning", {}),
        ("get_bucket_location", {}),
    ],
)
def test_botocore_bucket_queries(operation: str, kwargs: dict[str, Any]) -> None:
    request = from_prepared(capture(make_client(), operation, Bucket="bucket", **kwargs))
    assert check(request).access_key == ACCESS_KEY


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("create_multipart_upload", {}),
        ("get_object", {"VersionId": "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"}),
        ("get_object", {"Range": "bytes=0-9", "IfNoneMatch": '"etag"', "ResponseContentType": "a/b c"}),
        ("list_parts", {"UploadId": "abc==", "PartNumberMarker": 2}),
        ("copy_object", {"CopySource": "src/ü k+1", "MetadataDirective": "REPLACE"}),
        ("put_object_tagging", {"Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
        ("put_object", {"Body": b"", "ContentType": "text/plain; charset=utf-8", "CacheControl": "no-cache"}),
    ],
)
def test_botocore_object_operations(operation: str, kwargs: dict[str, Any]) -> None:
    request = from_prepared(capture(make_client(), operation, Bucket="bucket", Key="dir/ké y+1", **kwargs))
    assert check(request).access_key == ACCESS_KEY


def test_botocore_delete_objects_post() -> None:
    request = from_prepared(
        capture(
            make_client(), "delete_objects", Bucket="b", Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]}
        )
    )
    assert request.method == "POST" and request.raw_query == "delete"
    assert check(request).payload_mode is PayloadMode.SIGNED


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "sealbox-local", "auto"])
def test_any_region_is_accepted_without_an_expected_one(region: str) -> None:
    request = from_prepared(capture(make_client(region=region), "get_object", Bucket="b", Key="k"))
    context = check(request)
    assert context.scope == f"20261127/{region}/s3/aws4_request"
    assert context.signing_key == derive_signing_key(SECRET, "20261127", region)


def test_the_servers_region_is_required_when_given() -> None:
    header = from_prepared(capture(make_client(region="eu-west-1"), "get_object", Bucket="b", Key="k"))
    assert check(header, region="eu-west-1").scope == "20261127/eu-west-1/s3/aws4_request"
    with pytest.raises(SealboxError) as exc:
        check(header, region="us-east-1")
    assert exc.value.code is ErrorCode.AUTHORIZATION_HEADER_MALFORMED
    assert exc.value.message == ("The authorization header is malformed; the region 'eu-west-1' is wrong;"
                                 " expecting 'us-east-1'")
    assert exc.value.extra == {"Region": "us-east-1"}
    url = make_client(region="eu-west-1").generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    with pytest.raises(SealboxError) as exc:
        check(from_url("GET", url), region="us-east-1")
    assert exc.value.code is ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR
    assert exc.value.extra == {"Region": "us-east-1"}


def test_security_token_header_is_signed_and_ignored() -> None:
    request = from_prepared(capture(make_client(token="session-token"), "get_object", Bucket="b", Key="k"))
    assert request.headers["x-amz-security-token"] == "session-token"
    assert check(request).access_key == ACCESS_KEY


@pytest.mark.parametrize(
    "url",
    [
        "http://h/bucket/key?uploads",
        "http://h/bucket/key?versionId=",
        "http://h/bucket/key?acl&versionId=v1",
        "http://h/bucket?list-type=2&prefix=a%20b&delimiter=%2F",
        "http://h/bucket?prefix=a+b",  # a literal '+', signed as received
        "http://h/bucket?b=2&a=2&a=1&c",  # repeated names sort by value
        "http://h/bucket/k!x(y)'z*",  # reserved characters left unencoded by this client
        "http://h/bucket/a%c3%bc%2b",  # lowercase percent-escapes signed verbatim
        "http://h/bucket/sp%20ace/./..//x",
        "http://h/",
    ],
)
def test_clients_signing_their_own_encoding(url: str) -> None:
    request = sign_raw("GET", url)
    assert check(request).access_key == ACCESS_KEY


def test_plus_signed_as_space_in_query() -> None:
    # Some clients sign "a%20b" but put a form-encoded "a+b" on the wire.
    signed = sign_raw("GET", "http://h/bucket?prefix=a%20b")
    request = dataclasses.replace(signed, raw_query="prefix=a+b")
    assert check(request).access_key == ACCESS_KEY


def test_date_header_instead_of_x_amz_date() -> None:
    request = sign_raw("GET", "http://h/b/k", headers={"Date": "placeholder"})
    assert "x-amz-date" not in request.headers
    assert request.headers["date"] == "Fri, 27 Nov 2026 12:00:00 -0000"
    context = check(request)
    assert context.amz_date == "20261127T120000Z"
    refused(request, ErrorCode.REQUEST_TIME_TOO_SKEWED, now=NOW + timedelta(hours=1))


def test_non_ascii_header_values() -> None:
    # botocore signs the UTF-8 of the value, then sends it latin-1 encoded on the wire.
    request = sign_raw("PUT", "http://h/b/k", headers={"x-amz-meta-name": "café"})
    assert request.headers["x-amz-meta-name"] == "café"
    assert check(request).access_key == ACCESS_KEY
    # A client signing the raw UTF-8 bytes it sends, which arrive latin-1 decoded.
    wire_value = "café".encode().decode("latin-1")
    request = dataclasses.replace(request, headers={**request.headers, "x-amz-meta-name": wire_value})
    headers = dict(request.headers)
    del headers["authorization"]
    resigned = _resign(request.method, request.raw_path, request.raw_query, headers, wire_bytes=True)
    assert check(resigned).access_key == ACCESS_KEY


def _resign(
    method: str, path: str, query: str, headers: dict[str, str], *, wire_bytes: bool
) -> SigningRequest:
    """A minimal independent signer over the wire bytes, for the case botocore does not cover."""
    names = sorted(headers)
    block = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    canonical = (
        f"{method}\n{path}\n{query}\n".encode()
        + (block.encode("latin-1") if wire_bytes else block.encode())
        + f"\n{';'.join(names)}\n{headers['x-amz-content-sha256']}".encode()
    )
    scope = f"{headers['x-amz-date'][:8]}/us-east-1/s3/aws4_request"
    string_to_sign = (
        f"AWS4-HMAC-SHA256\n{headers['x-amz-date']}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}"
    )
    signature = hmac_sha256_hex(derive_signing_key(SECRET, scope[:8], "us-east-1"), string_to_sign)
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return SigningRequest(method, path, query, {**headers, "authorization": authorization})


def test_authorization_header_without_spaces() -> None:
    request = sign_raw("GET", "http://h/b/k")
    compact = request.headers["authorization"].replace(", ", ",")
    assert check(with_headers(request, authorization=compact)).access_key == ACCESS_KEY


def test_access_key_containing_slash() -> None:
    secrets = {"team/alice": SECRET}
    request = from_prepared(capture(make_client(access_key="team/alice"), "get_object", Bucket="b", Key="k"))
    assert authenticate(request, secrets.get, NOW).access_key == "team/alice"


# ------------------------------------------------------------------------------- botocore: presigned


def presigned(operation: str = "get_object", expires: int = 3600, **params: Any) -> str:
    params.setdefault("Bucket", "bucket")
    params.setdefault("Key", "dir/ké y+1=(x)~!.txt")
    url: str = make_client().generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    return url


def test_presigned_get() -> None:
    request = from_url("GET", presigned())
    context = check(request)
    assert context.presigned
    assert context.payload_mode is PayloadMode.UNSIGNED
    assert context.access_key == ACCESS_KEY
    assert context.amz_date == "20261127T120000Z"


@pytest.mark.parametrize("key", KEYS)
def test_presigned_keys(key: str) -> None:
    assert check(from_url("GET", presigned(Key=key))).presigned


def test_presigned_put_with_params() -> None:
    url = presigned("put_object", ContentType="text/plain", Metadata={"a": "b"})
    signed = dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"].split(";")
    headers = {"content-type": "text/plain", "x-amz-meta-a": "b"}
    request = from_url("PUT", url, {name: value for name, value in headers.items() if name in signed})
    assert check(request).presigned


def test_presigned_with_response_overrides_and_session_token() -> None:
    client = make_client(token="tok+en/=")
    url = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": "b", "Key": "k", "ResponseContentDisposition": 'attachment; filename="a b.txt"'},
        ExpiresIn=60,
    )
    assert "X-Amz-Security-Token" in url
    assert check(from_url("GET", url)).presigned


def test_presigned_list_bucket() -> None:
    url = make_client().generate_presigned_url(
        "list_objects_v2", Params={"Bucket": "b", "Prefix": "a b", "Delimiter": "/"}, ExpiresIn=60
    )
    assert check(from_url("GET", url)).presigned


def test_presigned_expiry() -> None:
    request = from_url("GET", presigned(expires=600))
    assert check(request, now=NOW + timedelta(seconds=600)).presigned
    error = refused(request, ErrorCode.ACCESS_DENIED, now=NOW + timedelta(seconds=601))
    assert error.message == "Request has expired"
    assert error.extra["X-Amz-Expires"] == "600"
    assert error.extra["Expires"] == "2026-11-27T12:10:00Z"
    assert error.extra["ServerTime"] == "2026-11-27T12:10:01Z"


def test_presigned_not_yet_valid() -> None:
    request = from_url("GET", presigned())
    assert check(request, now=NOW - timedelta(minutes=14)).presigned
    error = refused(request, ErrorCode.ACCESS_DENIED, now=NOW - timedelta(minutes=16))
    assert error.message == "Request is not valid yet"


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("604801", "X-Amz-Expires must be less than a week (in seconds) that is; 604800"),
        ("-1", "X-Amz-Expires must be non-negative"),
        ("ten", "X-Amz-Expires should be a number"),
    ],
)
def test_presigned_bad_expires(expires: str, message: str) -> None:
    request = set_query_param(from_url("GET", presigned()), "X-Amz-Expires", expires)
    assert refused(request, ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR).message == message


def test_presigned_one_week_is_allowed() -> None:
    request = from_url("GET", presigned(expires=604800))
    assert check(request, now=NOW + timedelta(days=7)).presigned


@pytest.mark.parametrize(
    "param",
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ],
)
def test_presigned_missing_parameter(param: str) -> None:
    request = from_url("GET", presigned())
    pairs = [(n, v) for n, v in parse_qsl(request.raw_query, keep_blank_values=True) if n != param]
    request = dataclasses.replace(request, raw_query=urlencode(pairs, quote_via=quote, safe="-_.~"))
    refused(request, ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR)


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR),
        (
            "X-Amz-Credential",
            f"{ACCESS_KEY}/20261127/us-east-1/ec2/aws4_request",
            ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR,
        ),
        (
            "X-Amz-Credential",
            f"{ACCESS_KEY}/20261127/us-east-1/s3",
            ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR,
        ),
        (
            "X-Amz-Credential",
            f"{ACCESS_KEY}/20261126/us-east-1/s3/aws4_request",
            ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR,
        ),
        ("X-Amz-Credential", "NOSUCHKEY/20261127/us-east-1/s3/aws4_request", ErrorCode.INVALID_ACCESS_KEY_ID),
        ("X-Amz-Date", "2026-11-27T12:00:00Z", ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR),
        ("X-Amz-Date", "20261127T120001Z", ErrorCode.SIGNATURE_DOES_NOT_MATCH),
        ("X-Amz-Expires", "3599", ErrorCode.SIGNATURE_DOES_NOT_MATCH),
        ("X-Amz-SignedHeaders", "host;x-amz-date", ErrorCode.SIGNATURE_DOES_NOT_MATCH),
        ("X-Amz-SignedHeaders", "x-amz-date", ErrorCode.ACCESS_DENIED),
        ("X-Amz-Signature", "0" * 64, ErrorCode.SIGNATURE_DOES_NOT_MATCH),
        ("response-content-type", "x", ErrorCode.SIGNATURE_DOES_NOT_MATCH),
    ],
)
def test_presigned_tampered(param: str, value: str, code: ErrorCode) -> None:
    request = from_url("GET", presigned(ResponseContentType="text/plain"))
    refused(set_query_param(request, param, value), code)


def test_presigned_tampered_path_and_added_parameter() -> None:
    request = from_url("GET", presigned())
    refused(dataclasses.replace(request, raw_path=request.raw_path + "x"), ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    extra = dataclasses.replace(request, raw_query=request.raw_query + "&versionId=1")
    refused(extra, ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    refused(dataclasses.replace(request, method="DELETE"), ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_presigned_rejects_unsigned_amz_header() -> None:
    request = from_url("PUT", presigned("put_object"), {"x-amz-acl": "public-read"})
    error = refused(request, ErrorCode.ACCESS_DENIED)
    assert error.extra["HeadersNotSigned"] == "x-amz-acl"


def test_presigned_signed_payload_hash() -> None:
    body_hash = hashlib.sha256(b"data").hexdigest()
    request = AWSRequest(method="PUT", url="http://h/b/k", headers={"x-amz-content-sha256": body_hash})
    botocore.auth.S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires=60).add_auth(
        request
    )
    prepared = request.prepare()
    signing_request = from_prepared(prepared)
    assert "x-amz-content-sha256" in dict(parse_qsl(urlsplit(prepared.url).query))["X-Amz-SignedHeaders"]
    context = check(signing_request)
    assert context.payload_mode is PayloadMode.SIGNED
    assert context.payload_sha256 == body_hash


# ----------------------------------------------------------------------------------- header refusals


@pytest.fixture
def signed_get() -> SigningRequest:
    return from_prepared(
        capture(make_client(), "list_objects_v2", Bucket="bucket", Prefix="a b", Delimiter="/")
    )


@pytest.fixture
def signed_put() -> SigningRequest:
    return from_prepared(
        capture(
            make_client(),
            "put_object",
            Bucket="bucket",
            Key="ké y+1",
            Body=b"body",
            ContentType="text/plain",
            Metadata={"m": "v"},
        )
    )


TAMPERS: dict[str, Callable[[SigningRequest], SigningRequest]] = {
    "path": lambda r: dataclasses.replace(r, raw_path=r.raw_path.replace("bucket", "bucket2")),
    "path encoding of a key char": lambda r: dataclasses.replace(r, raw_path=r.raw_path + "%2F"),
    "method": lambda r: dataclasses.replace(r, method="DELETE"),
    "query value": lambda r: dataclasses.replace(r, raw_query=r.raw_query.replace("a%20b", "a%20c")),
    "query added": lambda r: dataclasses.replace(r, raw_query=r.raw_query + "&max-keys=1"),
    "query removed": lambda r: dataclasses.replace(r, raw_query=r.raw_query.replace("&delimiter=%2F", "")),
    "host": lambda r: with_headers(r, host="evil.example"),
    "signed amz header": lambda r: with_headers(r, x_amz_date="20261127T120001Z"),
    "payload hash": lambda r: with_headers(r, x_amz_content_sha256="UNSIGNED-PAYLOAD"),
    "signature": lambda r: with_headers(r, authorization=r.headers["authorization"][:-4] + "0000"),
    "signed headers list": lambda r: with_headers(
        r,
        authorization=r.headers["authorization"].replace("SignedHeaders=host;", "SignedHeaders=host;range;"),
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampered_request_is_refused(signed_get: SigningRequest, tamper: str) -> None:
    assert check(signed_get).access_key == ACCESS_KEY
    error = refused(TAMPERS[tamper](signed_get), ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    assert error.extra["AWSAccessKeyId"] == ACCESS_KEY
    assert error.extra["SignatureProvided"]
    assert error.extra["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert error.extra["CanonicalRequest"].startswith(TAMPERS[tamper](signed_get).method)


def test_tampered_put_headers(signed_put: SigningRequest) -> None:
    assert check(signed_put).payload_mode is PayloadMode.SIGNED
    for header, value in [("content-type", "text/html"), ("x-amz-meta-m", "w")]:
        refused(with_headers(signed_put, **{header: value}), ErrorCode.SIGNATURE_DOES_NOT_MATCH)
    other_body = hashlib.sha256(b"other").hexdigest()
    refused(with_headers(signed_put, x_amz_content_sha256=other_body), ErrorCode.SIGNATURE_DOES_NOT_MATCH)


def test_whitespace_in_signed_header_values_is_canonicalized(signed_put: SigningRequest) -> None:
    padded = with_headers(signed_put, content_type="  text/plain  ")
    assert check(padded).access_key == ACCESS_KEY


def test_wrong_secret(signed_get: SigningRequest) -> None:
    with pytest.raises(SealboxError) as caught:
        authenticate(signed_get, {ACCESS_KEY: SECRET + "x"}.get, NOW)
    assert caught.value.code is ErrorCode.SIGNATURE_DOES_NOT_MATCH


def test_unknown_access_key(signed_get: SigningRequest) -> None:
    with pytest.raises(SealboxError) as caught:
        authenticate(signed_get, lambda _key: None, NOW)
    assert caught.value.code is ErrorCode.INVALID_ACCESS_KEY_ID
    assert caught.value.message == "The AWS Access Key Id you provided does not exist in our records."
    assert caught.value.extra == {"AWSAccessKeyId": ACCESS_KEY}


def test_request_time_skew(signed_get: SigningRequest) -> None:
    assert check(signed_get, now=NOW + timedelta(minutes=15)).access_key == ACCESS_KEY
    assert check(signed_get, now=NOW - timedelta(minutes=15)).access_key == ACCESS_KEY
    for now in (NOW + timedelta(minutes=15, seconds=1), NOW - timedelta(minutes=15, seconds=1)):
        error = refused(signed_get, ErrorCode.REQUEST_TIME_TOO_SKEWED, now=now)
        assert error.extra["RequestTime"] == "20261127T120000Z"
        assert error.extra["ServerTime"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert error.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_naive_now_is_utc(signed_get: SigningRequest) -> None:
    assert check(signed_get, now=NOW.replace(tzinfo=None)).access_key == ACCESS_KEY


def test_date_on_another_day_than_the_scope(signed_get: SigningRequest) -> None:
    request = with_headers(signed_get, x_amz_date="20261128T000000Z")
    refused(request, ErrorCode.AUTHORIZATION_HEADER_MALFORMED, now=datetime(2026, 11, 28, tzinfo=UTC))


@pytest.mark.parametrize("value", ["", "2026-11-27T12:00:00Z", "20261127T120000", "20261327T120000Z"])
def test_invalid_date(signed_get: SigningRequest, value: str) -> None:
    assert refused(with_headers(signed_get, x_amz_date=value), ErrorCode.ACCESS_DENIED).message == (
        "AWS authentication requires a valid Date or x-amz-date header"
    )


def test_missing_date(signed_get: SigningRequest) -> None:
    refused(with_headers(signed_get, x_amz_date=None), ErrorCode.ACCESS_DENIED)


def test_missing_content_sha256(signed_get: SigningRequest) -> None:
    error = refused(with_headers(signed_get, x_amz_content_sha256=None), ErrorCode.INVALID_REQUEST)
    assert error.message == "Missing required header for this request: x-amz-content-sha256"


@pytest.mark.parametrize(
    "value", ["abc", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "g" * 64, "unsigned-payload"]
)
def test_invalid_content_sha256(signed_get: SigningRequest, value: str) -> None:
    error = refused(with_headers(signed_get, x_amz_content_sha256=value), ErrorCode.INVALID_ARGUMENT)
    assert error.extra == {"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value}


def test_unsigned_amz_header_is_refused(signed_get: SigningRequest) -> None:
    request = with_headers(signed_get, x_amz_copy_source="other/key", x_amz_acl="public-read")
    error = refused(request, ErrorCode.ACCESS_DENIED)
    assert error.message == "There were headers present in the request which were not signed"
    assert error.extra["HeadersNotSigned"] == "x-amz-copy-source, x-amz-acl"


def test_unsigned_non_amz_headers_are_fine(signed_get: SigningRequest) -> None:
    request = with_headers(signed_get, user_agent="x", x_amzn_trace_id="Root=1", content_type="a/b")
    assert check(request).access_key == ACCESS_KEY


def test_host_must_be_signed() -> None:
    headers = {"x-amz-date": "20261127T120000Z", "x-amz-content-sha256": sigv4.EMPTY_SHA256, "host": "h"}
    request = _resign("GET", "/b/k", "", {k: v for k, v in headers.items() if k != "host"}, wire_bytes=False)
    request = dataclasses.replace(request, headers={**request.headers, "host": "h"})
    error = refused(request, ErrorCode.ACCESS_DENIED)
    assert error.extra["HeadersNotSigned"] == "host"


AUTH_PREFIX = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261127/us-east-1/s3/aws4_request"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (f"{AUTH_PREFIX}, SignedHeaders=host", ErrorCode.AUTHORIZATION_HEADER_MALFORMED),
        (f"{AUTH_PREFIX}, Signature=abc", ErrorCode.AUTHORIZATION_HEADER_MALFORMED),
        (f"{AUTH_PREFIX} SignedHeaders=host Signature=abc", ErrorCode.AUTHORIZATION_HEADER_MALFORMED),
        (
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=a",
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261127/us-east-1/s3, SignedHeaders=host, Signature=a",
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
        ),
        (
            (
                f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261127/us-east-1/iam/aws4_request, "
                "SignedHeaders=host, Signature=a"
            ),
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
        ),
        (
            (
                f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261127/us-east-1/s3/aws5_request, "
                "SignedHeaders=host, Signature=a"
            ),
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
        ),
        (
            f"{AUTH_PREFIX}, SignedHeaders=host;;x-amz-date, Signature=abc",
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
        ),
        (
            f"{AUTH_PREFIX}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=zz",
            ErrorCode.SIGNATURE_DOES_NOT_MATCH,
        ),
        (
            f"{AUTH_PREFIX}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=é",
            ErrorCode.SIGNATURE_DOES_NOT_MATCH,
        ),
        (
            "AWS4-ECDSA-P256-SHA256 Credential=x/20261127/s3/aws4_request, SignedHeaders=host, Signature=a",
            ErrorCode.INVALID_ARGUMENT,
        ),
        ("Bearer token", ErrorCode.INVALID_ARGUMENT),
        ("", ErrorCode.INVALID_ARGUMENT),
    ],
)
def test_malformed_authorization(signed_get: SigningRequest, authorization: str, code: ErrorCode) -> None:
    refused(with_headers(signed_get, authorization=authorization), code)


def test_header_and_query_auth_together(signed_get: SigningRequest) -> None:
    url = presigned()
    request = dataclasses.replace(signed_get, raw_path=urlsplit(url).path, raw_query=urlsplit(url).query)
    error = refused(request, ErrorCode.INVALID_ARGUMENT)
    assert error.extra["ArgumentName"] == "Authorization"


# ---------------------------------------------------------------------------------------- anonymous


@pytest.mark.parametrize(
    "url",
    [
        "http://h/b/k",
        "http://h/b?list-type=2&prefix=x",
        "http://h/b/k?Expires=1&response-content-type=a",  # looks like auth, is not
        "http://h/b/k?Signature=x",
    ],
)
def test_anonymous(url: str) -> None:
    context = check(from_url("GET", url))
    assert context == sigv4.ANONYMOUS_CONTEXT
    assert context.access_key is None and context.payload_mode is PayloadMode.ANONYMOUS


# ------------------------------------------------------------------------------------ canonical forms


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", "/"),
        ("/", "/"),
        ("/b/a%20b", "/b/a%20b"),
        ("/b/a+b", "/b/a%2Bb"),
        ("/b/a%2bb", "/b/a%2Bb"),
        ("/b/%7Etilde~", "/b/~tilde~"),
        ("/b/./../x//y", "/b/./../x//y"),
        ("/b/%C3%BC", "/b/%C3%BC"),
        ("/b/k!'()*", "/b/k%21%27%28%29%2A"),
        ("/b/a%2Fb", "/b/a/b"),
    ],
)
def test_canonical_uri(raw: str, canonical: str) -> None:
    assert canonical_uri(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("uploads", "uploads="),
        ("versionId=", "versionId="),
        ("prefix=a%20b&delimiter=/", "delimiter=%2F&prefix=a%20b"),
        ("list-type=2&prefix=a+b", "list-type=2&prefix=a%2Bb"),
        ("b=2&a=2&a=1", "a=1&a=2&b=2"),
        ("x=%7e%41", "x=~A"),
        ("k%20=v=w", "k%20=v%3Dw"),
        ("a=1&&b=2&", "a=1&b=2"),
    ],
)
def test_canonical_query(raw: str, canonical: str) -> None:
    assert canonical_query(split_query(raw)) == canonical


def test_signing_key_is_cached() -> None:
    derive_signing_key.cache_clear()
    request = sign_raw("GET", "http://h/b/k")
    for _ in range(5):
        check(request)
    info = derive_signing_key.cache_info()
    assert info.misses == 1 and info.hits == 4


def test_many_requests_stay_fast(signed_get: SigningRequest) -> None:
    import time

    start = time.perf_counter()
    for _ in range(2000):
        check(signed_get)
    assert time.perf_counter() - start < 2.0


def test_split_query_keeps_raw_forms() -> None:
    assert split_query("a=%20&b&c=d=e") == [("a", "%20"), ("b", ""), ("c", "d=e")]

"""sealbox.http.auth: which scheme a request uses, SigV2 turned off, and what the verdict tells policies."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http import auth, sigv2, sigv4
from sealbox.http.auth import SIGV2_OFF_MESSAGE, authenticate
from sealbox.http.signing import ANONYMOUS_CONTEXT, AuthContext, SigningRequest

ACCESS_KEY = "AKIASEALBOXAUTH00001"
SECRET = "auth/secret+with=odd~chars"
SECRETS = {ACCESS_KEY: SECRET}
NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:9000"
PACKAGE = Path(sigv4.__file__).resolve().parent


def from_url(method: str, url: str, headers: dict[str, str] | None = None) -> SigningRequest:
    parts = urlsplit(url)
    return SigningRequest(method, parts.path, parts.query, {"host": parts.netloc, **(headers or {})})


def prepared(request: AWSRequest) -> SigningRequest:
    ready = request.prepare()
    parts = urlsplit(ready.url)
    headers = {name.lower(): value for name, value in ready.headers.items()}
    return SigningRequest(ready.method or "GET", parts.path, parts.query, {"host": parts.netloc, **headers})


def v4_header(url: str = f"{ENDPOINT}/b/k", when: datetime = NOW, **headers: str) -> SigningRequest:
    from unittest import mock

    request = AWSRequest(method="GET", url=url, headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1").add_auth(request)
    return prepared(request)


def v4_presigned(when: datetime = NOW, expires: int = 3600, **headers: str) -> SigningRequest:
    from unittest import mock

    request = AWSRequest(method="PUT", url=f"{ENDPOINT}/b/k", headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires=expires).add_auth(request)
    return prepared(request)


class _DatedSigner(HmacV1Auth):  # type: ignore[misc]
    """HmacV1Auth dated NOW (botocore always uses the current time)."""

    def _get_date(self) -> str:
        return NOW.strftime("%a, %d %b %Y %H:%M:%S GMT")


def v2_header(url: str = f"{ENDPOINT}/b/k") -> SigningRequest:
    request = AWSRequest(method="GET", url=url)
    _DatedSigner(Credentials(ACCESS_KEY, SECRET)).add_auth(request)
    return prepared(request)


def v2_query(expires: datetime) -> SigningRequest:
    stamp = str(int(expires.timestamp()))
    signature = base64.b64encode(hmac.digest(SECRET.encode(), f"GET\n\n\n{stamp}\n/b/k".encode(), "sha1")).decode()
    return from_url("GET", f"{ENDPOINT}/b/k?AWSAccessKeyId={ACCESS_KEY}&Expires={stamp}"
                           f"&Signature={quote(signature, safe='')}")


def refused(request: SigningRequest, code: ErrorCode, allow_sigv2: bool = True) -> SealboxError:
    with pytest.raises(SealboxError) as caught:
        authenticate(request, SECRETS.get, NOW, allow_sigv2=allow_sigv2)
    assert caught.value.code is code, repr(caught.value)
    return caught.value


# -- dispatch -----------------------------------------------------------------------------------------------


def test_sigv2_and_sigv4_do_not_import_each_other() -> None:
    """Issue 12: shared helpers live in http/signing.py, the dispatch in http/auth.py."""
    def imported(module: str) -> set[str]:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return names
    assert not {n for n in imported("sigv2") if "sigv4" in n}
    assert not {n for n in imported("sigv4") if "sigv2" in n}


@pytest.fixture
def sigv2_calls(monkeypatch: pytest.MonkeyPatch) -> list[SigningRequest]:
    """Stand in for sealbox.http.sigv2 (tested on its own): record what the dispatch hands over to it."""
    calls: list[SigningRequest] = []

    def fake(req: SigningRequest, secret_for: Callable[[str], str | None], now: datetime,
             max_skew: timedelta = sigv2.MAX_SKEW) -> AuthContext:
        calls.append(req)
        return ANONYMOUS_CONTEXT

    monkeypatch.setattr(sigv2, "authenticate", fake)
    return calls


def test_sigv2_is_handed_over(sigv2_calls: list[SigningRequest]) -> None:
    header = from_url("GET", "http://h/b/k", {"authorization": "AWS AKID:c2lnbmF0dXJl"})
    query = from_url("GET", "http://h/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=c2ln%2B")
    encoded_name = from_url("GET", "http://h/b/k?%41WSAccessKeyId=AKID&Expires=1700000000&Signature=c2ln")
    for request in (header, query, encoded_name):
        authenticate(request, SECRETS.get, NOW)
    assert sigv2_calls == [header, query, encoded_name]


def test_boto3_default_presigner_is_sigv2(sigv2_calls: list[SigningRequest]) -> None:
    client = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET)
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    assert "AWSAccessKeyId=" in url
    authenticate(from_url("GET", url), SECRETS.get, NOW)
    assert len(sigv2_calls) == 1


@pytest.mark.parametrize("url", ["http://h/b/k", "http://h/b?list-type=2", "http://h/b/k?Expires=1&x=y",
                                 "http://h/b/k?Signature=x"])
def test_anonymous(url: str) -> None:
    assert authenticate(from_url("GET", url), SECRETS.get, NOW) is ANONYMOUS_CONTEXT


def test_sigv4_goes_to_sigv4() -> None:
    verdict = authenticate(v4_header(), SECRETS.get, NOW)
    assert verdict.access_key == ACCESS_KEY and verdict.signing_key is not None


# -- --no-sigv2 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [v2_header, lambda: v2_query(NOW + timedelta(minutes=5))],
                         ids=["header", "query"])
def test_sigv2_off_is_invalid_request(make: Callable[[], SigningRequest]) -> None:
    request = make()
    assert authenticate(request, SECRETS.get, NOW).access_key == ACCESS_KEY  # valid while SigV2 is on
    error = refused(request, ErrorCode.INVALID_REQUEST, allow_sigv2=False)
    assert error.message == SIGV2_OFF_MESSAGE
    assert auth.sigv2_disabled().message == SIGV2_OFF_MESSAGE


def test_sigv2_off_leaves_sigv4_and_anonymous_alone() -> None:
    assert authenticate(v4_header(), SECRETS.get, NOW, allow_sigv2=False).access_key == ACCESS_KEY
    assert authenticate(from_url("GET", "http://h/b/k"), SECRETS.get, NOW, allow_sigv2=False) is ANONYMOUS_CONTEXT


# -- SigV2 query-string lifetime ----------------------------------------------------------------------------


def test_sigv2_url_lives_at_most_seven_days() -> None:
    """Issue 13.7: Expires far ahead used to mean "never expires"; now it is refused, like X-Amz-Expires."""
    assert authenticate(v2_query(NOW + timedelta(days=7) - timedelta(seconds=1)), SECRETS.get, NOW).access_key
    for ahead in (timedelta(days=7, seconds=1), timedelta(days=3650)):
        error = refused(v2_query(NOW + ahead), ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR)
        assert error.message == "Expires must be less than a week (in seconds) from now; 604800"


# -- what the verdict tells bucket policies -----------------------------------------------------------------


def test_signature_facts_of_sigv4_header() -> None:
    verdict = authenticate(v4_header(when=NOW - timedelta(minutes=3)), SECRETS.get, NOW)
    assert (verdict.signature_version, verdict.auth_type) == ("AWS4-HMAC-SHA256", "REST-HEADER")
    assert verdict.signature_age_ms is None  # AWS: s3:signatureAge is for presigned URLs and POST forms
    assert verdict.content_sha256 == hashlib.sha256(b"").hexdigest()


def test_signature_facts_of_sigv4_presigned() -> None:
    verdict = authenticate(v4_presigned(when=NOW - timedelta(minutes=10)), SECRETS.get, NOW)
    assert (verdict.signature_version, verdict.auth_type) == ("AWS4-HMAC-SHA256", "REST-QUERY-STRING")
    assert verdict.signature_age_ms == 600_000
    assert verdict.content_sha256 is None  # a presigned URL signs no payload hash


def test_unsigned_content_sha256_of_a_presigned_url_is_not_reported() -> None:
    """The header is allowed unsigned on a presigned URL, and then verifies nothing: policies must not see it."""
    request = v4_presigned()
    lying = SigningRequest(request.method, request.raw_path, request.raw_query,
                           {**request.headers, "x-amz-content-sha256": hashlib.sha256(b"x").hexdigest()})
    verdict = authenticate(lying, SECRETS.get, NOW)
    assert verdict.payload_sha256 is None and verdict.content_sha256 is None


def test_signature_facts_of_sigv2() -> None:
    header = authenticate(v2_header(), SECRETS.get, NOW)
    assert (header.signature_version, header.auth_type, header.signature_age_ms) == ("AWS", "REST-HEADER", None)
    query = authenticate(v2_query(NOW + timedelta(hours=1)), SECRETS.get, NOW)
    assert (query.signature_version, query.auth_type, query.signature_age_ms) == ("AWS", "REST-QUERY-STRING", 0)
    assert header.content_sha256 is None and query.content_sha256 is None


def test_anonymous_has_no_signature_facts() -> None:
    verdict = authenticate(from_url("GET", "http://h/b/k"), SECRETS.get, NOW)
    assert (verdict.signature_version, verdict.auth_type, verdict.signature_age_ms, verdict.content_sha256) == \
        (None, None, None, None)

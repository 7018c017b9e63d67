"""Presigned GET links the console shares: SigV4 query-string URLs, signed with the signed-in user's
own access key, for the S3 endpoint as a client reaches it.

Why the console can sign: S3 secrets are not one-way hashes — the server must hold each secret to
verify SigV4 at all (``sealbox.service.identity`` keeps them sealed under the master keyring), and
the console's session names the access key it signed in with. The console opens that secret in the
server, signs, and sends only the URL to the browser; the secret never leaves the process. The link
is exactly what ``aws s3 presign`` would make with the same key: it acts as that user (policies,
ACLs, Block Public Access all apply when it is used), stops at X-Amz-Expires, and stops early when
the key is deleted or its secret changes.

Expiry: 1 second to 7 days (604,800 s), AWS's bounds for SigV4 presigned URLs
(``sealbox.http.sigv4.MAX_PRESIGNED_EXPIRES`` refuses more).

The endpoint: ``--public-endpoint`` when the operator set one (a proxy or a DNS name in front), else
the host name the browser used for the console, with this server's S3 scheme and port — right for a
console and an S3 port on the same host, which is how ``sealbox serve`` runs them.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

from sealbox.http.sigv4 import derive_signing_key, hmac_sha256_hex

MIN_EXPIRES = 1
MAX_EXPIRES = 7 * 24 * 3600  # AWS: a SigV4 presigned URL is valid for at most 7 days
ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _quote(text: str, safe: str = "") -> str:
    """SigV4's URI encoding: every byte but A-Za-z0-9-._~ (and ``safe``) as %XX, UTF-8."""
    return urllib.parse.quote(text, safe="-_.~" + safe)


@dataclass(frozen=True)
class S3Endpoint:
    """Where clients reach the S3 API: a configured origin, or this server's scheme and port."""

    public: str | None  # e.g. "https://s3.example.com"
    scheme: str  # the S3 listener's: "https" when sealbox serves TLS for the console's port too
    port: int

    def origin(self, console_host: str) -> str:
        """The S3 origin for a browser that reached the console as ``console_host`` (its Host header)."""
        if self.public:
            return self.public.rstrip("/")
        hostname = urllib.parse.urlsplit(f"//{console_host}").hostname or "127.0.0.1"
        if ":" in hostname:
            hostname = f"[{hostname}]"  # an IPv6 literal
        port = "" if _DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{hostname}{port}"


def check_endpoint(value: str) -> str:
    """A configured public endpoint: an http(s) origin, nothing else (a path would not be signed right)."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise ValueError(f"--public-endpoint must be http(s)://host[:port], not {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


def presigned_get(origin: str, region: str, access_key: str, secret: str, bucket: str, key: str,
                  version_id: str | None, expires: int, now: datetime) -> str:
    """A path-style SigV4 presigned GET URL for ``bucket``/``key`` (and version), signing only Host."""
    if not MIN_EXPIRES <= expires <= MAX_EXPIRES:
        raise ValueError(f"expiry {expires} s is outside {MIN_EXPIRES}..{MAX_EXPIRES}")
    parts = urllib.parse.urlsplit(origin)
    host = parts.netloc
    if parts.port is not None and _DEFAULT_PORTS.get(parts.scheme) == parts.port:
        host = host.rsplit(":", 1)[0]  # clients send Host without a default port
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    params = [("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{access_key}/{scope}"),
              ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")]
    if version_id:
        params.append(("versionId", version_id))
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params))
    path = f"/{_quote(bucket)}/{_quote(key, safe='/')}"
    canonical = f"GET\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac_sha256_hex(derive_signing_key(secret, amz_date[:8], region), to_sign)
    return f"{parts.scheme}://{host}{path}?{query}&X-Amz-Signature={signature}"

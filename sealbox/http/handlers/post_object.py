"""POST Object: browser form uploads — form fields, a signed policy, and the file streamed into the store.

The request is not signed in its headers: the form carries the credentials (see
``sealbox.http.post_policy``), so the fields before the file are read first — capped at 20 KB —
then the form is authenticated and its policy checked, and only then does the file part stream
into the ordinary write pipeline, with content-length-range enforced as the bytes arrive. Fields
after the file are read and ignored, as on S3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import ObjectVersion
from sealbox.http.body import MAX_PUT_SIZE, RequestPayload
from sealbox.http.formdata import FormDataReader, FormPart, boundary_of
from sealbox.http.handlers.base import Services, version_headers
from sealbox.http.acl_xml import acl_request
from sealbox.http.handlers.objects import write_params
from sealbox.http.sse_c import customer_key, ssec_headers
from sealbox.http.headers import content_md5
from sealbox.http.post_policy import (
    FormSignature,
    PostPolicy,
    authenticate_form,
    check_policy,
    check_size,
    decode_policy,
    missing_field,
)
from sealbox.http.request import Request, Response
from sealbox.http.router import Op, host_bucket
from sealbox.http.signing import POST
from sealbox.http.tagging import TAGGING_HEADER, parse_tagging_xml
from sealbox.http.sse_kms import kms_headers
from sealbox.http.xml import HEADER, el
from sealbox.service.identity import Principal
from sealbox.service.pipeline import PayloadChecks
from sealbox.service.policy import RequestContext

_NOT_FORM_DATA = "Bucket POST must be of the enclosure-type multipart/form-data"


@dataclasses.dataclass(frozen=True)
class Form:
    fields: dict[str, str]  # the fields before the file: lowercase name -> value (first one wins)
    file: FormPart


async def read_form(reader: FormDataReader) -> Form:
    """The fields up to the file part, whose body is left unread for streaming."""
    fields: dict[str, str] = {}
    while (part := await reader.next_part()) is not None:
        name = part.name.lower()
        if name == "file":
            return Form(fields, part)
        value = await reader.read_text()
        fields.setdefault(name, value)
    raise SealboxError(ErrorCode.INVALID_ARGUMENT, "POST requires exactly one file upload per request.",
                       ArgumentName="file", ArgumentValue="0")


class _WholeBody:
    """The request body as the form reader sees it, checked against what a signed request claimed of it."""

    def __init__(self, payload: RequestPayload) -> None:
        self._payload = payload
        self._sha256 = hashlib.sha256() if payload.checks.sha256_hex else None
        self._md5 = hashlib.md5() if payload.checks.content_md5 else None

    async def chunks(self) -> AsyncIterator[bytes]:
        async for piece in self._payload.chunks():
            if self._sha256 is not None:
                self._sha256.update(piece)
            if self._md5 is not None:
                self._md5.update(piece)
            yield piece

    def verify(self) -> None:
        checks = self._payload.checks
        if self._sha256 is not None and checks.sha256_hex is not None and \
                not hmac.compare_digest(self._sha256.hexdigest(), checks.sha256_hex.lower()):
            raise SealboxError(ErrorCode.X_AMZ_CONTENT_SHA256_MISMATCH, ClientComputedContentSHA256=checks.sha256_hex,
                               S3ComputedContentSHA256=self._sha256.hexdigest())
        if self._md5 is not None and self._md5.digest() != checks.content_md5:
            raise SealboxError(ErrorCode.BAD_DIGEST, "The Content-MD5 you specified did not match what we received.")


class FilePayload:
    """The file part as a pipeline Payload: the policy's size range is enforced while it streams."""

    def __init__(self, reader: FormDataReader, policy: PostPolicy | None, md5: bytes | None,
                 whole: _WholeBody) -> None:
        self.checks = PayloadChecks(content_md5=md5)
        self.size = 0
        self.oversize = False
        self._reader = reader
        self._stream = reader.stream()
        self._policy = policy
        self._whole = whole

    async def chunks(self) -> AsyncIterator[bytes]:
        async for piece in self._stream:
            self.size += len(piece)
            try:
                check_size(self._policy, self.size, final=False)
            except SealboxError:
                self.oversize = True  # raising here aborts the write: nothing is stored
                raise
            yield piece
        check_size(self._policy, self.size, final=True)
        # Whatever follows the file is ignored, but it is read before the object becomes visible:
        # a header-signed request's body hash covers it.
        await self._reader.drain()
        self._whole.verify()

    async def measure_rest(self) -> int:
        """After an oversize abort: the file's full size, as S3 reports it (the bytes are dropped)."""
        async for piece in self._stream:
            self.size += len(piece)
        return self.size


def _boundary(r: Request) -> str:
    boundary = boundary_of(r.headers.get("content-type", ""))
    if boundary is None:
        raise SealboxError(ErrorCode.PRECONDITION_FAILED, "At least one of the pre-conditions you specified did"
                           " not hold", Condition=_NOT_FORM_DATA)
    return boundary


def _key(form: Form) -> str:
    """The key field with ``${filename}`` replaced by the base name of the uploaded file."""
    template = form.fields.get("key")
    if template is None:
        raise missing_field("key")
    filename = re.split(r"[/\\]", form.file.filename or "")[-1]
    key = template.replace("${filename}", filename)
    if not key:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "User key must have a length greater than 0.",
                           ArgumentName="key", ArgumentValue="")
    return key


# Request headers that stay what policy conditions see of a POST (aws:UserAgent, aws:Referer): they
# describe the browser's request, not the upload.
_HTTP_KEYS = ("user-agent", "referer")


def upload_context(context: RequestContext, fields: dict[str, str], key: str,
                   signature: FormSignature | None) -> RequestContext:
    """What bucket-policy conditions see of a POST Object: the form, not the request's headers.

    The form's fields define the upload (``x-amz-server-side-encryption``, ``acl``, ``x-amz-meta-*``,
    ``Content-Type``, the key…), as on AWS; headers sent beside them are not signed by the form's
    policy and change nothing that is stored, so they must not decide a condition either (a header
    ``x-amz-server-side-encryption: AES256`` beside a form without that field would otherwise pass a
    "deny unencrypted uploads" policy while the object is stored in plaintext).
    """
    headers = {name: value for name, value in fields.items() if name not in _HTTP_KEYS}
    if "acl" in fields:
        headers["x-amz-acl"] = fields["acl"]  # the form's spelling of the x-amz-acl header
    headers.update({name: context.headers[name] for name in _HTTP_KEYS if name in context.headers})
    context = dataclasses.replace(context, headers=headers, key=key)
    if signature is None:
        return context
    return dataclasses.replace(context, signature_version=signature.version, auth_type=POST,
                               signature_age_ms=signature.age_ms, content_sha256=None)


def _principal(s: Services, r: Request, fields: dict[str, str], key: str) -> Principal:
    edge = r.principal
    if r.auth.access_key is not None:  # the request itself was signed
        return dataclasses.replace(edge, context=upload_context(edge.context, fields, key, None))
    signature = authenticate_form(fields, s.identity.secret_for, datetime.now(UTC),
                                  allow_sigv2=s.settings.sigv2)
    context = upload_context(edge.context, fields, key, signature)
    if signature is None:
        return Principal.anonymous(context)  # anonymous: the bucket decides
    found = s.identity.lookup(signature.access_key)
    if found is None:
        raise SealboxError(ErrorCode.INVALID_ACCESS_KEY_ID, AWSAccessKeyId=signature.access_key)
    return Principal(found[0], signature.access_key, context)


def _policy(fields: dict[str, str], key: str, bucket: str) -> PostPolicy | None:
    if "policy" not in fields:
        return None
    policy = decode_policy(fields["policy"])
    check_policy(policy, {**fields, "key": key}, bucket, datetime.now(UTC))
    return policy


async def post_object(s: Services, r: Request) -> Response:
    boundary = _boundary(r)
    whole = _WholeBody(r.payload(MAX_PUT_SIZE))
    reader = FormDataReader(whole.chunks(), boundary)
    form = await read_form(reader)
    key = _key(form)
    principal = _principal(s, r, form.fields, key)
    policy = _policy(form.fields, key, r.bucket)
    # The fields are what PutObject's headers are: Content-Type, x-amz-meta-*, SSE, storage class…
    # (tags are the ``tagging`` field: a Tagging XML document).
    fields = {k: v for k, v in form.fields.items() if k != TAGGING_HEADER}
    sse_c = customer_key(fields, secure=r.secure, allow_http=s.settings.allow_sse_c_over_http)  # form fields
    params = dataclasses.replace(write_params(fields, sse_c), acl=acl_request(form.fields, "acl"))
    if "tagging" in form.fields:
        params = dataclasses.replace(params, tags=parse_tagging_xml(form.fields["tagging"].encode("utf-8"), "object"))
    payload = FilePayload(reader, policy, content_md5(form.fields), whole)
    try:
        version = await s.objects.put(principal, r.bucket, key, payload, params)
    except SealboxError as exc:
        if payload.oversize and exc.code is ErrorCode.ENTITY_TOO_LARGE:
            exc.extra["ProposedSize"] = str(await payload.measure_rest())
        raise
    response = _render(s, r, form.fields, key, version)
    response.headers.update(ssec_headers(sse_c))
    return response


def _location(s: Services, r: Request, key: str) -> str:
    host = r.headers.get("host", "localhost")
    virtual = host_bucket(host, s.settings.domain) is not None
    path = f"/{quote(key, safe='')}" if virtual else f"/{r.bucket}/{quote(key, safe='')}"
    return f"{'https' if r.secure else 'http'}://{host}{path}"


def _redirect(fields: dict[str, str]) -> str | None:
    """success_action_redirect (or the older ``redirect``) when it is an http(s) URL; else ignored, as on S3."""
    target = fields.get("success_action_redirect") or fields.get("redirect")
    if not target:
        return None
    parts = urlsplit(target)
    return target if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _render(s: Services, r: Request, fields: dict[str, str], key: str, version: ObjectVersion) -> Response:
    etag = version.quoted_etag
    headers = {"etag": etag, **version_headers(version), **kms_headers(version.sealed_key, context=True)}
    target = _redirect(fields)
    if target is not None:
        query = urlencode([("bucket", r.bucket), ("key", key), ("etag", etag)], quote_via=quote)
        return Response(303, {**headers, "location": f"{target}{'&' if '?' in target else '?'}{query}"})
    location = _location(s, r, key)
    headers["location"] = location
    status = fields.get("success_action_status")
    if status == "201":
        body = (f"{HEADER}<PostResponse>{el('Location', location)}{el('Bucket', r.bucket)}{el('Key', key)}"
                f"<ETag>{etag}</ETag></PostResponse>")  # hex in quotes: AWS writes the quotes as they are
        return Response.xml(body.encode("utf-8"), 201, headers)
    return Response(200 if status == "200" else 204, headers)


HANDLERS = {Op.POST_OBJECT: post_object}

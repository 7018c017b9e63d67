"""A bucket's CORS configuration: viewed and edited as JSON (the AWS console's form) or XML (the
S3 API's), validated by the same rules as PutBucketCors (``sealbox.service.cors``), and deleted.

A document that does not validate is shown again, unchanged, with the reason; nothing is stored.
Each page acts as the S3 operation it performs (GetBucketCors, PutBucketCors, DeleteBucketCors:
``?cors`` in the policy context).
"""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.console.context import Console
from sealbox.console.views.common import acting, back, error_message, render
from sealbox.console.web import Request, Response, Router, url
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service import cors
from sealbox.service.identity import Principal

FORMATS = ("json", "xml")
_QUERY = {"cors": ""}


@dataclass(frozen=True)
class Summary:
    """What the Properties page says about a bucket's CORS configuration."""

    rules: int | None  # None: no configuration
    readable: bool = True  # False: the signed-in principal may not read it


def summary(c: Console, principal: Principal, bucket: str) -> Summary:
    try:
        return Summary(len(c.services.cors.get(principal, bucket).rules))
    except SealboxError as exc:
        if exc.code is ErrorCode.NO_SUCH_CORS_CONFIGURATION:
            return Summary(None)
        return Summary(None, readable=False)


def document(config: cors.CorsConfiguration, fmt: str) -> str:
    if fmt == "xml":
        return cors.to_xml(config).decode("utf-8")
    return cors.to_json(config)


def parse(text: str, fmt: str) -> cors.CorsConfiguration:
    """The submitted document, validated; SealboxError or InvalidDocument say why not."""
    if fmt == "xml":
        try:
            return cors.from_xml(text.encode("utf-8"))
        except SealboxError as exc:
            if exc.code is ErrorCode.MALFORMED_XML and exc.message is None:
                raise cors.InvalidDocument("the XML is not well-formed, or is not a <CORSConfiguration> with"
                                           " <CORSRule> elements each naming an AllowedMethod and an"
                                           " AllowedOrigin") from None
            raise
    return cors.from_json(text)


def register(router: Router, c: Console) -> None:
    service = c.services.cors
    buckets = c.services.buckets

    def editor(req: Request, name: str, fmt: str, text: str, error: str | None = None,
               status: int = 200, exists: bool = True) -> Response:
        bucket = buckets.get(acting(req, name, query=_QUERY), name, "s3:GetBucketCORS")
        return render(c, req, "bucket_cors.html", status, nav="buckets", bucket=bucket, fmt=fmt, text=text,
                      error=error, exists=exists, formats=FORMATS)

    async def view(req: Request) -> Response:
        name = req.params["bucket"]
        fmt = req.query("format", "json")
        fmt = fmt if fmt in FORMATS else "json"
        try:
            config = service.get(acting(req, name, query=_QUERY), name)
        except SealboxError as exc:
            if exc.code is not ErrorCode.NO_SUCH_CORS_CONFIGURATION:
                raise
            return editor(req, name, fmt, "", exists=False)
        return editor(req, name, fmt, document(config, fmt))

    async def save(req: Request) -> Response:
        name = req.params["bucket"]
        fmt = await req.field("format", "json")
        fmt = fmt if fmt in FORMATS else "json"
        text = await req.field("config")
        exists = service.configuration(name) is not None
        if not text.strip():
            return editor(req, name, fmt, text, "Enter a CORS configuration, or delete the one the bucket has.",
                          400, exists)
        try:
            config = parse(text, fmt)
            service.put(acting(req, name, query=_QUERY), name, config)
        except cors.InvalidDocument as exc:
            return editor(req, name, fmt, text, f"Not saved: {exc}.", 400, exists)
        except SealboxError as exc:
            if exc.code in (ErrorCode.ACCESS_DENIED, ErrorCode.NO_SUCH_BUCKET):
                raise
            return editor(req, name, fmt, text, f"Not saved: {error_message(exc)}", 400, exists)
        count = len(config.rules)
        return back(c, req, url(f"/buckets/{name}/cors", format=fmt), "ok",
                    f"Saved the CORS configuration ({count} rule{'' if count == 1 else 's'}).")

    async def delete(req: Request) -> Response:
        name = req.params["bucket"]
        here = url(f"/buckets/{name}/cors")
        try:
            service.delete(acting(req, name, query=_QUERY), name)
        except SealboxError as exc:
            return back(c, req, here, "error", f"Could not delete the CORS configuration: {error_message(exc)}")
        return back(c, req, here, "ok", "Deleted the CORS configuration.")

    router.add("GET", "/buckets/{bucket}/cors", view)
    router.add("POST", "/buckets/{bucket}/cors", save)
    router.add("POST", "/buckets/{bucket}/cors/delete", delete)

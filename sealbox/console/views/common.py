"""Helpers every page shares: render with the session and flash, redirect with a flash, parse names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealbox.console.context import Console
from sealbox.console.policy_context import acting_on
from sealbox.console.sessions import FLASH_COOKIE, Session
from sealbox.console.web import BadRequest, Request, Response, html, redirect
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.identity import Principal

FLASH_SECONDS = 60


def session_of(req: Request) -> Session:
    session = req.session
    assert isinstance(session, Session), "handler reached without a session"
    return session


def principal_of(req: Request) -> Principal:
    """The signed-in principal, with the policy context of this request (no target yet)."""
    return session_of(req).principal


def acting(req: Request, bucket: str, key: str | None = None, query: Mapping[str, str] | None = None) -> Principal:
    """The principal for one operation on ``bucket`` (and ``key``), with the query an S3 client
    would send for it (``sealbox.console.policy_context.acting_on``)."""
    return acting_on(principal_of(req), bucket, key, query)


def render(c: Console, req: Request, template: str, status: int = 200, /, **context: Any) -> Response:
    raw_flash = req.cookies.get(FLASH_COOKIE)
    flash = c.codec.read_flash(raw_flash) if raw_flash else None
    session = req.session if isinstance(req.session, Session) else None
    context.setdefault("csrf", session.csrf if session else "")
    text = c.renderer.page(template, session=session, flash=flash, **context)
    response = html(text, status)
    if raw_flash:
        response.delete_cookie(FLASH_COOKIE, secure=req.secure)
    return response


def back(c: Console, req: Request, location: str, kind: str, text: str) -> Response:
    """Redirect after a form post, carrying a one-time message ("ok" or "error") to the next page."""
    response = redirect(location)
    response.set_cookie(FLASH_COOKIE, c.codec.flash_cookie(kind, text), max_age=FLASH_SECONDS, secure=req.secure)
    return response


def error_message(exc: SealboxError) -> str:
    return exc.message or exc.code.value


_STATUS = {
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.NO_SUCH_BUCKET: 404,
    ErrorCode.NO_SUCH_KEY: 404,
    ErrorCode.NO_SUCH_VERSION: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.BUCKET_ALREADY_EXISTS: 409,
    ErrorCode.BUCKET_ALREADY_OWNED_BY_YOU: 409,
    ErrorCode.BUCKET_NOT_EMPTY: 409,
}


def status_for(exc: SealboxError) -> int:
    """The console's own small mapping; the S3 status table belongs to the S3 edge."""
    return _STATUS.get(exc.code, 400)


def parent_prefix(key: str) -> str:
    """The folder a key is shown in: everything up to and including its last "/" (before the name)."""
    cut = key.rstrip("/").rfind("/")
    return key[: cut + 1] if cut >= 0 else ""


def required(value: str, label: str) -> str:
    if not value:
        raise BadRequest(f"{label} is required.")
    return value

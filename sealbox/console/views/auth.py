"""Sign in with an access key and secret key; sign out.

Sign-in attempts back off per client address and per access key (``sealbox.console.throttle``)
and each one is logged on ``sealbox.audit``. After sign-in the browser goes to ``next``, which
must be a path on this console (``safe_next``).
"""

from __future__ import annotations

import asyncio
import urllib.parse

from sealbox.console import throttle
from sealbox.console.context import Console
from sealbox.console.sessions import PRESESSION_COOKIE, SESSION_COOKIE, SESSION_SECONDS, new_presession_id
from sealbox.console.views.common import render, session_of
from sealbox.console.web import Request, Response, Router, redirect

PRESESSION_SECONDS = 3600
HOME = "/buckets"


def safe_next(value: str) -> str:
    """``value`` if it is a path on this console, else the home page: an open redirect would let a
    link send a person who just signed in to another site.

    Only printable ASCII without spaces (browsers drop TAB, CR and LF from a URL, so "/<TAB>/evil"
    becomes "//evil"; console links are percent-encoded, so nothing else is needed), one leading
    "/" not followed by "/" or "\\" (a network-path reference), no "\\" at all (browsers read it
    as "/"), and nothing a URL parser takes for a scheme or a host.
    """
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return HOME
    if not all("\x21" <= ch <= "\x7e" for ch in value):
        return HOME
    parts = urllib.parse.urlsplit(value)
    return value if not parts.scheme and not parts.netloc else HOME


def register(router: Router, c: Console) -> None:
    async def signin_page(req: Request) -> Response:
        return _signin_form(c, req, 200, "", next_path=req.query("next"))

    async def signin(req: Request) -> Response:
        access_key = (await req.field("access_key")).strip()
        secret = await req.field("secret_key")
        next_path = await req.field("next")
        client = req.exchange.client_ip
        attempt = await throttle.admit(c.store, client, access_key)
        if isinstance(attempt, throttle.Refused):
            throttle.log_attempt(access_key, _known(c, access_key), client, "throttled")
            response = _signin_form(c, req, 429, attempt.message, access_key, next_path)
            response.headers.append(("retry-after", str(attempt.retry_after)))
            return response
        principal = None
        try:
            principal = c.codec.authenticate(access_key, secret)
        finally:  # an attempt that could not be checked counts as failed
            await asyncio.to_thread(attempt.finish, principal is not None)
        if principal is None:
            throttle.log_attempt(access_key, _known(c, access_key), client, "failure")
            await asyncio.sleep(0.5)  # a little friction for password guessing, besides the back-off
            return _signin_form(c, req, 401, "Sign-in failed: the access key or secret key is not valid.",
                                access_key, next_path)
        throttle.log_attempt(access_key, True, client, "success")
        token, _ = c.codec.issue(principal)
        response = redirect(safe_next(next_path))
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, secure=req.secure)
        response.delete_cookie(PRESESSION_COOKIE, secure=req.secure)
        return response

    async def signout(req: Request) -> Response:
        session = session_of(req)
        await asyncio.to_thread(c.store.sign_out, session.sid, session.expires)
        response = redirect("/signin")
        response.delete_cookie(SESSION_COOKIE, secure=req.secure)
        return response

    async def home(req: Request) -> Response:
        return redirect(HOME)

    router.add("GET", "/signin", signin_page, public=True)
    router.add("POST", "/signin", signin, public=True)
    router.add("POST", "/signout", signout)
    router.add("GET", "/", home)


def _known(c: Console, access_key: str) -> bool:
    return access_key.isascii() and len(access_key) <= 128 and c.services.identity.lookup(access_key) is not None


def _signin_form(c: Console, req: Request, status: int, error: str, access_key: str = "",
                 next_path: str = "") -> Response:
    """The sign-in page, with a CSRF token bound to a pre-session cookie (login CSRF)."""
    presession = req.cookies.get(PRESESSION_COOKIE) or new_presession_id()
    response = render(c, req, "signin.html", status, csrf=c.codec.csrf_for(presession), error=error,
                      access_key=access_key, next=safe_next(next_path))
    if PRESESSION_COOKIE not in req.cookies:
        response.set_cookie(PRESESSION_COOKIE, presession, max_age=PRESESSION_SECONDS, secure=req.secure)
    return response

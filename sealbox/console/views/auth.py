"""Sign in with an access key and secret key; sign out."""

from __future__ import annotations

import asyncio

from sealbox.console.context import Console
from sealbox.console.sessions import PRESESSION_COOKIE, SESSION_COOKIE, SESSION_SECONDS, new_presession_id
from sealbox.console.views.common import render, session_of
from sealbox.console.web import Request, Response, Router, redirect

PRESESSION_SECONDS = 3600


def _safe_next(value: str) -> str:
    """Only a local path: an open redirect would let a link send a signed-in person elsewhere."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/buckets"


def register(router: Router, c: Console) -> None:
    async def signin_page(req: Request) -> Response:
        return _signin_form(c, req, 200, "", next_path=req.query("next"))

    async def signin(req: Request) -> Response:
        access_key = (await req.field("access_key")).strip()
        secret = await req.field("secret_key")
        principal = c.codec.authenticate(access_key, secret)
        if principal is None:
            await asyncio.sleep(0.5)  # a little friction for password guessing
            return _signin_form(c, req, 401, "Sign-in failed: the access key or secret key is not valid.",
                                access_key, await req.field("next"))
        token, _ = c.codec.issue(principal)
        response = redirect(_safe_next(await req.field("next")))
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
        return redirect("/buckets")

    router.add("GET", "/signin", signin_page, public=True)
    router.add("POST", "/signin", signin, public=True)
    router.add("POST", "/signout", signout)
    router.add("GET", "/", home)


def _signin_form(c: Console, req: Request, status: int, error: str, access_key: str = "",
                 next_path: str = "") -> Response:
    """The sign-in page, with a CSRF token bound to a pre-session cookie (login CSRF)."""
    presession = req.cookies.get(PRESESSION_COOKIE) or new_presession_id()
    response = render(c, req, "signin.html", status, csrf=c.codec.csrf_for(presession), error=error,
                      access_key=access_key, next=_safe_next(next_path))
    if PRESESSION_COOKIE not in req.cookies:
        response.set_cookie(PRESESSION_COOKIE, presession, max_age=PRESESSION_SECONDS, secure=req.secure)
    return response

"""The web console, a handler of ``sealbox.http.connection`` served by ``sealbox serve`` on its own
port (default 9001).

It calls the service layer only — never SQL, never the S3 handlers — and acts as the signed-in
principal, so it can see and do exactly what that principal's S3 credentials could — bucket
policies included: the principal carries the policy context of the browser's request (source
address, TLS, headers; ``sealbox.console.policy_context``), so a condition that refuses an S3
request refuses the same console request.

Every request passes one gate (``ConsoleApp.__call__``): route, then (unless the route is public)
a valid session, then for any state-changing method a CSRF token matching the session (from the
``X-CSRF-Token`` header or the ``csrf`` form field) and, when the browser sends one, an Origin
naming this console. Domain errors become a page with the error; anything else a logged 500.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import mimetypes
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from sealbox.console.context import Console
from sealbox.console.jobs import JobRunner
from sealbox.console.policy_context import request_context
from sealbox.console.presign import S3Endpoint
from sealbox.console.render import Renderer
from sealbox.console.services import ServiceSet
from sealbox.console.sessions import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionCodec,
    load_or_create_key,
)
from sealbox.console.store import ConsoleStore
from sealbox.console.views import auth, buckets, cors, jobs, keys, master_keys, object, objects, tags, users
from sealbox.console.views import acl, permissions, share
from sealbox.console.views import lifecycle, object_lock, versions
from sealbox.console.views.common import render, status_for
from sealbox.console.web import (
    BadRequest,
    Forbidden,
    Request,
    Response,
    Router,
    as_json,
    redirect,
    url,
)
from sealbox.core.errors import SealboxError
from sealbox.core.progress import Progress
from sealbox.http.exchange import Exchange, Refusal, Reply, Responder, plain_refusal

log = logging.getLogger("sealbox.console")
STATIC = Path(__file__).parent / "static"
SAFE_METHODS = ("GET", "HEAD")
STORE_FILE = "console.sqlite3"


def prepare_console(data_dir: Path, meta_url: str | None = None) -> None:
    """Create the console's database (WAL mode, schema) once, in the parent before the workers
    start: two workers switching a new SQLite file to WAL at the same moment can get "database is
    locked" at once, without a busy wait, and a worker that fails at start-up is lost for a second.
    With ``meta_url`` its tables are in the PostgreSQL metadata database (made by its migrations)."""
    if not meta_url:
        ConsoleStore(data_dir / STORE_FILE).close()


class StaticFiles:
    """The console's CSS, JS and icon: read once, served with a content hash for cache busting."""

    def __init__(self, directory: Path) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self.files[path.name] = (path.read_bytes(), ctype)
        digest = hashlib.sha256(b"".join(body for body, _ in self.files.values())).hexdigest()
        self.version = digest[:12]

    def response(self, name: str) -> Response | None:
        found = self.files.get(name)
        if found is None:
            return None
        body, ctype = found
        if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml"):
            ctype += "; charset=utf-8"
        return Response(200, body, [("content-type", ctype), ("cache-control", "public, max-age=86400")])


class ConsoleApp:
    """The console's handler. ``services`` are the worker's own (``sealbox.app.build_handlers``
    gives the S3 API and the console the same set)."""

    def __init__(self, services: ServiceSet, data_dir: Path, meta_url: str | None = None,
                 s3: S3Endpoint | None = None, job_progress: Callable[[], Progress] = Progress) -> None:
        store = ConsoleStore(data_dir / STORE_FILE, meta_url)
        codec = SessionCodec(load_or_create_key(data_dir), services.identity)
        self.static = StaticFiles(STATIC)
        renderer = Renderer()
        renderer.env.globals["asset_version"] = self.static.version
        self.console = Console(services, codec, store, renderer, JobRunner(services, store, job_progress),
                               s3 or S3Endpoint(None, "http", 9000))
        self.router = Router()
        for module in (auth, buckets, cors, objects, object, jobs, users, master_keys, tags, keys,
                       permissions, acl, share, versions, lifecycle, object_lock):
            module.register(self.router, self.console)

    def start_background(self) -> None:
        """On the worker's running loop: the sweep that resumes bulk jobs whose worker died."""
        self.console.jobs.start_sweeping()

    # /_sealbox/ (health checks, metrics) on the console port too: set by the composition root.
    ops: Responder | None = None

    async def __call__(self, exchange: Exchange) -> None:
        if self.ops is not None and exchange.raw_path.startswith("/_sealbox/"):
            await self.ops(exchange)
            return
        req = Request(exchange)
        try:
            response = await self.handle(req)
        except ConnectionAbortedError:
            exchange.abort()
            return
        await response.send_to(exchange)

    @staticmethod
    def refusal(refusal: Refusal, message: str) -> Reply:
        """The transport's own answers (a head too large or too slow, overload…): plain text, never S3 XML."""
        return plain_refusal(refusal, message)

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/static/"):
            found = self.static.response(req.path[len("/static/"):]) if req.method in SAFE_METHODS else None
            return found or self.plain(404, "Not found")
        match = self.router.match(req.method, req.path)
        if match is None:
            return self.plain(404, "Not found")
        if match is False:
            return self.plain(405, "Method not allowed")
        assert not isinstance(match, bool)
        route, req.params = match
        try:
            if not route.public:
                session = await self.session(req)
                if session is None:
                    return self.signed_out(req)
                # The principal acts with this request's policy context, as on the S3 API.
                req.session = dataclasses.replace(session, principal=dataclasses.replace(
                    session.principal, context=request_context(req)))
            if req.method not in SAFE_METHODS:
                await self.check_csrf(req, route.public)
            return await route.handler(req)
        except SealboxError as exc:
            return self.error_page(req, status_for(exc), exc.code.value, exc.message or exc.code.value)
        except BadRequest as exc:
            return self.error_page(req, 400, "Bad request", str(exc))
        except UnicodeDecodeError:
            return self.error_page(req, 400, "Bad request", "The request is not valid UTF-8.")
        except Forbidden as exc:
            return self.error_page(req, 403, "Forbidden", str(exc))
        except ConnectionAbortedError:
            raise
        except Exception:
            log.exception("console: %s %s failed", req.method, req.path)
            return self.error_page(req, 500, "Internal error", "Something went wrong; the server log has details.")

    async def session(self, req: Request) -> Session | None:
        token = req.cookies.get(SESSION_COOKIE)
        session = self.console.codec.verify(token) if token else None
        if session is None:
            return None
        if await asyncio.to_thread(self.console.store.is_signed_out, session.sid):
            return None
        return session

    def signed_out(self, req: Request) -> Response:
        if req.method in SAFE_METHODS and not req.path.endswith("/status"):
            here = req.exchange.raw_path + ("?" + req.raw_query if req.raw_query else "")
            return redirect(url("/signin", next=here if here != "/" else None))
        return self.plain(401, "Sign in first.")

    async def check_csrf(self, req: Request, public: bool) -> None:
        origin = req.headers.get("origin")
        if origin and origin != "null" and urllib.parse.urlsplit(origin).netloc != req.headers.get("host", ""):
            raise Forbidden("This request came from another site.")
        token = req.headers.get("x-csrf-token")
        if token is None:
            token = await req.field("csrf")
        if public:  # the sign-in form: bound to the pre-session cookie
            sid = req.cookies.get(PRESESSION_COOKIE, "")
        else:
            sid = req.session.sid
        if not sid or not self.console.codec.check_csrf(sid, token):
            raise Forbidden("The form has expired or did not come from this console (CSRF check failed)."
                            " Reload the page and try again.")

    def error_page(self, req: Request, status: int, title: str, message: str) -> Response:
        if req.headers.get("accept", "").startswith("application/json") or req.method == "PUT":
            return as_json({"ok": False, "error": f"{title}: {message}"}, status)
        return render(self.console, req, "error.html", status, nav="", title=title, message=message)

    @staticmethod
    def plain(status: int, text: str) -> Response:
        return Response(status, text.encode(), [("content-type", "text/plain; charset=utf-8")])

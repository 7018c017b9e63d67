"""Users (root only): add a user, create and delete access keys (the secret is shown once, on the
page that answers the form, never in a cookie or a redirect), remove a user.

The console calls the identity service as ``sealbox users`` does, and logs the same audit events
(``via="console"``). Only root may: every other principal gets 403.
"""

from __future__ import annotations

from sealbox.console.context import Console
from sealbox.console.views.common import back, error_message, principal_of, render
from sealbox.console.web import Forbidden, Request, Response, Router
from sealbox.core.errors import SealboxError
from sealbox.ops.logs import audit
from sealbox.service.identity import ROOT

HERE = "/users"


def register(router: Router, c: Console) -> None:
    identity = c.services.identity

    def root_only(req: Request) -> None:
        if not principal_of(req).is_root:
            raise Forbidden("Only root can manage users and access keys.")

    def page(req: Request, status: int = 200, created: tuple[str, str, str] | None = None) -> Response:
        names = [ROOT] + sorted(u.name for u in identity.users())
        rows = [(n, sorted(identity.keys_of(n), key=lambda k: k.created)) for n in names]
        return render(c, req, "users.html", status, nav="users", rows=rows, created=created,
                      me=principal_of(req).access_key)

    async def users(req: Request) -> Response:
        root_only(req)
        return page(req)

    async def add(req: Request) -> Response:
        root_only(req)
        name = (await req.field("name")).strip()
        try:
            identity.add_user(name)
        except SealboxError as exc:
            return back(c, req, HERE, "error", f"Could not add user {name!r}: {error_message(exc)}.")
        audit("user.add", f"user {name} added", user=name, via="console")
        access_key, secret = identity.create_key(name)
        audit("access_key.create", f"access key {access_key} created", user=name, access_key=access_key,
              via="console")
        return page(req, created=(name, access_key, secret))

    async def create_key(req: Request) -> Response:
        root_only(req)
        name = req.params["user"]
        try:
            access_key, secret = identity.create_key(name)
        except SealboxError as exc:
            return back(c, req, HERE, "error", f"Could not create an access key for {name}: {error_message(exc)}.")
        audit("access_key.create", f"access key {access_key} created", user=name, access_key=access_key,
              via="console")
        return page(req, created=(name, access_key, secret))

    async def delete_key(req: Request) -> Response:
        root_only(req)
        name, access_key = req.params["user"], await req.field("access_key")
        if access_key == principal_of(req).access_key:
            return back(c, req, HERE, "error", "You are signed in with this access key: sign in with another"
                        " one to delete it.")
        try:
            identity.delete_key(name, access_key)
        except SealboxError as exc:
            return back(c, req, HERE, "error", f"Could not delete the access key: {error_message(exc)}.")
        audit("access_key.delete", f"access key {access_key} deleted", user=name, access_key=access_key,
              via="console")
        return back(c, req, HERE, "ok", f"Deleted access key {access_key} of {name}.")

    async def remove(req: Request) -> Response:
        root_only(req)
        name = req.params["user"]
        if (await req.field("confirm")).strip() != name:
            return back(c, req, HERE, "error", f"User {name!r} was not removed: type the name exactly to confirm.")
        try:
            removed = identity.remove_user(name)
        except SealboxError as exc:
            return back(c, req, HERE, "error", f"Could not remove user {name}: {error_message(exc)}.")
        audit("user.remove", f"user {name} removed", user=name, removed_access_keys=removed, via="console")
        return back(c, req, HERE, "ok", f"Removed user {name} and {len(removed)} access key"
                    f"{'' if len(removed) == 1 else 's'}.")

    router.add("GET", "/users", users)
    router.add("POST", "/users", add)
    router.add("POST", "/users/{user}/keys", create_key)
    router.add("POST", "/users/{user}/keys/delete", delete_key)
    router.add("POST", "/users/{user}/remove", remove)

"""The Keys page (KMS keys of the built-in key service) and the KMS part of the encryption forms.

Keys: the keys the signed-in principal may see, with state, aliases, material versions and rotation;
create one (with an alias), disable, enable, schedule deletion (7–30 days) and cancel it. Every
action is the KMS API's, through ``KeyService`` and its authorization (root always; a user manages
the keys they created).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sealbox.console.actions import Encryption, encryption_from_form
from sealbox.console.context import Console
from sealbox.console.services import ServiceSet
from sealbox.console.views.common import back, principal_of, render
from sealbox.console.web import BadRequest, Request, Response, Router
from sealbox.kms.model import MANAGED_S3_ALIAS, KeyState, KmsError, KmsKey
from sealbox.service.identity import Principal


@dataclass(frozen=True)
class KeyOption:
    value: str  # what the form sends ("" = aws/s3)
    label: str
    arn: str


async def encryption_of(req: Request) -> Encryption:
    """The encryption an Edit server-side encryption form asks for."""
    return encryption_from_form(await req.field("sse"), await req.field("key_type"), await req.field("kms_key"),
                                await req.field("kms_arn"), await req.field("bucket_key"))


def usable_kms_keys(services: ServiceSet, principal: Principal) -> list[KeyOption]:
    """The KMS keys to choose from: the AWS managed key first, then the enabled keys the principal may use."""
    kms = services.kms
    options = [KeyOption("", f"{MANAGED_S3_ALIAS} (AWS managed key)", "")]
    if kms is None:
        return options
    try:
        keys = kms.list_keys(principal)
    except KmsError:
        return options
    for key in keys:
        if key.state is not KeyState.ENABLED or key.key_manager != "CUSTOMER":
            continue
        aliases = kms.aliases_of(key.key_id)
        label = ", ".join(aliases) if aliases else key.description or key.key_id
        options.append(KeyOption(kms.arn(key.key_id), f"{label} ({key.key_id})", kms.arn(key.key_id)))
    return options


@dataclass(frozen=True)
class KeyRow:
    key: KmsKey
    arn: str
    aliases: list[str]


def register(router: Router, c: Console) -> None:
    services = c.services

    def _rows(principal: Principal) -> list[KeyRow]:
        kms = services.kms
        if kms is None:
            return []
        return [KeyRow(k, kms.arn(k.key_id), kms.aliases_of(k.key_id)) for k in kms.list_keys(principal)]

    async def keys_page(req: Request) -> Response:
        rows = await asyncio.to_thread(_rows, principal_of(req))
        return render(c, req, "keys.html", nav="keys", rows=rows, external=services.kms is None)

    async def create(req: Request) -> Response:
        kms = services.kms
        if kms is None:
            return back(c, req, "/keys", "error", "This server uses an external key service; manage keys there.")
        description, alias = (await req.field("description")).strip(), (await req.field("alias")).strip()
        principal = principal_of(req)

        def make() -> KmsKey:
            key = kms.create_key(principal, description)
            if alias:
                kms.create_alias(principal, alias if alias.startswith("alias/") else f"alias/{alias}", key.key_id)
            return key

        try:
            key = await asyncio.to_thread(make)
        except KmsError as exc:
            return back(c, req, "/keys", "error", f"Could not create the key: {exc.code.value}: {exc.message}")
        return back(c, req, "/keys", "ok", f"Created KMS key {key.key_id}.")

    async def change(req: Request) -> Response:
        kms = services.kms
        key_id, action = req.params["key"], await req.field("action")
        if kms is None:
            return back(c, req, "/keys", "error", "This server uses an external key service; manage keys there.")
        principal = principal_of(req)
        days_text = (await req.field("days")).strip()
        if action == "schedule" and days_text and not days_text.isdigit():
            raise BadRequest("The waiting period is a number of days.")
        operations = {
            "enable": (lambda: kms.set_enabled(principal, key_id, True), "enabled"),
            "disable": (lambda: kms.set_enabled(principal, key_id, False),
                        "disabled: objects under it cannot be read until it is enabled again"),
            "schedule": (lambda: kms.schedule_deletion(principal, key_id, int(days_text) if days_text else None),
                         "scheduled for deletion"),
            "cancel": (lambda: kms.cancel_deletion(principal, key_id), "no longer scheduled for deletion (disabled)"),
        }
        if action not in operations:
            raise BadRequest("Unknown key action.")
        run, said = operations[action]
        try:
            await asyncio.to_thread(run)
        except KmsError as exc:
            return back(c, req, "/keys", "error", f"Could not change key {key_id}: {exc.code.value}: {exc.message}")
        return back(c, req, "/keys", "ok", f"Key {key_id} {said}.")

    router.add("GET", "/keys", keys_page)
    router.add("POST", "/keys", create)
    router.add("POST", "/keys/{key}", change)

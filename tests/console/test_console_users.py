"""Users (root only): add a user (its first access key and secret shown once), create and delete
access keys, remove a user — each checked by signing in, or failing to, with the keys."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from tests.console.conftest import Console, http_session, shot, sign_in
from tests.support import unique_bucket


def signin_status(console: Console, access_key: str, secret: str) -> int:
    s = requests.Session()
    form = s.get(console.url + "/signin", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = s.post(console.url + "/signin", allow_redirects=False, timeout=30,
               data={"csrf": token.group(1), "access_key": access_key, "secret_key": secret})
    return r.status_code


def user_card(page: Any, name: str) -> Any:
    return page.locator(f"section[data-user='{name}']")


def test_root_adds_a_user_creates_and_deletes_keys_and_removes_it(page: Any, browser: Any,
                                                                    console: Console) -> None:
    name = unique_bucket("user")[:30]
    sign_in(page, console)
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    page.locator("details.create summary").click()
    page.get_by_label("User name").fill(name)
    page.locator("details.create form").get_by_role("button", name="Add user").click()
    created = page.locator("[data-created-key]")
    assert f"Access key created for {name}" in created.inner_text()
    access_key = page.locator("[data-new-access-key]").inner_text()
    secret = page.locator("[data-new-secret]").inner_text()
    assert len(secret) >= 30
    shot(page, "users-key-created")
    # The new user can sign in with it, and sees no Users page.
    other = browser.new_context()
    try:
        p2 = other.new_page()
        sign_in(p2, console, access_key, secret)
        assert p2.get_by_role("link", name="Users").count() == 0
        assert p2.goto(console.url + "/users").status == 403
    finally:
        other.close()
    # The secret is shown once: not on the next view of the page.
    page.goto(console.url + "/users")
    assert secret not in page.content()
    assert access_key in user_card(page, name).inner_text()
    # A second key, then delete the first.
    user_card(page, name).get_by_role("button", name="Create access key").click()
    second = page.locator("[data-new-access-key]").inner_text()
    assert second != access_key
    page.once("dialog", lambda d: d.accept())
    user_card(page, name).locator("tr", has_text=access_key).get_by_role("button", name="Delete").click()
    page.get_by_text(f"Deleted access key {access_key} of {name}.").wait_for()
    # The deleted key no longer signs in: at once on this worker, within the identity cache's 5 s on the other.
    for _ in range(40):  # bounded: at most ~10 s
        if signin_status(console, access_key, secret) == 401:
            break
        time.sleep(0.25)
    else:
        raise AssertionError("a deleted access key still signs in")
    # Remove the user: the name must be typed.
    card = user_card(page, name)
    card.get_by_label(f"To remove {name}").fill(name)
    card.get_by_role("button", name="Remove user").click()
    page.get_by_text(f"Removed user {name} and 1 access key.").wait_for()
    assert user_card(page, name).count() == 0


def test_the_key_you_are_signed_in_with_cannot_be_deleted_and_others_get_403(console: Console) -> None:
    s, csrf = http_session(console)
    r = s.post(console.url + "/users/root/keys/delete", timeout=30,
               data={"csrf": csrf, "access_key": console.server.access_key})
    assert "You are signed in with this access key" in r.text
    r = s.post(console.url + "/users/root/remove", timeout=30, data={"csrf": csrf, "confirm": "root"})
    assert "cannot be removed" in r.text

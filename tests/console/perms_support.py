"""What the Permissions and Share tests share: a second user of the shared console, a signed-in HTTP
session for any user, and the narrow-width check."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import requests

from tests.console.conftest import PHONE, Console
from tests.support import SEALBOX


def add_user(console: Console, name: str) -> dict[str, str]:
    """A user of the shared console's server (names must differ between test modules)."""
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(console.server.data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(out.stdout))


def session_as(console: Console, access_key: str, secret: str) -> tuple[requests.Session, str]:
    """A signed-in ``requests`` session for this user, and its CSRF token."""
    s = requests.Session()
    form = s.get(console.url + "/signin", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = s.post(console.url + "/signin", data={"csrf": token.group(1), "access_key": access_key,
                                              "secret_key": secret, "next": "/buckets"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', s.get(console.url + "/buckets", timeout=30).text)
    assert found is not None
    return s, found.group(1)


def fits_phone(page: Any) -> None:
    """Nothing wider than a 390 px phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""Array.from(document.querySelectorAll('body *')).filter(e =>
        e.getBoundingClientRect().right > innerWidth).slice(-3).map(e => e.tagName + '.' + e.className)""")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide: {wide}"

"""What the Permissions and Share tests share: a second user of the shared console and the narrow-width
check."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.console.conftest import PHONE, Console
from tests.support import SEALBOX


def add_user(console: Console, name: str) -> dict[str, str]:
    """A user of the shared console's server (names must differ between test modules)."""
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(console.server.data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(out.stdout))


def fits_phone(page: Any) -> None:
    """Nothing wider than a 390 px phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""Array.from(document.querySelectorAll('body *')).filter(e =>
        e.getBoundingClientRect().right > innerWidth).slice(-3).map(e => e.tagName + '.' + e.className)""")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide: {wide}"

"""Master keys (root only): the keyring's keys and what each seals; after ``sealbox keys rotate``
the new key is active and the page shows every value re-sealed under it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from tests.console.conftest import Console, http_session, shot, sign_in, start_console_server
from tests.console.test_console_policy_context import signed_in
from tests.support import SEALBOX


def test_master_keys_status_and_rotation_progress(page: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    c: Console = start_console_server(data_dir)
    try:
        s3 = c.s3()
        s3.create_bucket(Bucket="sealed")
        for i in range(3):
            s3.put_object(Bucket="sealed", Key=f"k{i}", Body=b"secret", ServerSideEncryption="AES256")
        sign_in(page, c)
        page.get_by_role("link", name="Master keys").click()
        page.get_by_role("heading", name="Master keys").wait_for()
        rows = page.locator("tr[data-key-id]")
        assert rows.count() == 1
        assert rows.first.get_by_text("Active").count() == 1
        assert rows.first.locator("[data-count=version]").inner_text() == "3"
        first_id = rows.first.get_attribute("data-key-id")
        subprocess.run([str(SEALBOX), "keys", "rotate", "--data-dir", str(data_dir)], check=True,
                       capture_output=True, timeout=120)
        page.reload()
        assert rows.count() == 2
        active = page.locator("tr[data-key-id]", has=page.get_by_text("Active"))
        assert active.get_attribute("data-key-id") != first_id
        assert active.locator("[data-count=version]").inner_text() == "3"
        assert page.locator(f"tr[data-key-id='{first_id}'] [data-count=version]").inner_text() == "0"
        assert "are under the active key" in page.locator("[data-rotation-text]").inner_text()
        width = page.locator("[data-rotation-bar] [data-seg=ok]").evaluate("s => s.style.width")
        assert width == "100%"
        shot(page, "master-keys")
        s, _ = http_session(c)
        status = s.get(c.url + "/master-keys/status", timeout=30).json()
        assert status["pending"] == 0 and status["total"] == status["under_active"] >= 4  # 3 objects + root's key
    finally:
        c.server.stop()


def test_master_keys_are_root_only(console: Console) -> None:
    s, csrf = http_session(console)
    r = s.post(console.url + "/users", data={"csrf": csrf, "name": "keysnooper"}, timeout=30)
    assert r.status_code == 200
    access_key = re.search(r"data-new-access-key>([^<]+)<", r.text)
    secret = re.search(r"data-new-secret>([^<]+)<", r.text)
    assert access_key and secret
    other, _ = signed_in(console, access_key.group(1), secret.group(1))
    assert other.get(console.url + "/master-keys", timeout=30).status_code == 403
    assert other.get(console.url + "/master-keys/status", timeout=30).status_code == 403
    assert "Master keys" not in other.get(console.url + "/buckets", timeout=30).text

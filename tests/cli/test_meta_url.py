"""--meta-url across the commands (issue 19): a data directory served on PostgreSQL is worked on by
users, keys, scrub, gc, kms, lifecycle and migrate, with the URL given or as the directory recorded it;
backup refuses; the URL's password is never printed, logged or recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.storage import sealbox
from tests.support import Server, running_server

PASSWORD = "s3cret-PW-9f1c"  # the test server trusts loopback, so any password connects; none may show


@pytest.fixture(scope="module")
def served(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    url = pg_server.database("cli_meta_url", migrated=False).replace("sealbox@", f"sealbox:{PASSWORD}@")
    data_dir = tmp_path_factory.mktemp("meta-url") / "data"
    with running_server(data_dir, "--meta-url", url) as srv:
        yield srv, url
    assert PASSWORD not in srv.log()


def test_the_banner_and_the_record_hide_the_password(served: tuple[Server, str]) -> None:
    srv, _url = served
    assert "metadata in PostgreSQL postgresql://sealbox:***@" in srv.log()
    record = (srv.data_dir / "metadata-store").read_text()
    assert PASSWORD not in record and record.splitlines()[0] == "sealbox-metadata-store 1"
    assert not (srv.data_dir / "meta.sqlite3").exists()  # nothing of the metadata in the directory


def test_commands_use_the_recorded_store_or_the_flag(served: tuple[Server, str]) -> None:
    srv, url = served
    d = str(srv.data_dir)
    added = sealbox("users", "add", "bob", "--data-dir", d, "--json")
    assert added.returncode == 0, added.stderr
    listed = sealbox("users", "list", "--data-dir", d, "--meta-url", url)
    assert listed.returncode == 0 and "bob" in listed.stdout, listed.stderr
    env_listed = sealbox("users", "list", "--data-dir", d, env={"SEALBOX_META_URL": url})
    assert env_listed.returncode == 0 and "bob" in env_listed.stdout
    status = sealbox("keys", "status", "--data-dir", d)
    assert status.returncode == 0, status.stderr
    migrate = sealbox("migrate", "--data-dir", d)
    assert migrate.returncode == 0 and "up to date" in migrate.stdout, migrate.stderr
    kms = sealbox("kms", "create-key", "--data-dir", d, "--description", "cli on postgres")
    assert kms.returncode == 0, kms.stderr
    lifecycle = sealbox("lifecycle", "status", "--data-dir", d)
    assert lifecycle.returncode == 0, lifecycle.stderr
    for done in (added, listed, status, migrate, kms, lifecycle):
        assert PASSWORD not in done.stdout + done.stderr


def test_gc_and_scrub_judge_blobs_against_postgres(served: tuple[Server, str]) -> None:
    srv, _url = served
    s3: Any = srv.client()
    s3.create_bucket(Bucket="kept")
    body = os.urandom(200_000)  # a blob file, not inline
    s3.put_object(Bucket="kept", Key="big", Body=body)
    gc = sealbox("gc", "--data-dir", str(srv.data_dir), "--grace", "0", "--json")
    assert gc.returncode == 0, gc.stderr
    assert s3.get_object(Bucket="kept", Key="big")["Body"].read() == body
    scrub = sealbox("scrub", "--data-dir", str(srv.data_dir), "--json")
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr
    assert json.loads(scrub.stdout.strip().splitlines()[-1])["problems"] == []


def test_backup_refuses_and_says_what_to_do(served: tuple[Server, str], tmp_path: Path) -> None:
    srv, _url = served
    done = sealbox("backup", "--data-dir", str(srv.data_dir), "--to", str(tmp_path / "b"))
    assert done.returncode == 2 and "pg_dump" in done.stderr
    assert not (tmp_path / "b").exists()


def test_an_unsupported_url_is_refused_clearly(tmp_path: Path) -> None:
    done = sealbox("migrate", "--data-dir", str(tmp_path), "--meta-url", "mysql://u:pw@h/db")
    assert done.returncode == 1 and "only postgresql://" in done.stderr and "pw@" not in done.stderr

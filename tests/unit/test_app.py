"""The composition root: one worker's S3 API and console share one set of services."""

from __future__ import annotations

from pathlib import Path

from sealbox.app import build_handlers
from sealbox.config import Settings
from sealbox.console.app import ConsoleApp
from sealbox.crypto.keyring import load_or_create_keyring
from sealbox.http.app import S3App


def settings(data_dir: Path) -> Settings:
    made = Settings(data_dir=data_dir)
    load_or_create_keyring(made.keyring_path)
    return made


def test_the_s3_api_and_the_console_share_one_set_of_services(tmp_path: Path) -> None:
    handlers = build_handlers(settings(tmp_path), {"s3", "console"})
    s3, console = handlers["s3"], handlers["console"]
    assert isinstance(s3, S3App) and isinstance(console, ConsoleApp)
    services = console.console.services
    assert services is s3.services  # one metadata store, group-commit writer, I/O pool, keyring source
    assert console.console.jobs._services is services


def test_a_worker_without_a_console_builds_none(tmp_path: Path) -> None:
    assert set(build_handlers(settings(tmp_path), {"s3"})) == {"s3"}

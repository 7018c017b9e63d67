"""``sealbox --version``, help for every flag, validated enumerated flags, the TOML config file and
its precedence (flags > SEALBOX_* environment > file), and ``--log-format json``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from sealbox import config_file
from sealbox.cli.main import main
from tests.support import SEALBOX

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEALBOX), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_version() -> None:
    done = _run("--version")
    assert done.returncode == 0 and done.stdout.startswith("sealbox 0.")


def test_every_flag_of_every_command_has_help() -> None:
    import sealbox.cli.main as cli

    parsers: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *a: object, **k: object) -> argparse.Namespace:
        parsers.append(self)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(SystemExit):
            cli.main(["serve"])
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    missing = []
    for _name, leaf in config_file.leaves(parsers[0]):
        for action in leaf._actions:
            if action.help is None and action.dest not in ("help",):
                missing.append(f"{leaf.prog}: {action.dest}")
    assert not missing, missing


def test_unknown_log_level_is_an_error_from_a_flag_and_from_the_environment() -> None:
    done = _run("serve", "--log-level", "verbose")
    assert done.returncode == 2 and "invalid choice: 'verbose'" in done.stderr
    done = _run("serve", env={"SEALBOX_LOG_LEVEL": "loud"})
    assert done.returncode == 2 and "'loud'" in done.stderr


def test_config_file_precedence_flags_over_environment_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "sealbox.toml"
    conf.write_text('region = "eu-file-1"\nworkers = 3\n[serve]\nrequest-timeout = 12.5\nno-sigv2 = true\n')
    seen: list[argparse.Namespace] = []
    import sealbox.cli.main as cli

    for var in ("SEALBOX_REGION", "SEALBOX_WORKERS", "SEALBOX_REQUEST_TIMEOUT", "SEALBOX_NO_SIGV2"):
        monkeypatch.delenv(var, raising=False)
    # set_defaults(func=_serve) captured the function before the patch: patch the parser's default too
    monkeypatch.setattr(cli, "_add_serve", _patched_add_serve(cli, seen))
    assert main(["--config", str(conf), "serve"]) == 0
    assert (seen[-1].region, seen[-1].workers, seen[-1].request_timeout, seen[-1].no_sigv2) == \
        ("eu-file-1", 3, 12.5, True)
    monkeypatch.setenv("SEALBOX_REGION", "eu-env-1")
    assert main(["--config", str(conf), "serve", "--workers", "1"]) == 0
    assert (seen[-1].region, seen[-1].workers) == ("eu-env-1", 1)


def _patched_add_serve(cli: object, seen: list[argparse.Namespace]) -> object:
    original = cli._add_serve  # type: ignore[attr-defined]

    def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        original(sub)
        def record(args: argparse.Namespace) -> int:
            seen.append(args)
            return 0

        sub.choices["serve"].set_defaults(func=record)

    return add


def test_config_file_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text('prot = 9000\n')
    done = _run("--config", str(conf), "serve")
    assert done.returncode == 2 and "unknown key 'prot'" in done.stderr
    conf.write_text('[serve]\nlog-level = "chatty"\n')
    done = _run("--config", str(conf), "serve")
    assert done.returncode == 2 and "chatty" in done.stderr


def test_the_documented_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    import sealbox.cli.main as cli

    example = ROOT / "docs" / "sealbox.example.toml"
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(cli, "_add_serve", _patched_add_serve(cli, seen))
    for var in ("SEALBOX_HOST", "SEALBOX_ACCESS_LOG", "SEALBOX_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert main(["--config", str(example), "serve"]) == 0
    assert seen[-1].host == "0.0.0.0" and seen[-1].access_log == "/var/log/sealbox/access.log"
    assert seen[-1].data_dir == "/var/lib/sealbox"


def test_log_format_json_makes_server_messages_json(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from sealbox.ops.logs import configure

    try:
        configure("info", "json")
        logging.getLogger("sealbox.server").warning("worker %d exited", 42, extra={"worker": 42})
        logging.getLogger("sealbox.server").debug("not shown")
    finally:
        configure("info", "text")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "worker 42 exited" and record["level"] == "warning"
    assert record["logger"] == "sealbox.server" and record["worker"] == 42


@pytest.mark.parametrize("endpoint", ["ftp://s3.example.com", "https://s3.example.com/prefix", "s3.example.com",
                                      "https://s3.example.com/?x=1"])
def test_a_public_endpoint_must_be_an_http_origin(endpoint: str, tmp_path: Path) -> None:
    done = _run("serve", "--public-endpoint", endpoint, "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2 and "--public-endpoint must be http(s)://host[:port]" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was touched

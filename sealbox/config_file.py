"""The configuration file (``--config sealbox.toml`` or ``$SEALBOX_CONFIG``): TOML, read with the
standard library (tomllib), holding the same keys as the command-line flags (``port = 9000``,
``data-dir = "/var/lib/sealbox"``; ``data_dir`` works too) and the same values as ``SEALBOX_*``.

Precedence: flags > environment > file > built-in defaults. A key that no flag of the command has
is an error (a typo must not be silently ignored); so is a value of the wrong type. Keys may sit at
the top level (every command) or in a table named after the command (``[serve]``, ``[scrub]``).
See docs/sealbox.example.toml for every key.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


def config_path(argv: list[str]) -> Path | None:
    """``--config PATH`` (or ``--config=PATH``) anywhere in argv, else ``$SEALBOX_CONFIG``."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    env = os.environ.get("SEALBOX_CONFIG")
    return Path(env) if env else None


def load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.dest: action for action in parser._actions
            if action.option_strings and action.dest not in ("help", "version", "config")}


def leaves(parser: argparse.ArgumentParser, section: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser with its table name (the first word: ``keys rotate`` reads ``[keys]``)."""
    found: list[tuple[str, argparse.ArgumentParser]] = []
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(section, parser)]
    for name, child in subs[0].choices.items():
        found += leaves(child, section or name)
    return found


def apply(values: dict[str, Any], parser: argparse.ArgumentParser, command: str,
          every: list[tuple[str, argparse.ArgumentParser]], path: Path) -> None:
    """Set the file's values as defaults of ``parser`` (of ``command``) where no SEALBOX_* variable is set."""
    known = _actions(parser)
    sections = {name for name in values if isinstance(values[name], dict)}
    flat = {name: value for name, value in values.items() if name not in sections}
    commands = {name for name, _ in every}
    unknown_sections = sections - commands
    if unknown_sections:
        raise ConfigError(f"config file {path}: unknown table(s) {', '.join(sorted(unknown_sections))}"
                          f" (commands: {', '.join(sorted(commands))})")
    chosen = {**flat, **values.get(command, {})}
    all_dests = {dest for _, p in every for dest in _actions(p)}
    defaults: dict[str, Any] = {}
    for raw_name, value in chosen.items():
        dest = raw_name.replace("-", "_")
        if dest not in all_dests:
            raise ConfigError(f"config file {path}: unknown key {raw_name!r}")
        if dest not in known:
            if raw_name in values.get(command, {}):
                raise ConfigError(f"config file {path}: `sealbox {command}` has no --{dest.replace('_', '-')}")
            continue  # a top-level key another command uses
        if f"SEALBOX_{dest.upper()}" in os.environ:
            continue  # the environment wins over the file
        defaults[dest] = _convert(known[dest], value, raw_name, path)
    parser.set_defaults(**defaults)


def _convert(action: argparse.Action, value: Any, name: str, path: Path) -> Any:
    if action.nargs == 0:  # store_true / store_false
        if not isinstance(value, bool):
            raise ConfigError(f"config file {path}: {name} must be true or false")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(value, bool | dict | list):
        raise ConfigError(f"config file {path}: {name} must be a string or a number")
    if action.type is not None and callable(action.type):
        try:
            value = action.type(str(value))
        except (TypeError, ValueError):
            raise ConfigError(f"config file {path}: {name} = {value!r} is not valid") from None
    else:
        value = str(value)
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"config file {path}: {name} = {value!r}; choose from"
                          f" {', '.join(map(str, action.choices))}")
    return value

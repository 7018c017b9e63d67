"""HTML rendering: Jinja2 templates with autoescaping always on, and the filters pages share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from sealbox.console.web import url
from sealbox.core.types import SSE_C

TEMPLATES = Path(__file__).parent / "templates"
_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(timestamp: float) -> str:
    """UTC, to the second: the same instant whichever worker renders it."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def encryption_label(sse: str | None) -> str:
    if sse == SSE_C:
        return "SSE-C"
    return "SSE-S3" if sse else "None"


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,  # every template, whatever its name: keys and metadata are arbitrary text
            undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        self.env.globals["url"] = url
        self.env.filters["size"] = human_size
        self.env.filters["when"] = when
        self.env.filters["encryption"] = encryption_label

    def page(self, name: str, /, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

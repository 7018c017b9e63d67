"""CopyObject (PUT Object - Copy)."""

from __future__ import annotations

from typing import Any
from sealbox.http.router import Op

HANDLERS: dict[Op, Any] = {}

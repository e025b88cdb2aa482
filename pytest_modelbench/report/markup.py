"""Text helpers of the HTML report and its charts. A leaf: imports nothing of ours."""

from __future__ import annotations

import html
from typing import Any


def esc(value: Any) -> str:
    """Escape any value for HTML text and attribute values (None is the empty string)."""
    return html.escape("" if value is None else str(value), quote=True)


def cut(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters, an ellipsis marking the cut."""
    return text if len(text) <= n else text[:n - 1] + "…"


__all__ = ["cut", "esc"]

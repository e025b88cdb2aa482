"""Number formats shared by the renderers (terminal, HTML, markdown), so a value reads the same everywhere.

A leaf: no imports.
"""

from __future__ import annotations


def fixed(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; an em dash when there is no value (missing, never shown as 0)."""
    return "—" if value is None else f"{value:.{digits}f}"


def usd(value: float | None) -> str:
    """A cost in dollars to four decimals; ``unknown`` when it could not be priced (never $0)."""
    return "unknown" if value is None else f"${value:.4f}"

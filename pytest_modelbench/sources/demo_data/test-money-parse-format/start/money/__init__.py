"""Money amounts as integer cents."""
from money.parse import format_cents, parse_cents

__all__ = ["format_cents", "parse_cents"]

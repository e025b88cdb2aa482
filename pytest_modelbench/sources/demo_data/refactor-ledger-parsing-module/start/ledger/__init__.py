"""Personal ledger: load CSV exports and summarise them."""
from ledger.core import balance, by_month

__all__ = ["balance", "by_month"]

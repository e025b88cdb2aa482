"""Closed integer interval helpers."""
from ranges.intervals import Interval, merge, overlaps, total_length

__all__ = ["Interval", "merge", "overlaps", "total_length"]

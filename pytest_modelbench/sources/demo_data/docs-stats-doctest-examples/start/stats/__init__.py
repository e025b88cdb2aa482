"""Descriptive statistics for small samples."""
from stats.summary import mean, median, mode

__all__ = ["mean", "median", "mode"]

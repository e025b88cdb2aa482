"""Summary statistics."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def mean(values: Sequence[float]) -> float:
    """Return the arithmetic mean of *values*.

    Raises ValueError if *values* is empty.

    >>> mean([1, 2, 3, 4])
    2.5
    >>> mean([])
    Traceback (most recent call last):
    ...
    ValueError: mean() of empty data
    """
    if not values:
        raise ValueError("mean() of empty data")
    return sum(values) / len(values)


def median(values: Sequence[float]) -> float:
    """Return the middle value of *values* (need not be sorted).

    With an even number of values the mean of the two middle ones is
    returned. Raises ValueError if *values* is empty.

    >>> median([3, 1, 2])
    2
    >>> median([4, 1, 3, 2])
    2.5
    """
    if not values:
        raise ValueError("median() of empty data")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def mode(values: Sequence[float]) -> float:
    """Return the most common value in *values*.

    On a tie the smallest of the most common values wins. Raises
    ValueError if *values* is empty.

    >>> mode([1, 2, 2, 3])
    2
    >>> mode([3, 3, 1, 1, 2])
    1
    """
    if not values:
        raise ValueError("mode() of empty data")
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)

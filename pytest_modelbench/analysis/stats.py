"""Small, seeded statistics for verdicts: intervals, paired tests and slopes (pure, no numpy, no pytest).

Every function is deterministic for a given input and seed, and rounds its results, so the same run analysed
twice gives byte-identical numbers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

RESAMPLES = 2000
DIGITS = 6


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion (95% by default); None when n == 0."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one item with ``c`` solved among ``n`` attempts (Chen et al. 2021): 1 - C(n-c,k)/C(n,k)."""
    if not 0 < k <= n:
        raise ValueError(f"pass@k needs 0 < k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on already sorted values."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_mean_ci(values: Sequence[float], seed: int = 0, resamples: int = RESAMPLES,
                      level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean; None for no values."""
    if not values:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = (1 - level) / 2
    return round(_percentile(means, alpha), DIGITS), round(_percentile(means, 1 - alpha), DIGITS)


def paired_bootstrap_ci(baseline: Sequence[float], current: Sequence[float], seed: int = 0,
                        resamples: int = RESAMPLES, level: float = 0.95) -> tuple[float, float] | None:
    """Bootstrap interval of the mean per-item difference ``current - baseline`` (items resampled as pairs)."""
    if len(baseline) != len(current):
        raise ValueError(f"paired samples differ in length: {len(baseline)} != {len(current)}")
    return bootstrap_mean_ci([c - b for b, c in zip(baseline, current, strict=True)], seed, resamples, level)


def mcnemar_exact(losses: int, gains: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test (p = 1/2) on the discordant pairs."""
    n = losses + gains
    if n == 0:
        return 1.0
    k = min(losses, gains)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return round(min(1.0, 2 * tail), DIGITS + 4)


def slope(ys: Sequence[float], xs: Sequence[float] | None = None) -> float | None:
    """Least-squares slope of ``ys`` against ``xs`` (default 0, 1, 2, ...); None below two points."""
    if xs is None:
        xs = range(len(ys))
    xs = list(xs)
    if len(xs) != len(ys):
        raise ValueError(f"slope: {len(xs)} x values for {len(ys)} y values")
    if len(ys) < 2:
        return None
    mx = math.fsum(xs) / len(xs)
    my = math.fsum(ys) / len(ys)
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return round(math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx, DIGITS + 2)


__all__ = ["bootstrap_mean_ci", "mcnemar_exact", "paired_bootstrap_ci", "pass_at_k", "slope", "wilson_interval"]

"""Small, seeded statistics for verdicts: intervals, paired tests, slopes and multiple-testing control (pure, no
numpy, no pytest).

Every function is deterministic for a given input and seed, and rounds its results, so the same run analysed
twice gives byte-identical numbers.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

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


def mcnemar_one_sided(losses: int, gains: int) -> float:
    """Exact one-sided McNemar p-value for "more losses than gains": P(X >= losses), X ~ Binomial(losses + gains,
    1/2). A regression is a drop, so the gate tests one direction only."""
    n = losses + gains
    if n == 0 or losses == 0:
        return 1.0
    tail = math.fsum(math.comb(n, i) for i in range(losses, n + 1)) / 2 ** n
    return round(min(1.0, tail), DIGITS + 4)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"t_cdf: degrees of freedom must be positive, got {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


@functools.lru_cache(maxsize=512)
def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (bisection on :func:`t_cdf`; cached, the gate asks for few levels)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"t_quantile: q must be in (0, 1), got {q}")
    lo, hi = -1e4, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class MeanTest:
    """A one-sample t analysis of a mean (of paired differences, or of per-session slopes)."""

    n: int
    mean: float
    se: float  # standard error of the mean; 0 when every value is equal
    p_below: float  # one-sided p-value of "the true mean is below 0" (H0: mean >= 0)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided t interval of the mean."""
        if self.n < 2 or self.se == 0:
            return round(self.mean, DIGITS), round(self.mean, DIGITS)
        half = t_quantile(0.5 + level / 2, self.n - 1) * self.se
        return round(self.mean - half, DIGITS), round(self.mean + half, DIGITS)

    def upper(self, level: float = 0.95) -> float:
        """One-sided upper confidence bound of the mean."""
        if self.n < 2 or self.se == 0:
            return round(self.mean, DIGITS)
        return round(self.mean + t_quantile(level, self.n - 1) * self.se, DIGITS)


def mean_t_test(values: Sequence[float]) -> MeanTest | None:
    """One-sample t test of ``values`` against 0, one-sided toward a negative mean; None for no values.

    One value is no evidence (p-value 1). Two or more values all equal have no spread to test against: the change
    is the same everywhere, so the p-value is 0 when the mean is below 0 and 1 otherwise."""
    if not values:
        return None
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return MeanTest(n, round(mean, DIGITS), 0.0, 1.0)
    se = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1) / n)
    if se <= 1e-12 * max(1.0, abs(mean)):
        return MeanTest(n, round(mean, DIGITS), 0.0, 0.0 if mean < 0 else 1.0)
    return MeanTest(n, round(mean, DIGITS), round(se, DIGITS + 2), round(t_cdf(mean / se, n - 1), DIGITS + 4))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (in input order): reject test i at family-wise level alpha when its
    adjusted p-value is below alpha. Valid whatever the dependence between the tests."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: (pvalues[i], i))
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = round(running, DIGITS + 4)
    return adjusted


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


__all__ = ["MeanTest", "bootstrap_mean_ci", "holm", "mcnemar_exact", "mcnemar_one_sided", "mean_t_test",
           "paired_bootstrap_ci", "pass_at_k", "slope", "t_cdf", "t_quantile", "wilson_interval"]

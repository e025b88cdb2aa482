"""The statistics module: known values, determinism."""

from __future__ import annotations

import random

import pytest

from pytest_modelbench.analysis.stats import (
    bootstrap_mean_ci,
    mcnemar_exact,
    paired_bootstrap_ci,
    slope,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(0, 10, 0.0, 0.277533), (5, 10, 0.236593, 0.763407), (10, 10, 0.722467, 1.0), (81, 263, 0.255289, 0.366210)],
)
def test_wilson_known_values(successes: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, n)
    assert interval is not None
    assert interval == pytest.approx((low, high), abs=1e-5)


def test_wilson_empty_is_none() -> None:
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    ("losses", "gains", "p"),
    [(0, 0, 1.0), (1, 0, 1.0), (5, 0, 0.0625), (6, 0, 0.03125), (10, 2, 0.038574), (3, 3, 1.0), (0, 12, 0.000488)],
)
def test_mcnemar_exact_known_values(losses: int, gains: int, p: float) -> None:
    assert mcnemar_exact(losses, gains) == pytest.approx(p, abs=1e-6)


def test_mcnemar_is_symmetric() -> None:
    assert mcnemar_exact(7, 2) == mcnemar_exact(2, 7)


@pytest.mark.parametrize(
    ("ys", "expected"),
    [([1, 2, 3], 1.0), ([5, 5, 5, 5], 0.0), ([3, 1], -2.0), ([0.0, 0.5, 0.4, 1.1], 0.32)],
)
def test_slope_known_values(ys: list[float], expected: float) -> None:
    assert slope(ys) == pytest.approx(expected)


def test_slope_with_xs_and_degenerate_cases() -> None:
    assert slope([2, 4, 8], [0, 1, 3]) == pytest.approx(2.0)
    assert slope([1.0]) is None
    assert slope([]) is None
    assert slope([1, 2], [3, 3]) is None
    with pytest.raises(ValueError):
        slope([1, 2], [1, 2, 3])


def test_bootstrap_constant_values_have_a_point_interval() -> None:
    assert bootstrap_mean_ci([0.4] * 12) == (0.4, 0.4)
    assert bootstrap_mean_ci([]) is None


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    rng = random.Random(1)
    small = [rng.gauss(0.5, 0.1) for _ in range(10)]
    large = [rng.gauss(0.5, 0.1) for _ in range(400)]
    lo_s, hi_s = bootstrap_mean_ci(small, seed=3)  # type: ignore[misc]
    lo_l, hi_l = bootstrap_mean_ci(large, seed=3)  # type: ignore[misc]
    assert lo_s < sum(small) / len(small) < hi_s
    assert lo_l < sum(large) / len(large) < hi_l
    assert hi_l - lo_l < hi_s - lo_s
    # A 95% interval of a mean of 400 draws with sd 0.1 is about +-0.0098 wide.
    assert 0.015 < hi_l - lo_l < 0.025


def test_bootstrap_is_seeded_and_reproducible() -> None:
    values = [0.1, 0.9, 0.4, 0.35, 0.8, 0.2, 0.55]
    assert bootstrap_mean_ci(values, seed=7) == bootstrap_mean_ci(values, seed=7)
    assert repr(bootstrap_mean_ci(values, seed=7)) == repr(bootstrap_mean_ci(list(values), seed=7))


def test_paired_bootstrap_of_a_constant_shift() -> None:
    base = [0.2, 0.5, 0.7, 0.9, 0.4]
    assert paired_bootstrap_ci(base, [b - 0.1 for b in base]) == pytest.approx((-0.1, -0.1))
    with pytest.raises(ValueError):
        paired_bootstrap_ci([0.1], [0.1, 0.2])


def test_paired_bootstrap_detects_a_drop_hidden_by_item_spread() -> None:
    rng = random.Random(5)
    base = [rng.uniform(0.1, 0.9) for _ in range(30)]
    current = [b - 0.05 + rng.gauss(0, 0.02) for b in base]
    low, high = paired_bootstrap_ci(base, current, seed=0)  # type: ignore[misc]
    assert high < 0 and low > -0.07

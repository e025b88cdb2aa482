"""Seeded, stratified sampling (product.md §4): pytest_modelbench.sampling.sample."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sampling.sample import default_stratum, stratified_sample, stratum_counts


def make(sid: str, intent: str = "fix-bug", size: str = "small", model: str | None = None) -> Session:
    return Session(id=sid, source="src", intent=intent, prompt="p", workspace=FileSet(), check=CheckSpec(),
                   gold=GoldSpec(delete=("x",)), size_band=size, original=Original(model=model))


def population() -> list[Session]:
    """60 sessions in 4 strata of sizes 30, 20, 8, 2."""
    spec = [("fix-bug", "small", 30), ("refactor", "small", 20), ("docs", "medium", 8), ("ops", "large", 2)]
    return [make(f"{intent}-{size}-{i:02d}", intent, size) for intent, size, k in spec for i in range(k)]


def keys(sessions: list[Session]) -> list[str]:
    return [s.key for s in sessions]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**40])
def test_same_seed_gives_same_sample(seed: int) -> None:
    assert keys(stratified_sample(population(), 15, seed)) == keys(stratified_sample(population(), 15, seed))


def test_different_seeds_can_differ() -> None:
    samples = {tuple(keys(stratified_sample(population(), 10, seed))) for seed in range(10)}
    assert len(samples) > 1


@pytest.mark.parametrize("shuffle_seed", [1, 2, 3])
@pytest.mark.parametrize("n", [3, 10, 25])
def test_input_order_does_not_matter(shuffle_seed: int, n: int) -> None:
    shuffled = population()
    random.Random(shuffle_seed).shuffle(shuffled)
    assert keys(stratified_sample(shuffled, n, 7)) == keys(stratified_sample(population(), n, 7))


def test_result_is_sorted_by_key_and_unique() -> None:
    got = keys(stratified_sample(population(), 20, 3))
    assert got == sorted(got)
    assert len(set(got)) == len(got)


@pytest.mark.parametrize("n", [4, 5, 10, 17, 30, 59])
@pytest.mark.parametrize("seed", [0, 9])
def test_exact_size_with_one_per_stratum(n: int, seed: int) -> None:
    got = stratified_sample(population(), n, seed)
    assert len(got) == n
    per = Counter(default_stratum(s) for s in got)
    assert set(per) == {default_stratum(s) for s in population()}
    assert all(count >= 1 for count in per.values())


def test_allocation_is_proportional() -> None:
    # 20 of 60: one each, then the 16 spare places split over spare sizes 29, 19, 7, 1 (total 56):
    # quotas 8.29, 5.43, 2.0, 0.29 -> 8, 5, 2, 0 and the last place to the largest remainder (refactor).
    per = Counter(s.intent for s in stratified_sample(population(), 20, 5))
    assert per == {"fix-bug": 9, "refactor": 7, "docs": 3, "ops": 1}


@pytest.mark.parametrize("n", [None, 0, 60, 1000])
def test_none_zero_or_large_n_means_all(n: int | None) -> None:
    assert keys(stratified_sample(population(), n, 1)) == sorted(keys(population()))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_fewer_than_strata_picks_distinct_strata(n: int, seed: int) -> None:
    got = stratified_sample(population(), n, seed)
    assert len(got) == n
    assert len({default_stratum(s) for s in got}) == n


def test_original_model_is_part_of_the_stratum() -> None:
    sessions = [make(f"a{i}", model="gpt") for i in range(5)] + [make(f"b{i}", model="claude") for i in range(5)]
    got = stratified_sample(sessions, 2, 0)
    assert {s.original.model for s in got} == {"gpt", "claude"}


def test_custom_stratum_function() -> None:
    got = stratified_sample(population(), 2, 0, stratum=lambda s: (s.size_band,))
    assert len({s.size_band for s in got}) == 2


def test_stratum_counts_labels() -> None:
    sessions = [make("a", "fix-bug", "small"), make("b", "fix-bug", "small"), make("c", "docs", "large", "gpt")]
    assert stratum_counts(sessions) == {"docs × large × gpt": 1, "fix-bug × small": 2}
    assert list(stratum_counts(population())) == sorted(stratum_counts(population()))
    assert sum(stratum_counts(population()).values()) == 60

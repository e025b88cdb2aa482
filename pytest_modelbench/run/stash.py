"""Where the run's state is found from a ``pytest.Config``: one key into ``config.stash``.

A leaf (imports nothing of ours at run time) so that the hook implementations and the items can reach the session
object without importing the module that defines it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_modelbench.run.session import BenchmarkSession

BENCH_KEY: pytest.StashKey[BenchmarkSession] = pytest.StashKey()


def bench_of(config: pytest.Config) -> BenchmarkSession:
    """The run state ``pytest_configure`` stored (only present with ``--modelbench``)."""
    return config.stash[BENCH_KEY]


__all__ = ["BENCH_KEY", "bench_of"]

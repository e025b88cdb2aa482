"""The live status line while models are called: spent / cap, calls in flight, retries waiting, cache hits (issue 17).

The door's counters are observed through its ``on_change`` events (no sleeps, no timing); the line is a pure function.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pytest_modelbench.models.door import Door, DoorConfig  # noqa: E402
from pytest_modelbench.report.terminal import status_line  # noqa: E402
from pytest_modelbench.testing.openai_server import FakeOpenAI  # noqa: E402

MESSAGES = [{"role": "user", "content": "say hi"}]


def _watch(door: Door) -> list[tuple[int, int, int]]:
    seen: list[tuple[int, int, int]] = []
    door.on_change = lambda: seen.append((door.in_flight, door.retries_waiting, door.cache_hits))
    return seen


def test_door_reports_calls_in_flight_retries_waiting_and_cache_hits(tmp_path: Path) -> None:
    with FakeOpenAI(fault_rate=1.0, fault_kinds=("500",), lifetime=120) as failing:
        door = Door(DoorConfig(api_base=failing.base_url, max_retries=1, backoff_base=0.01, cache_dir=tmp_path))
        seen = _watch(door)
        answer = door.complete({"model": "openai/noop", "messages": MESSAGES})
    assert not answer["ok"] and answer["attempts"] == 2
    assert seen == [(1, 0, 0), (1, 1, 0), (1, 0, 0), (0, 0, 0)]  # sent, retry waiting, retried, done

    with FakeOpenAI(lifetime=120) as ok:
        door = Door(DoorConfig(api_base=ok.base_url, cache_dir=tmp_path))
        seen = _watch(door)
        assert door.complete({"model": "openai/noop", "messages": MESSAGES})["ok"]
        assert door.complete({"model": "openai/noop", "messages": MESSAGES})["cached"]
    assert seen == [(1, 0, 0), (0, 0, 0), (0, 0, 1)]


def test_status_line_words() -> None:
    assert status_line(0.0123, 2.0, 3, 1, 7) == ("modelbench live: spent $0.0123 / cap $2.0000 · 3 call(s) in flight "
                                                 "· 1 retry waiting · 7 cache hit(s)")
    assert "/ no cap" in status_line(0.0, None, 0, 2, 0) and "2 retries waiting" in status_line(0.0, None, 0, 2, 0)


@pytest.mark.slow
def test_live_line_shown_with_v_and_not_without(pytester: pytest.Pytester) -> None:
    args = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--models", "openai/noop",
            "--sample-size", "1", "--modelbench-cache", "off")
    with FakeOpenAI(lifetime=300) as server:
        verbose = pytester.runpytest_subprocess(*args, "--model-api-base", server.base_url, "-v")
        quiet = pytester.runpytest_subprocess(*args, "--model-api-base", server.base_url)
    assert verbose.ret == 0, verbose.stdout.str()[-2000:]
    verbose.stdout.fnmatch_lines(["modelbench live: spent $0.0000 / no cap · 1 call(s) in flight · 0 retries "
                                  "waiting · 0 cache hit(s)",
                                  "modelbench live: spent $0.0000 / no cap · 0 call(s) in flight · *"])
    assert "modelbench live:" not in quiet.stdout.str()  # not a terminal, not -v: no live line

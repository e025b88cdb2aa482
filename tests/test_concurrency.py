"""Concurrency: many writers on one store, a run of 500 items on 8 xdist workers, one ledger for 8 processes."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelbench.models.broker import Broker
from pytest_modelbench.models.door import DoorConfig
from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.store.sqlite import Store
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts, read_store, write_case

RUN = "bench_0000cafe_20261129_120000"
WRITERS = 8
TOTAL = 500


def _outcome(writer: int, i: int) -> Outcome:
    return Outcome(
        session_id=f"s{writer}-{i:03d}", source="conc", model=f"m/{i % 5}", intent="fix-bug", status="complete",
        solved=i % 2 == 0, static_score=0.5, llm_score=None, combined_score=i / TOTAL, cost_usd=0.001 * i,
        duration_seconds=0.1, num_turns=1, components=(ComponentScore("tests", 1.0),),
        evidence={"diff": "x" * 2000, "writer": writer})


def _write_many(db: str, writer: int, count: int, barrier, errors) -> None:
    try:
        store = Store(Path(db))  # every writer also runs the migration check at the same moment
        barrier.wait(timeout=60)
        for i in range(count):
            store.write_outcome(RUN, _outcome(writer, i))
        store.close()
    except BaseException as exc:  # reported to the parent, which fails the test with it
        errors.put(f"writer {writer}: {type(exc).__name__}: {exc}")


def test_500_outcomes_from_8_processes_lose_no_row(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    Store(db).create_run(RUN, None, 1, ["m/0"], [], {})
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(WRITERS), ctx.Queue()
    counts = [TOTAL // WRITERS + (1 if w < TOTAL % WRITERS else 0) for w in range(WRITERS)]
    procs = [ctx.Process(target=_write_many, args=(str(db), w, counts[w], barrier, errors)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []  # in particular no "database is locked"
    assert [p.exitcode for p in procs] == [0] * WRITERS
    rows = Store(db).outcomes(RUN)
    assert len(rows) == TOTAL == sum(counts)
    assert {(r["source_session_id"], r["candidate_model"]) for r in rows} == {
        (f"conc/s{w}-{i:03d}", f"m/{i % 5}") for w in range(WRITERS) for i in range(counts[w])}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


CHEAP_CANDIDATES = """
from pytest_modelbench.replay import ReplayResult


def pytest_modelbench_replay(config, session, model, workspace):
    if not model.startswith("cheap/"):
        return None
    # No model call and no check: the item's whole cost is recording its outcome.
    return ReplayResult(turns=0, cost_usd=0.0, status="skipped", reason=f"cheap candidate {model}")
"""


@pytest.mark.slow
def test_500_items_on_8_workers_every_outcome_stored_once(pytester: pytest.Pytester) -> None:
    for i in range(5):
        write_case(pytester.path / "cases", f"c{i}", {"m.py": "X = 0\n"}, {"m.py": f"X = {i + 1}\n"},
                   {"tests/test_m.py": f"from m import X\n\n\ndef test_x():\n    assert X == {i + 1}\n"})
    pytester.makeconftest(CHEAP_CANDIDATES)
    models = ",".join(f"cheap/m{j:03d}" for j in range(100))
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", "local", "--models", models, "-n", "8", timeout=300)
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, out[-3000:]
    assert "database is locked" not in out
    result.assert_outcomes(skipped=TOTAL)
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert len(runs) == 1 and runs[0]["status"] == "complete"
    keys = [(r["source_session_id"], r["candidate_model"]) for r in rows]
    assert len(keys) == len(set(keys)) == TOTAL
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert len(artifact["outcomes"]) == TOTAL
    assert {(f"{o['source']}/{o['session_id']}", o["model"]) for o in artifact["outcomes"]} == set(keys)


CALLER = r"""
import json, sys
from pathlib import Path
from pytest_modelbench.models.broker import BrokerClient

client = BrokerClient(Path(sys.argv[1]), timeout=120)
for i in range(int(sys.argv[3])):
    reply = client.call({"op": "complete", "model": "openai/noop", "max_tokens": 40,
                         "messages": [{"role": "user", "content": f"caller {sys.argv[2]} call {i}"}]})
    print(json.dumps({"ok": reply.get("ok"), "kind": reply.get("kind"), "cost": reply.get("cost_usd"),
                      "error": reply.get("error")}), flush=True)
"""


@pytest.mark.slow
def test_budget_ledger_is_exact_with_8_processes_calling_at_once(tmp_path: Path) -> None:
    with FakeOpenAI(lifetime=300, latency=0.02) as server:
        config = DoorConfig(api_base=server.base_url, prices={"openai/noop": (1000.0, 1000.0)},
                            budget_cap_usd=0.6, cache_mode="off", max_retries=0)
        broker = Broker(config, tmp_path / "broker.sock")
        try:
            procs = [subprocess.Popen([sys.executable, "-c", CALLER, str(broker.socket_path), str(w), "12"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for w in range(WRITERS)]
            replies = []
            for p in procs:
                out, err = p.communicate(timeout=180)
                assert p.returncode == 0, err[-2000:]
                replies += [json.loads(line) for line in out.splitlines()]
            state = broker.dispatch({"op": "budget"})
        finally:
            broker.close()
        paid = [r for r in replies if r["ok"]]
        refused = [r for r in replies if r["kind"] == "over-budget"]
        assert len(replies) == WRITERS * 12
        assert len(paid) + len(refused) == len(replies), [r for r in replies if not r["ok"] and r not in refused]
        assert paid and refused, "the cap should let some calls through and refuse the rest"
        # Exact: the ledger's spend is the sum of what each call reported, and every request sent was paid for.
        assert state["spent_usd"] == pytest.approx(sum(r["cost"] for r in paid), abs=1e-9)
        assert state["spent_usd"] <= 0.6 and state["reserved_usd"] == 0
        assert len(server.requests) == len(paid), (len(server.requests), len(paid))
        assert state["exhausted"] is True and state["refused"] >= 1

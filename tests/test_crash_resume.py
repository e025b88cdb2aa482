"""Crashes and recovery, end to end: kill -9 of an xdist worker, a real SIGINT, and --modelbench-resume.

The runs are real ``pytest --modelbench`` subprocesses over small case files; a conftest candidate (``test/slow``)
sleeps inside its replay so that a worker can be killed, or the run interrupted, while outcomes are being written.
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import read_artifacts, read_store, write_case

SLOW_CANDIDATE = """
import os
import time
from pathlib import Path

from pytest_modelbench.replay import ReplayResult


def pytest_modelbench_replay(config, session, model, workspace):
    if model != "test/slow":
        return None
    marks = Path(os.environ["MB_MARKS"])
    with open(marks / "calls.log", "a") as fh:
        fh.write(session.id + "\\n")
    (marks / f"start-{session.id}-{os.getpid()}").write_text("")
    time.sleep(float(os.environ.get("MB_SLEEP", "0")))
    for rel, text in session.gold.files.files:
        (workspace / rel).write_text(text)
    (marks / f"done-{session.id}").write_text("")
    return ReplayResult(turns=1, cost_usd=0.0)
"""

MODELS = "replay/gold,test/slow"


def _cases(folder: Path, n: int) -> list[str]:
    ids = []
    for i in range(n):
        case_id = f"c{i}"
        write_case(folder, case_id, {"calc.py": f"def f{i}(a):\n    return a\n"},
                   {"calc.py": f"def f{i}(a):\n    return a + {i}\n"},
                   {"tests/test_f.py": f"from calc import f{i}\n\n\ndef test_f():\n    assert f{i}(1) == {1 + i}\n"})
        ids.append(case_id)
    return ids


def _setup(pytester: pytest.Pytester, n: int, sleep: float) -> tuple[list[str], Path, dict[str, str]]:
    ids = _cases(pytester.path / "cases", n)
    pytester.makeconftest(SLOW_CANDIDATE)
    marks = pytester.path / "marks"
    marks.mkdir()
    env = {**os.environ, "MB_MARKS": str(marks), "MB_SLEEP": str(sleep), "PYTHONDONTWRITEBYTECODE": "1"}
    return ids, marks, env


def _args(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
            "--runner", "local", "--models", MODELS, "--modelbench-store", ".modelbench/modelbench.db", *extra]


def _committed(db: Path) -> dict[tuple[str, str], str]:
    """Outcome rows committed so far (read while the run writes: WAL readers never block it)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("SELECT source_session_id, candidate_model, status FROM benchmark_outcomes").fetchall()
    except sqlite3.OperationalError:  # the tables do not exist yet
        return {}
    return {(k, m): s for k, m, s in rows}


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the run hung; output:\n{out[-3000:]}") from None
    return proc.returncode, out


def _each_item_once(artifact: dict, ids: list[str]) -> None:
    keys = [(o["session_id"], o["model"], o["repeat_index"]) for o in artifact["outcomes"]]
    assert sorted(keys) == sorted((i, m, 0) for i in ids for m in MODELS.split(","))
    assert all(o["status"] == "complete" and o["solved"] is True for o in artifact["outcomes"]), artifact["outcomes"]


def _calls(marks: Path) -> list[str]:
    return (marks / "calls.log").read_text().split()


@pytest.mark.slow
def test_kill_9_of_a_worker_loses_no_finished_outcome_and_resume_completes(pytester: pytest.Pytester) -> None:
    ids, marks, env = _setup(pytester, 6, sleep=4)
    db = pytester.path / ".modelbench" / "modelbench.db"
    proc = subprocess.Popen([*_args("-n", "2")], cwd=pytester.path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: len(_committed(db)) >= 2 and any(marks.glob("start-*")), 120, "outcomes and a slow replay")
        victim = None
        for mark in sorted(marks.glob("start-*")):
            _, session_id, pid = mark.name.split("-")
            if not (marks / f"done-{session_id}").exists():
                victim = (session_id, int(pid))
                break
        assert victim is not None, "no slow replay in flight to kill"
        before = _committed(db)
        os.kill(victim[1], signal.SIGKILL)
    finally:
        code, out = _finish(proc)
    assert code == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "crashed while running" in out
    runs, rows = read_store(db)
    after = {(r["source_session_id"], r["candidate_model"]): r["status"] for r in rows}
    # Everything committed before the kill is still there, unchanged.
    assert {k: after.get(k) for k in before} == before
    crashed = after[(f"cases/{victim[0]}", "test/slow")]
    assert crashed == "failed"
    (row,) = [r for r in rows if r["source_session_id"] == f"cases/{victim[0]}" and r["candidate_model"] == "test/slow"]
    assert "the worker running this item died" in row["skip_reason"] and "crashed" in row["skip_reason"]
    assert runs[0]["status"] == "complete"  # the run finished; the crash is one failed outcome in it
    run_id = runs[0]["id"]

    # Resume: only the crashed item runs again; the artifact holds every item once, all complete.
    calls_before = _calls(marks)
    code, out = _finish(subprocess.Popen(_args("-n", "2", "--modelbench-resume", run_id), cwd=pytester.path,
                                         env={**env, "MB_SLEEP": "0"}, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True))
    assert code == 0, out[-3000:]
    assert _calls(marks)[len(calls_before):] == [victim[0]]
    runs, rows = read_store(db)
    assert [r["id"] for r in runs] == [run_id] and runs[0]["status"] == "complete"
    assert len(rows) == 12 and all(r["status"] == "complete" for r in rows)
    artifact = json.loads((pytester.path / ".modelbench" / "runs" / f"{run_id}.json").read_text())
    assert artifact["run"]["id"] == run_id and artifact["run"]["status"] == "complete"
    _each_item_once(artifact, ids)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_sigint_writes_an_interrupted_artifact_and_resume_reruns_only_the_rest(pytester: pytest.Pytester,
                                                                               workers: tuple[str, ...]) -> None:
    ids, marks, env = _setup(pytester, 4, sleep=3)
    db = pytester.path / ".modelbench" / "modelbench.db"
    # Its own process group, like a terminal's foreground job: Ctrl-C reaches the controller and its workers.
    proc = subprocess.Popen(_args(*workers), cwd=pytester.path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _wait(lambda: len(_committed(db)) >= 2, 120, "two committed outcomes")
        _wait(lambda: len(list(marks.glob("start-*"))) > len(list(marks.glob("done-*"))), 60, "a replay in flight")
        os.killpg(proc.pid, signal.SIGINT)
    finally:
        code, out = _finish(proc)
    assert code == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "KeyboardInterrupt" in out
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["interrupted"] is True and artifact["run"]["status"] == "failed"
    runs, rows = read_store(db)
    assert runs[0]["status"] == "failed"
    stored = {(r["source_session_id"], r["candidate_model"]) for r in rows}
    assert stored == {(f"{o['source']}/{o['session_id']}", o["model"]) for o in artifact["outcomes"]}
    assert 2 <= len(stored) < 8
    done_before = set(stored)

    calls_before = _calls(marks)
    code, out = _finish(subprocess.Popen(_args(*workers, "--modelbench-resume", runs[0]["id"]), cwd=pytester.path,
                                         env={**env, "MB_SLEEP": "0"}, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True))
    assert code == 0, out[-3000:]
    complete_before = {k for k in done_before if k[1] == "test/slow"}
    rerun = _calls(marks)[len(calls_before):]
    assert sorted(rerun) == sorted(i for i in ids if (f"cases/{i}", "test/slow") not in complete_before)
    reused = len([r for r in rows if r["status"] == "complete"])
    assert (f"modelbench: resumed run {runs[0]['id']}: {reused} complete item(s) reused from the store (deselected), "
            f"{8 - reused} run now") in out
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    assert artifact["run"]["id"] == runs[0]["id"] and artifact["run"]["interrupted"] is False
    _each_item_once(artifact, ids)
    runs, rows = read_store(db)
    assert len(runs) == 1 and runs[0]["status"] == "complete" and len(rows) == 8


def test_resume_refuses_an_unknown_run_or_another_configuration(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, marks, _ = _setup(pytester, 1, sleep=0)
    monkeypatch.setenv("MB_MARKS", str(marks))
    base = ["--modelbench", "-p", "no:cacheprovider", "--sessions", "cases", "--runner", "local"]
    first = pytester.runpytest_subprocess(*base, "--models", MODELS)
    assert first.ret == 0
    runs, _ = read_store(pytester.path / ".modelbench" / "modelbench.db")
    run_id = runs[0]["id"]

    unknown = pytester.runpytest_subprocess(*base, "--modelbench-resume", "bench_00000000_20260101_000000")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    assert "--modelbench-resume bench_00000000_20260101_000000: no run with that id in" in unknown.stderr.str()

    other = pytester.runpytest_subprocess(*base, "--models", "replay/gold", "--rubric", "tests-only",
                                          "--modelbench-resume", run_id)
    assert other.ret == pytest.ExitCode.USAGE_ERROR
    err = other.stderr.str()
    assert f"--modelbench-resume {run_id}: this invocation's configuration differs" in err
    assert 'models ["replay/gold", "test/slow"] (stored) vs ["replay/gold"] (now)' in err
    assert "rubric weights" in err and "Traceback" not in err

    # Resuming a run that is already complete reruns nothing and rewrites the same artifact.
    again = pytester.runpytest_subprocess(*base, "--models", MODELS, "--modelbench-resume", run_id)
    assert again.ret == 0, again.stdout.str()
    again.stdout.fnmatch_lines(["*2 deselected*", f"modelbench: resumed run {run_id}: 2 complete item(s) reused*"])
    artifact = json.loads((pytester.path / ".modelbench" / "runs" / f"{run_id}.json").read_text())
    assert len(artifact["outcomes"]) == 2 and artifact["run"]["status"] == "complete"
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert len(runs) == 1 and len(rows) == 2


@pytest.mark.slow
def test_kill_9_of_the_whole_run_keeps_committed_outcomes_and_resume_finishes_it(pytester: pytest.Pytester) -> None:
    ids, marks, env = _setup(pytester, 4, sleep=3)
    db = pytester.path / ".modelbench" / "modelbench.db"
    proc = subprocess.Popen(_args(), cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        _wait(lambda: len(_committed(db)) >= 3, 120, "three committed outcomes")
        before = _committed(db)
        os.killpg(proc.pid, signal.SIGKILL)  # no sessionfinish, no artifact: only what was committed survives
    finally:
        _finish(proc)
    runs, rows = read_store(db)
    assert runs[0]["status"] == "running" and not (pytester.path / ".modelbench" / "runs").exists()
    after = {(r["source_session_id"], r["candidate_model"]): r["status"] for r in rows}
    assert {k: after.get(k) for k in before} == before
    code, out = _finish(subprocess.Popen(_args("--modelbench-resume", runs[0]["id"]), cwd=pytester.path,
                                         env={**env, "MB_SLEEP": "0"}, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True))
    assert code == 0, out[-3000:]
    runs, rows = read_store(db)
    assert len(runs) == 1 and runs[0]["status"] == "complete" and len(rows) == 8
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["id"] == runs[0]["id"]
    _each_item_once(artifact, ids)

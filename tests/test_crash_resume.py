"""Crashes and recovery, end to end: kill -9 of an xdist worker, a real SIGINT, and --modelbench-resume.

The runs are real ``pytest --modelbench`` subprocesses over small case files. A conftest candidate (``test/slow``)
*blocks* inside its replay of the sessions named in ``MB_BLOCK`` until the test creates the file ``release`` (it never
does in these tests): a worker is killed, or the run interrupted, while that replay is certainly in flight and the
run certainly unfinished, however loaded the machine. Nothing here waits for a duration; every wait is for an event
and bounded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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
    if session.id in os.environ.get("MB_BLOCK", "").split(","):
        # Held until released: the test signals or kills while this replay is in flight (bounded, so that a broken
        # test cannot leave a process behind for ever).
        (marks / f"blocked-{session.id}-{os.getpid()}").write_text("")
        deadline = time.monotonic() + 600
        try:
            while not (marks / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        except KeyboardInterrupt:
            (marks / f"interrupted-{session.id}").write_text("")
            raise
        if not (marks / "release").exists():
            raise RuntimeError("test/slow was never released")
    for rel, text in session.gold.files.files:
        (workspace / rel).write_text(text)
    return ReplayResult(turns=1, cost_usd=0.0)
"""

MODELS = "replay/gold,test/slow"
COMPLETE = "complete"


def _cases(folder: Path, n: int) -> list[str]:
    ids = []
    for i in range(n):
        case_id = f"c{i}"
        write_case(folder, case_id, {"calc.py": f"def f{i}(a):\n    return a\n"},
                   {"calc.py": f"def f{i}(a):\n    return a + {i}\n"},
                   {"tests/test_f.py": f"from calc import f{i}\n\n\ndef test_f():\n    assert f{i}(1) == {1 + i}\n"})
        ids.append(case_id)
    return ids


def _setup(pytester: pytest.Pytester, n: int, block: str = "") -> tuple[list[str], Path, dict[str, str]]:
    ids = _cases(pytester.path / "cases", n)
    pytester.makeconftest(SLOW_CANDIDATE)
    marks = pytester.path / "marks"
    marks.mkdir()
    env = {**os.environ, "MB_MARKS": str(marks), "MB_BLOCK": block, "PYTHONDONTWRITEBYTECODE": "1"}
    return ids, marks, env


# pytest, with Ctrl-C restored to raising KeyboardInterrupt: a process started in the background by a shell without
# job control (nohup, `cmd &` in a script, some CI runners) inherits SIGINT *ignored*, and Python then installs no
# KeyboardInterrupt handler, so the SIGINT these tests send would silently do nothing. xdist's workers, started by
# exec from a process that handles SIGINT, get the default disposition back by themselves.
PYTEST_WITH_CTRL_C = ("import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "sys.exit(pytest.console_main())")


def _args(*extra: str) -> list[str]:
    return [sys.executable, "-c", PYTEST_WITH_CTRL_C, "--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
            "--runner", "local", "--models", MODELS, "--modelbench-store", ".modelbench/modelbench.db", *extra]


class Run:
    """One ``pytest --modelbench`` subprocess in its own process group (like a terminal's foreground job, so that
    Ctrl-C reaches the controller and its workers); a thread collects its output so that it never blocks on a pipe."""

    def __init__(self, cwd: Path, env: dict[str, str], *extra: str) -> None:
        self.proc = subprocess.Popen(_args(*extra), cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._lines.extend, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the run hung; output:\n{self.output[-3000:]}") from None
        self._reader.join(timeout=60)
        return self.proc.returncode, self.output

    def kill(self) -> None:
        """Stop the whole run now (the test already failed: its own error is what the report must show)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


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


def _wait(predicate: Callable[[], bool], what: str, run: Run, timeout: float = 300) -> None:
    """Poll for an event; fail at once if the run ends first (then the event can never come)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if not run.alive():
            raise AssertionError(f"the run ended before {what}; output:\n{run.output[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; output:\n{run.output[-3000:]}")
        time.sleep(0.05)


def _blocked(marks: Path, session_id: str) -> int | None:
    """The pid of the process holding ``session_id``'s blocked replay, once it is blocked."""
    found = list(marks.glob(f"blocked-{session_id}-*"))
    return int(found[0].name.rsplit("-", 1)[1]) if found else None


def _interrupt(run: Run, marks: Path) -> None:
    """Ctrl-C, re-sent until it has landed (the run stopped, or reported the interrupt); then wait for the end.

    A signal is not re-sent once it has landed: a second Ctrl-C would cut short the writing of the interrupted run.
    """
    assert run.alive(), f"the run ended before it could be interrupted; output:\n{run.output[-3000:]}"

    def landed() -> bool:
        return not run.alive() or any(marks.glob("interrupted-*")) or "KeyboardInterrupt" in run.output

    for _ in range(20):
        os.killpg(run.proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        while not landed() and time.monotonic() < deadline:
            time.sleep(0.05)
        if landed():
            return
    raise AssertionError(f"20 SIGINTs did not stop the run (is SIGINT ignored in it? {_sigint_ignored(run.proc.pid)}); "
                         f"output:\n{run.output[-3000:]}")


def _sigint_ignored(pid: int) -> bool | None:
    """Whether process ``pid`` ignores SIGINT (Linux: the SigIgn mask of /proc/PID/status); None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        return None
    return None


def _each_item_once(artifact: dict, ids: list[str]) -> None:
    keys = [(o["session_id"], o["model"], o["repeat_index"]) for o in artifact["outcomes"]]
    assert sorted(keys) == sorted((i, m, 0) for i in ids for m in MODELS.split(","))
    assert all(o["status"] == COMPLETE and o["solved"] is True for o in artifact["outcomes"]), artifact["outcomes"]


def _calls(marks: Path) -> list[str]:
    return (marks / "calls.log").read_text().split()


def _not_complete(rows: list[dict], ids: list[str], model: str = "test/slow") -> list[str]:
    """The sessions whose ``model`` item has no complete row: exactly what a resume must run again."""
    complete = {r["source_session_id"] for r in rows if r["candidate_model"] == model and r["status"] == COMPLETE}
    return sorted(i for i in ids if f"cases/{i}" not in complete)


@pytest.mark.slow
def test_kill_9_of_a_worker_loses_no_finished_outcome_and_resume_completes(pytester: pytest.Pytester) -> None:
    ids, marks, env = _setup(pytester, 6, block="c2")
    db = pytester.path / ".modelbench" / "modelbench.db"
    run = Run(pytester.path, env, "-n", "2")
    try:
        _wait(lambda: _blocked(marks, "c2") is not None and COMPLETE in _committed(db).values(),
              "a committed outcome and the blocked replay of c2", run)
        victim = _blocked(marks, "c2")
        assert victim is not None and victim != run.proc.pid
        os.kill(victim, 0)  # the worker is alive, blocked in its replay: this kill lands mid-item
        assert run.alive()
        before = _committed(db)
        os.kill(victim, signal.SIGKILL)
    except BaseException:
        run.kill()
        raise
    code, out = run.finish()
    assert code == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "crashed while running" in out
    runs, rows = read_store(db)
    after = {(r["source_session_id"], r["candidate_model"]): r["status"] for r in rows}
    # Everything committed before the kill is still there, unchanged.
    assert {k: after.get(k) for k in before} == before
    assert after[("cases/c2", "test/slow")] == "failed"
    (row,) = [r for r in rows if r["source_session_id"] == "cases/c2" and r["candidate_model"] == "test/slow"]
    assert "the worker running this item died" in row["skip_reason"] and "crashed" in row["skip_reason"]
    assert runs[0]["status"] == "complete"  # the run finished; the crash is one failed outcome in it
    assert len(rows) == 12 and [k for k, s in after.items() if s != COMPLETE] == [("cases/c2", "test/slow")]
    run_id = runs[0]["id"]

    # Resume: only the items without a complete row run again; the artifact holds every item once, all complete.
    expected = _not_complete(rows, ids)
    assert expected == ["c2"]
    calls_before = _calls(marks)
    code, out = Run(pytester.path, {**env, "MB_BLOCK": ""}, "-n", "2", "--modelbench-resume", run_id).finish()
    assert code == 0, out[-3000:]
    assert sorted(_calls(marks)[len(calls_before):]) == expected
    runs, rows = read_store(db)
    assert [r["id"] for r in runs] == [run_id] and runs[0]["status"] == "complete"
    assert len(rows) == 12 and all(r["status"] == COMPLETE for r in rows)
    artifact = json.loads((pytester.path / ".modelbench" / "runs" / f"{run_id}.json").read_text())
    assert artifact["run"]["id"] == run_id and artifact["run"]["status"] == "complete"
    _each_item_once(artifact, ids)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_sigint_writes_an_interrupted_artifact_and_resume_reruns_only_the_rest(pytester: pytest.Pytester,
                                                                               workers: tuple[str, ...]) -> None:
    ids, marks, env = _setup(pytester, 4, block="c1")
    db = pytester.path / ".modelbench" / "modelbench.db"
    run = Run(pytester.path, env, *workers)
    try:
        _wait(lambda: _blocked(marks, "c1") is not None and COMPLETE in _committed(db).values(),
              "a committed outcome and the blocked replay of c1", run)
        _interrupt(run, marks)
    except BaseException:
        run.kill()
        raise
    code, out = run.finish()
    assert code == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "KeyboardInterrupt" in out
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["interrupted"] is True and artifact["run"]["status"] == "failed"
    runs, rows = read_store(db)
    assert runs[0]["status"] == "failed"
    stored = {(r["source_session_id"], r["candidate_model"]) for r in rows}
    assert stored == {(f"{o['source']}/{o['session_id']}", o["model"]) for o in artifact["outcomes"]}
    complete = [r for r in rows if r["status"] == COMPLETE]
    assert 1 <= len(complete) < 8
    expected = _not_complete(rows, ids)
    assert "c1" in expected  # the interrupted replay never completed

    calls_before = _calls(marks)
    code, out = Run(pytester.path, {**env, "MB_BLOCK": ""}, *workers, "--modelbench-resume", runs[0]["id"]).finish()
    assert code == 0, out[-3000:]
    assert sorted(_calls(marks)[len(calls_before):]) == expected
    assert (f"modelbench: resumed run {runs[0]['id']}: {len(complete)} complete item(s) reused from the store "
            f"(deselected), {8 - len(complete)} run now") in out
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    assert artifact["run"]["id"] == runs[0]["id"] and artifact["run"]["interrupted"] is False
    _each_item_once(artifact, ids)
    runs, rows = read_store(db)
    assert len(runs) == 1 and runs[0]["status"] == "complete" and len(rows) == 8


@pytest.mark.slow
def test_resume_refuses_an_unknown_run_or_another_configuration(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, marks, _ = _setup(pytester, 1)
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
    ids, marks, env = _setup(pytester, 4, block="c2")
    db = pytester.path / ".modelbench" / "modelbench.db"
    run = Run(pytester.path, env)
    try:
        # Serial: c0 and c1 (both models) and c2's gold replay are committed before c2's slow replay blocks.
        _wait(lambda: _blocked(marks, "c2") is not None and len(_committed(db)) >= 5,
              "five committed outcomes and the blocked replay of c2", run)
        before = _committed(db)
        assert run.alive()
        os.killpg(run.proc.pid, signal.SIGKILL)  # no sessionfinish, no artifact: only what was committed survives
    except BaseException:
        run.kill()
        raise
    code, _ = run.finish()
    assert code == -signal.SIGKILL
    runs, rows = read_store(db)
    assert runs[0]["status"] == "running" and not (pytester.path / ".modelbench" / "runs").exists()
    after = {(r["source_session_id"], r["candidate_model"]): r["status"] for r in rows}
    assert after == before and ("cases/c2", "test/slow") not in after
    expected = _not_complete(rows, ids)
    assert "c2" in expected
    calls_before = _calls(marks)
    code, out = Run(pytester.path, {**env, "MB_BLOCK": ""}, "--modelbench-resume", runs[0]["id"]).finish()
    assert code == 0, out[-3000:]
    assert sorted(_calls(marks)[len(calls_before):]) == expected
    runs, rows = read_store(db)
    assert len(runs) == 1 and runs[0]["status"] == "complete" and len(rows) == 8
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["id"] == runs[0]["id"]
    _each_item_once(artifact, ids)

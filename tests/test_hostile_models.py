"""Hostile candidates over real litellm HTTP, in every runner on this machine: every attack fails (product.md §6).

One pytest run per runner holds every attack (one item each, see ``tests/attacks.py``); the
tests below read what that run left behind. The control run shows that the attacks are real: the local runner
without Landlock lets the file-system and network attacks through.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .attacks import ATTACKS, FN_FORGERS, AttackRun, run_attacks, verdict
from .helpers import requires_bwrap, requires_landlock

RUNNERS = [pytest.param("local", id="local", marks=requires_landlock),
           pytest.param("bwrap", id="bwrap", marks=requires_bwrap)]
BY_NAME = {a.name: a for a in ATTACKS}


def _shared_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str,
                attacks: tuple, runner: str) -> AttackRun:
    """One run per runner and test session, shared by the xdist workers (the first one runs it, the others read)."""
    import fcntl
    import pickle

    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):
        shared = shared.parent  # this session's folder, common to its workers
    result = shared / f"{label}-{runner}.pickle"
    with open(shared / f"{label}-{runner}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return pickle.loads(result.read_bytes())
        # An 8 s check timeout (the default is 20 s): the endless and flooding attacks are cut at it, and an honest
        # check here takes about a second on two loaded cores.
        run = run_attacks(shared / f"{label}-{runner}", runner, attacks, check_timeout=8.0)
        result.write_bytes(pickle.dumps(run))
        return run


@pytest.fixture(scope="module", params=RUNNERS)
def attack_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AttackRun:
    return _shared_run(request, tmp_path_factory, "hostile", ATTACKS, request.param)


@pytest.fixture(scope="module", params=RUNNERS)
def fn_attack_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AttackRun:
    """The function-check forgers and an honest solution, on a HumanEval-style session."""
    return _shared_run(request, tmp_path_factory, "hostile-fn", FN_FORGERS, request.param)


@pytest.mark.slow
def test_run_finishes_and_nothing_escapes_leaks_or_survives(attack_run: AttackRun) -> None:
    run = attack_run
    assert run.returncode == 0, run.output[-3000:]
    assert sorted(run.outcomes) == sorted(BY_NAME), "an item has no outcome: the run did not finish"
    assert run.escaped == [], f"files written outside the workspace: {run.escaped}"
    assert run.leaks == [], f"canary secrets found in: {run.leaks}"
    assert run.inside_requests == 0, "a sandboxed process reached the model server"
    assert run.survivors_at_end == []
    assert f"{len(ATTACKS)} passed" in run.output


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BY_NAME))
def test_attack_fails(attack_run: AttackRun, name: str) -> None:
    attack = BY_NAME[name]
    outcome = attack_run.outcomes[name]
    evidence = outcome["evidence"]
    assert outcome["status"] == "complete", outcome.get("skip_reason")
    assert evidence["runner"] == attack_run.runner
    if attack.cheat:
        assert outcome["solved"] is False, "a faked or tampered check counted as solved"
    assert attack_run.leftovers.get(name) == [], f"left running after the item: {attack_run.leftovers.get(name)}"
    blocked, how = verdict(attack_run, attack)
    assert blocked, how
    after = evidence["tests"]["after"]
    errors = evidence["replay"]["tool_errors"]
    if name == "loop-forever":
        assert after["timed_out"] is True
    elif name == "flood-output":
        assert after["timed_out"] is True
        assert attack_run.max_rss_mib < 1024, "the harness kept the flood in memory"
    elif name == "fake-summary":
        assert after["exit_code"] == 0 and after["result_file_found"] is False
    elif name in ("tamper-tests", "delete-tests"):
        assert after["failed"] == 2 and after["result_file_found"] is True  # the pristine tests ran, and failed
    elif name == "killpg":
        assert after["result_file_found"] is False
    elif name == "big-file":
        assert after["passed"] == 0  # the write stopped at the file-size limit and the import failed
    elif name == "symlink-read":
        assert sum("leads outside the repository" in e for e in errors) == 3
        assert outcome["solved"] is True  # the attack costs nothing else: the harness just refused the reads
    elif name == "symlink-write":
        assert sum("leads outside the repository" in e for e in errors) == 2
    elif name == "write-dotdot":
        assert sum("must be relative and stay inside" in e for e in errors) == 2
    elif name in ("write-absolute", "read-home", "read-env", "network", "kill-parent"):
        assert outcome["solved"] is True  # solving and attacking at once: only the attack failed
    if attack.tampered:
        assert after["tampered"].startswith("expected "), after  # the evidence: what was expected, what came
        assert after["passed"] == 0 and _component(outcome, "tests") == 0.0
    else:
        assert after.get("tampered", "") == ""


def _component(outcome: dict, name: str) -> float | None:
    return next((c["value"] for c in outcome["components"] if c["name"] == name), None)


@pytest.mark.slow
@pytest.mark.parametrize("name", [a.name for a in FN_FORGERS])
def test_function_check_forgers_fail_and_an_honest_solution_passes(fn_attack_run: AttackRun, name: str) -> None:
    attack = next(a for a in FN_FORGERS if a.name == name)
    run = fn_attack_run
    assert run.returncode == 0, run.output[-3000:]
    outcome = run.outcomes[name]
    blocked, how = verdict(run, attack)
    assert blocked, how
    after = outcome["evidence"]["tests"]["after"]
    if attack.tampered:
        assert outcome["solved"] is False and after["tampered"].startswith("expected "), after
        assert _component(outcome, "tests") == 0.0
        assert f"openai/scripted-{name} on " in run.output  # listed under the leaderboard with its evidence
    else:
        assert outcome["solved"] is True and after["tampered"] == ""
    assert f"{len(FN_FORGERS)} passed" in run.output and "tampered (4)" in run.output


@pytest.mark.slow
def test_without_landlock_the_local_runner_lets_file_and_network_attacks_through(tmp_path: Path) -> None:
    """Control: the attacks are real. With Landlock off, the local runner cannot stop writes outside, reads of the
    home, or connections; the harness's own defences (links, paths in edits, leftover processes) still hold."""
    names = ("write-absolute", "read-home", "read-env", "network", "symlink-read", "write-dotdot", "fork-bomb")
    run = run_attacks(tmp_path, "local", tuple(BY_NAME[n] for n in names), env={"MODELBENCH_NO_LANDLOCK": "1"})
    assert run.returncode == 0, run.output[-3000:]
    assert any(p.endswith("absolute.txt") for p in run.escaped)
    assert any(".modelbench-escaped-" in p for p in run.escaped)
    assert not any(p.endswith("edit.txt") or p.endswith("edit-absolute.txt") for p in run.escaped)
    assert any("home-secret" in leak for leak in run.leaks)  # read-home's command output reached the artifact
    assert run.inside_requests >= 1
    assert sum("leads outside the repository" in e
               for e in run.outcomes["symlink-read"]["evidence"]["replay"]["tool_errors"]) == 3
    assert run.leftovers["fork-bomb"] == [] and run.survivors_at_end == []
    got_through = {n for n in names if not verdict(run, BY_NAME[n])[0]}
    assert got_through == {"write-absolute", "write-dotdot", "read-home", "read-env", "network"}, got_through
    assert any("plain-setting" in leak for leak in run.leaks)  # the harness's environment, via /proc/<pid>/environ


def test_harness_never_writes_or_reads_through_a_candidates_link(tmp_path: Path) -> None:
    """The harness's own writes (restored tests, hidden check files, edits) stay in the workspace when a candidate
    has put links where folders belong."""
    from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
    from pytest_modelbench.replay.edits import WholeFile, apply_edits
    from pytest_modelbench.replay.workspace import copy_workspace, prepare_check, write_fileset

    start = {"calc.py": "x = 1\n", "tests/unit/test_calc.py": "def test_x():\n    pass\n"}
    hidden = FileSet((("checks/deep/test_hidden.py", "def test_h():\n    pass\n"),))
    session = Session(id="c", source="s", intent="fix-bug", prompt="p", workspace=FileSet(tuple(start.items())),
                      check=CheckSpec(paths=("tests/unit", "checks/deep"), files=hidden), gold=GoldSpec())
    pristine, outside = tmp_path / "pristine", tmp_path / "outside"
    outside.mkdir()
    write_fileset(session.workspace, pristine)
    work = copy_workspace(pristine, tmp_path / "work")
    import shutil

    shutil.rmtree(work / "tests")
    (work / "tests").symlink_to(outside)  # a parent of a check path
    (work / "checks").symlink_to(outside)  # a parent of a hidden check file
    (work / "link").symlink_to(outside)
    applied = apply_edits(work, [WholeFile("link/edit.py", "escaped\n")])
    files = prepare_check(session, work, pristine)
    assert list(outside.iterdir()) == []
    assert applied.changed == [] and "leads outside the repository" in applied.errors[0]
    assert files == ["checks/deep/test_hidden.py", "tests/unit/test_calc.py"]
    assert (work / "tests" / "unit" / "test_calc.py").is_file() and not (work / "tests").is_symlink()
    assert (work / "checks" / "deep" / "test_hidden.py").is_file() and not (work / "checks").is_symlink()


LOCAL_AND_BWRAP = [pytest.param("local", id="local"), pytest.param("bwrap", id="bwrap", marks=requires_bwrap)]


@pytest.mark.parametrize("kind", LOCAL_AND_BWRAP)
def test_runner_keeps_only_the_tail_of_a_flood_and_reaps_detached_processes(kind: str, tmp_path: Path) -> None:
    import sys
    import time

    from pytest_modelbench.runners import OUTPUT_TAIL, RunRequest, make_runner

    from .attacks import survivors

    marker = f"mbhtest{time.monotonic_ns() % 10**8:08d}"

    runner, _ = make_runner(kind)
    code = (f"import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
            f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\n"
            "block = 'y' * 65536\nfor _ in range(4096):\n    sys.stdout.write(block)\nprint('END')\n")
    import resource

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = runner.run(RunRequest((sys.executable, "-c", code), tmp_path, 60))
    assert result.exit_code == 0 and not result.timed_out, result.stderr_tail
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024, "the flood was kept"
    assert result.stdout_tail.endswith("END\n") and len(result.stdout_tail) <= OUTPUT_TAIL  # 256 MiB were written
    assert time.monotonic() - started < 50  # not held until the timeout by the detached sleeper
    time.sleep(0.2)
    assert survivors(marker) == []


@requires_landlock
def test_local_runner_with_landlock_refuses_signals_to_the_harness(tmp_path: Path) -> None:
    import os
    import sys

    from pytest_modelbench.runners import RunRequest
    from pytest_modelbench.runners.local import LocalRunner

    code = (f"import os, signal\ntry:\n    os.kill({os.getpid()}, 0)\n    print('reached')\n"
            "except PermissionError:\n    print('refused')\n")
    result = LocalRunner().run(RunRequest((sys.executable, "-c", code), tmp_path, 30))
    assert result.stdout_tail.strip() == "refused", result.stderr_tail

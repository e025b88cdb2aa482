"""The pytest-facing behaviour, end to end with pytester (subprocesses, real sandbox, real store)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from pytest_modelbench.schemas.validate import load_schema

from .helpers import add_cases, read_artifacts, read_store

BASE = ("--modelbench", "-p", "no:cacheprovider")


def _leaderboard(text: str) -> list[list[str]]:
    """The leaderboard rows without the timing column (median s)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "modelbench leaderboard" in line)
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(cells)
    header = rows[0]
    drop = header.index("median s") if "median s" in header else -1  # the wide table only (-v)
    return [[c for i, c in enumerate(r) if i != drop] for r in rows if not set(r[0]) <= {"-"}]


def test_default_run_on_demo_gold_solves_all_noop_none(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(*BASE)
    assert result.ret == 0
    out = result.stdout.str()
    assert "modelbench leaderboard" in out
    assert "a replay is not the original session" in out
    assert "add real models with --models" in out

    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    jsonschema.validate(artifact, load_schema("artifact"))
    assert len(runs) == 1 and runs[0]["status"] == "complete" and runs[0]["id"] == artifact["run"]["id"]
    sessions = {s["key"] for s in artifact["sessions"]}
    assert len(sessions) >= 10
    assert len({s["intent"] for s in artifact["sessions"]}) >= 5
    by_model: dict[str, dict[str, bool]] = {}
    for o in artifact["outcomes"]:
        assert o["status"] == "complete", o
        by_model.setdefault(o["model"], {})[f"{o['source']}/{o['session_id']}"] = o["solved"]
    assert by_model["replay/gold"] == dict.fromkeys(sessions, True)
    assert by_model["replay/noop"] == dict.fromkeys(sessions, False)
    # The store and the artifact agree outcome by outcome.
    stored = {(r["source_session_id"], r["candidate_model"]): (r["status"], bool(r["solved"]), r["combined_score"])
              for r in rows}
    in_artifact = {(f"{o['source']}/{o['session_id']}", o["model"]): (o["status"], o["solved"], o["combined_score"])
                   for o in artifact["outcomes"]}
    assert stored == in_artifact
    per_model = {r["model"]: r for r in artifact["aggregates"]["per_model"]}
    assert per_model["replay/gold"]["solved"] == len(sessions) and per_model["replay/gold"]["rank"] == 1
    assert per_model["replay/noop"]["solved"] == 0
    assert per_model["replay/noop"]["combined"] <= 0.1 and per_model["replay/gold"]["combined"] >= 0.9
    # Every component is present or missing with its reason, never imputed; without --judge, llm is missing.
    for o in artifact["outcomes"]:
        components = {c["name"]: c for c in o["components"]}
        assert set(components) == {"tests", "lint", "complexity", "types", "coverage", "static", "llm", "cost"}
        assert all((c["value"] is None) == bool(c["reason"]) for c in components.values())
        assert components["llm"] == {"name": "llm", "value": None, "reason": "no judge configured (--judge MODEL)"}
        assert components["tests"]["value"] is not None
        # Rubric v2: gold solves at $0 (cost 1.0); noop solved nothing (cost 0), changed nothing (tests 0, the
        # quality components missing with "no change") and combines to 0.
        if o["model"] == "replay/gold":
            assert components["cost"]["value"] == 1.0 and components["tests"]["value"] == 1.0
        else:
            assert components["cost"]["value"] == 0.0 and components["tests"]["value"] == 0.0
            assert all(components[k]["reason"] == "no change" for k in ("lint", "complexity", "types", "coverage"))
            assert o["combined_score"] == 0.0
    gold_lint = [c["value"] for o in artifact["outcomes"] if o["model"] == "replay/gold"
                 for c in o["components"] if c["name"] == "lint"]
    assert sum(v is not None for v in gold_lint) >= 10


@pytest.mark.slow
def test_xdist_leaderboard_equals_serial(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    args = (*BASE, "--sessions", "cases", "--runner", "local")
    serial = pytester.runpytest_subprocess(*args)
    parallel = pytester.runpytest_subprocess(*args, "-n", "2")
    assert serial.ret == parallel.ret == 0
    assert "created: 2/2 workers" in parallel.stdout.str() or "2 workers" in parallel.stdout.str()
    assert _leaderboard(serial.stdout.str()) == _leaderboard(parallel.stdout.str())
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert len(runs) == 2
    per_run: dict[str, set] = {}
    for r in rows:
        per_run.setdefault(r["benchmark_run_id"], set()).add((r["source_session_id"], r["candidate_model"],
                                                              r["status"], r["solved"], r["combined_score"]))
    assert len(per_run) == 2
    first, second = per_run.values()
    assert first == second and len(first) == 6


def test_node_ids_collect_only_and_k(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--co", "-q")
    ids = [line for line in result.stdout.lines if line.startswith("cases/")]
    assert ids == [f"cases/{s}[{m}]" for s in ("add", "broken-gold", "mul") for m in ("replay/gold", "replay/noop")]
    selected = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-k", "mul and gold")
    selected.assert_outcomes(passed=1, deselected=5)


def test_invalid_session_is_skipped_with_reason_and_left_out(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-rs")
    result.assert_outcomes(passed=4, skipped=2)
    result.stdout.fnmatch_lines(["*invalid session: gold does not pass its check*"])
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["aggregates"]["invalid_sessions"][0]["session"] == "cases/broken-gold"
    per_model = {r["model"]: r for r in artifact["aggregates"]["per_model"]}
    assert per_model["replay/gold"]["n"] == 2 and per_model["replay/gold"]["skipped"] == 1


@pytest.mark.slow
def test_min_score_fails_items_and_last_failed_reruns_them(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    args = ("--modelbench", "--sessions", "cases", "--runner", "local", "--modelbench-min-score", "0.5")
    first = pytester.runpytest_subprocess(*args)
    first.assert_outcomes(passed=2, failed=2, skipped=2)
    first.stdout.fnmatch_lines(["*below --modelbench-min-score 0.5*"])
    again = pytester.runpytest_subprocess(*args, "--lf")
    again.assert_outcomes(failed=2, deselected=4)


def test_project_tests_are_left_out_unless_asked(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    pytester.makepyfile(test_project="def test_project():\n    assert False, 'project test ran'\n")
    only_bench = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-k", "add")
    only_bench.assert_outcomes(passed=2, deselected=4)
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    plain.assert_outcomes(failed=1)
    both = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-k", "add or project",
                                         "--modelbench-with-tests")
    both.assert_outcomes(passed=2, failed=1, deselected=4)


def test_scores_reach_junit_xml(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-k", "add",
                                           "--junitxml=out.xml")
    assert result.ret == 0
    root = ET.parse(pytester.path / "out.xml").getroot()
    props = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in root.iter("testcase")}
    gold = next(v for k, v in props.items() if "gold" in k)
    noop = next(v for k, v in props.items() if "noop" in k)
    assert gold["modelbench_solved"] == "True" and float(gold["modelbench_tests"]) == 1.0
    assert noop["modelbench_solved"] == "False" and float(noop["modelbench_tests"]) == 0.0
    assert float(noop["modelbench_combined"]) < float(gold["modelbench_combined"])
    assert noop["modelbench_lint"] == "missing: no change"


def test_store_and_json_paths_and_name(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--runner", "local", "-k", "add",
                                           "--modelbench-store", "hist/x.db", "--modelbench-json", "out/run.json",
                                           "--modelbench-name", "nightly")
    assert result.ret == 0
    runs, _ = read_store(pytester.path / "hist" / "x.db")
    artifact = json.loads((pytester.path / "out" / "run.json").read_text())
    assert runs[0]["name"] == artifact["run"]["name"] == "nightly"
    assert re.fullmatch(r"bench_[0-9a-f]{8}_\d{8}_\d{6}", runs[0]["id"])


def test_ini_twins(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    pytester.makeini("[pytest]\nmodelbench_sessions = cases\nmodelbench_models = replay/gold\n"
                     "modelbench_runner = local\nmodelbench_rubric = tests-only\n")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--co", "-q")
    ids = [line for line in result.stdout.lines if line.startswith("cases/")]
    assert ids == ["cases/add[replay/gold]", "cases/broken-gold[replay/gold]", "cases/mul[replay/gold]"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sample-size", "-1"), "--sample-size: must be >= 0"),
        (("--sample-size", "many"), "--sample-size: expected an integer"),
        (("--sample-seed", "x"), "--sample-seed: expected an integer"),
        (("--runner", "docker"), "--runner: expected one of auto, bwrap, local"),
        (("--intent", "fix-bug,dance"), "--intent: unknown intent 'dance'"),
        (("--rubric", "nope"), "--rubric nope: no such built-in rubric"),
        (("--models", "replay/gold,bad$id"), "--models: 'bad$id' is not a model id"),
        (("--modelbench-min-score", "2"), "--modelbench-min-score: must be between 0 and 1"),
        (("--sessions", "no/such/dir"), "--sessions no/such/dir: not a known source"),
        (("--sessions", "claude-code"), "--sessions claude-code: no transcript folder found (looked in"),
        (("--modelbench-tolerance", "x"), "--modelbench-tolerance: expected a number"),
        (("--trend-window", "1"), "--trend-window: must be >= 2"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(pytester: pytest.Pytester, args: tuple[str, ...],
                                                        message: str) -> None:
    result = pytester.runpytest_subprocess("--modelbench", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_broken_case_file_is_one_line_usage_error(pytester: pytest.Pytester) -> None:
    cases = add_cases(pytester.path / "cases")
    bad = json.loads((cases / "add.modelbench.json").read_text())
    bad["check"]["timeout"] = "soon"
    (cases / "add.modelbench.json").write_text(json.dumps(bad))
    result = pytester.runpytest_subprocess("--modelbench", "--sessions", "cases")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = [line for line in result.stderr.lines if "ERROR" in line]
    assert len(err) == 1
    assert "add.modelbench.json: field 'check.timeout': expected number, got str" in err[0]


def test_custom_source_through_the_hook(pytester: pytest.Pytester, tmp_path: Path) -> None:
    cases = add_cases(tmp_path / "elsewhere")
    pytester.makeconftest(f"""
from pathlib import Path
from pytest_modelbench.sources import StaticSource
from pytest_modelbench.sources.casefile import load_case_files

def pytest_modelbench_source(config, spec):
    if spec == "mine":
        return StaticSource("mine", tuple(load_case_files(Path({str(cases)!r}), "mine")))
""")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "mine", "--runner", "local", "-k", "add", "-v")
    result.stdout.fnmatch_lines(["*mine/add?replay/gold? PASSED*"])
    assert result.ret == 0


@pytest.mark.slow
def test_interrupted_run_still_writes_its_artifact_marked_interrupted(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    pytester.makeconftest("""
from pytest_modelbench.replay import ReplayResult

def pytest_modelbench_replay(config, session, model, workspace):
    if model == "test/ctrl-c":
        if session.id == "mul":
            raise KeyboardInterrupt
        return ReplayResult(turns=1, cost_usd=0.0)
    return None
""")
    result = pytester.runpytest_subprocess("--modelbench", "--sessions", "cases", "--runner", "local",
                                           "--models", "replay/gold,test/ctrl-c", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["interrupted"] is True and artifact["run"]["status"] == "failed"
    done = {(o["session_id"], o["model"]) for o in artifact["outcomes"]}
    assert ("add", "test/ctrl-c") in done and ("add", "replay/gold") in done
    assert ("mul", "test/ctrl-c") not in done
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert runs[0]["status"] == "failed" and len(rows) == len(done)


CANDIDATE = """
import os

from pytest_modelbench.replay import ReplayResult


def pytest_modelbench_replay(config, session, model, workspace):
    if model != "test/cand":
        return None
    if os.environ.get("CAND_QUALITY") != "bad":
        for rel, text in session.gold.files.files:
            (workspace / rel).write_text(text)
    return ReplayResult(turns=1, cost_usd=0.0)
"""


@pytest.mark.slow
def test_regression_gate_fails_the_run_that_drops_and_names_the_model(pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    add_cases(pytester.path / "cases")
    pytester.makeconftest(CANDIDATE)
    args = (*BASE, "--sessions", "cases", "--runner", "local", "--models", "replay/gold,test/cand",
            "--modelbench-baseline", "latest")
    monkeypatch.delenv("CAND_QUALITY", raising=False)
    first = pytester.runpytest_subprocess(*args)
    assert first.ret == 0
    first.stdout.fnmatch_lines(["*no baseline yet: this run passes and becomes the baseline*"])
    unchanged = pytester.runpytest_subprocess(*args)
    assert unchanged.ret == 0
    assert "modelbench regressions" not in unchanged.stdout.str()
    unchanged.stdout.fnmatch_lines(["*compared with baseline latest (run bench_*): 0 regression(s)*"])

    monkeypatch.setenv("CAND_QUALITY", "bad")
    dropped = pytester.runpytest_subprocess(*args)
    assert dropped.ret == pytest.ExitCode.TESTS_FAILED
    dropped.assert_outcomes(passed=4, skipped=2)  # the items pass; the gate fails the run
    out = dropped.stdout.str()
    assert "modelbench regressions" in out
    lines = [line for line in out.splitlines() if line.startswith("| test/cand")]
    assert any("| combined " in line and "2 pairs vs bench_" in line and "95% CI" in line for line in lines), out
    assert not any(line.startswith("| replay/gold") for line in out.splitlines())
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    jsonschema.validate(artifact, load_schema("artifact"))
    combined = [r for r in artifact["regressions"] if r["metric"] == "combined"]
    assert [r["model"] for r in combined] == ["test/cand"]
    assert combined[0]["delta"] < -0.05 and combined[0]["evidence"]["ci"][1] < 0
    runs, _ = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert [r["status"] for r in runs] == ["complete"] * 3


@pytest.mark.slow
def test_baseline_by_path_and_rubric_mismatch_warns_without_gate(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    add_cases(pytester.path / "cases")
    pytester.makeconftest(CANDIDATE)
    # A window of 2 runs: the trend gate never fails, so only the baseline gate is under test here.
    args = (*BASE, "--sessions", "cases", "--runner", "local", "--models", "replay/gold,test/cand",
            "--trend-window", "2")
    monkeypatch.delenv("CAND_QUALITY", raising=False)
    assert pytester.runpytest_subprocess(*args, "--modelbench-json", "base.json").ret == 0
    monkeypatch.setenv("CAND_QUALITY", "bad")
    by_path = pytester.runpytest_subprocess(*args, "--modelbench-baseline", "base.json")
    assert by_path.ret == pytest.ExitCode.TESTS_FAILED
    by_path.stdout.fnmatch_lines(["*modelbench regressions*", "*test/cand*combined*"])
    # A baseline scored under another rubric version: a warning and no gate, unless forced.
    base = json.loads((pytester.path / "base.json").read_text())
    base["run"]["config"]["rubric"]["version"] = 0
    (pytester.path / "old.json").write_text(json.dumps(base))
    other = pytester.runpytest_subprocess(*args, "--modelbench-baseline", "old.json")
    assert other.ret == 0
    other.stdout.fnmatch_lines(["*differs (rubric version 0 vs 2)*no regression gate*"])
    assert "modelbench regressions" not in other.stdout.str()
    forced = pytester.runpytest_subprocess(*args, "--modelbench-baseline", "old.json", "--modelbench-force-compare")
    assert forced.ret == pytest.ExitCode.TESTS_FAILED
    forced.stdout.fnmatch_lines(["*compared anyway (forced)*", "*modelbench regressions*"])


def test_unknown_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "--modelbench-baseline", "nightly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--modelbench-baseline nightly: no complete run with that id or name" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()

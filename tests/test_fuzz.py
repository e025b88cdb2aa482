"""Property-based fuzzing (hypothesis) of everything that reads user files.

* Transcript parsers (Claude Code, Codex): arbitrary JSON values, real lines with a part replaced by anything, lines
  cut short, bytes that are not JSON: every line is counted, bad ones are counted as broken, nothing is raised, and
  the parser state stays JSON (it is stored in the history index).
* Case files, rubric files, sample manifests: arbitrary documents and mutations of valid ones either load or raise
  the loader's documented error (SourceError, RubricError, ManifestError), whose message names the file, and for a
  syntax error the line.

Sizes: ``MODELBENCH_FUZZ_EXAMPLES`` examples per property (default 60, well under two minutes for the whole file on
two cores); raise it locally to fuzz harder. In CI the examples are derandomized, so a failure replays; locally they
vary and a failure is stored in ``.hypothesis/`` (profiles in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pytest_modelbench.records import Session
from pytest_modelbench.sampling.manifest import ManifestError, read_manifest
from pytest_modelbench.scoring.rubric import Rubric, RubricError, builtin_rubric_path, load_rubric
from pytest_modelbench.sources import SourceError
from pytest_modelbench.sources.casefile import read_case_data, session_from_data
from pytest_modelbench.sources.transcripts.claude_code import ClaudeParser
from pytest_modelbench.sources.transcripts.codex import CodexParser
from pytest_modelbench.sources.transcripts.common import read_new_lines
from pytest_modelbench.sources.transcripts.features import summarize
from pytest_modelbench.sources.transcripts.index import feed_lines
from pytest_modelbench.sources.transcripts.state import ParserState

from .helpers import DATA, fuzz_is_derandomized

EXAMPLES = int(os.environ.get("MODELBENCH_FUZZ_EXAMPLES", "60"))
# derandomize and database come from the profile conftest.py loaded (CI or local).
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


def test_fuzz_settings_follow_the_ci_profile() -> None:
    """CI replays the same examples run after run; locally they vary and failures are stored to be tried again."""
    assert FUZZ.derandomize is fuzz_is_derandomized()
    assert (FUZZ.database is None) is fuzz_is_derandomized()
    assert FUZZ.print_blob is True


TRANSCRIPTS = DATA / "transcripts"
CLAUDE_FILES = sorted((TRANSCRIPTS / "claude").rglob("*.jsonl"))
CODEX_FILES = sorted((TRANSCRIPTS / "codex").rglob("*.jsonl"))


def _real_objects(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for f in files:
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


CLAUDE_LINES = _real_objects(CLAUDE_FILES)
CODEX_LINES = _real_objects(CODEX_FILES)

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _paths(obj: Any, prefix: tuple = (), limit: int = 400) -> list[tuple]:
    """Every path into a JSON value (keys and indexes), breadth first, at most ``limit``."""
    found, queue = [], [(prefix, obj)]
    while queue and len(found) < limit:
        path, node = queue.pop(0)
        found.append(path)
        if isinstance(node, dict):
            queue.extend((path + (k,), v) for k, v in node.items())
        elif isinstance(node, list):
            queue.extend((path + (i,), v) for i, v in enumerate(node))
    return found


def _set(obj: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    node = obj
    for step in path[:-1]:
        node = node[step]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return obj


@st.composite
def mutated(draw: st.DrawFn, originals: list[Any]) -> Any:
    """A valid document with one to three parts replaced by arbitrary JSON (or deleted)."""
    obj = json.loads(json.dumps(draw(st.sampled_from(originals))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(obj)
        path = draw(st.sampled_from(paths))
        obj = _set(obj, path, draw(json_values), draw(st.booleans()))
    return obj


def transcript_lines(originals: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    as_json = st.one_of(mutated(originals), json_values, st.sampled_from(originals)).map(
        lambda v: json.dumps(v, ensure_ascii=False))
    truncated = st.tuples(as_json, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
    return st.one_of(as_json, as_json, truncated, st.text(max_size=40))


def _check_parser(parser: ClaudeParser | CodexParser, lines: list[str]) -> None:
    feed_lines(parser, lines, 1)
    state = parser.dump()
    event(f"lines broken: {'some' if state.broken else 'none'}")
    assert state.lines == len(lines)
    assert state.broken <= len(lines)
    saved = json.dumps(state.to_dict())  # the state is stored in the history index: it must stay JSON
    assert json.dumps(ParserState.from_dict(json.loads(saved)).to_dict()) == saved  # and read back the same
    summarize("fuzz/x", [state], "fuzz.jsonl")  # and what is built from it must not raise either


@FUZZ
@given(lines=st.lists(transcript_lines(CLAUDE_LINES), min_size=1, max_size=12))
def test_claude_code_parser_counts_and_skips_never_raises(lines: list[str]) -> None:
    _check_parser(ClaudeParser(Path("/fuzz/3f2a1b4c-0000-4000-8000-000000000000.jsonl")), lines)


@FUZZ
@given(lines=st.lists(transcript_lines(CODEX_LINES), min_size=1, max_size=12))
def test_codex_parser_counts_and_skips_never_raises(lines: list[str]) -> None:
    _check_parser(CodexParser(Path("/fuzz/rollout-2026-01-02T18-39-45-019b7f94.jsonl")), lines)


@FUZZ
@given(lines=st.lists(transcript_lines(CLAUDE_LINES + CODEX_LINES), min_size=1, max_size=8))
def test_real_lines_survive_the_wrong_parser(lines: list[str]) -> None:
    _check_parser(ClaudeParser(Path("/fuzz/a.jsonl")), lines)
    _check_parser(CodexParser(Path("/fuzz/b.jsonl")), lines)


# -- documents with a documented error ---------------------------------------------------------------------------

VALID_CASE = {
    "id": "add", "intent": "fix-bug", "prompt": "Fix add.",
    "workspace": {"files": {"calc.py": "def add(a, b):\n    return a - b\n"}},
    "check": {"kind": "pytest", "paths": ["tests"], "timeout": 30,
              "files": {"files": {"tests/test_add.py": "from calc import add\n"}}},
    "gold": {"files": {"calc.py": "def add(a, b):\n    return a + b\n"}},
    "original": {"model": "m", "turns": 3, "cost_usd": 0.1, "tokens": 10},
}
VALID_FUNCTION_CASE = {
    "id": "fn", "intent": "build-new", "prompt": "Write f.", "workspace": {"files": {}},
    "check": {"kind": "function", "entry_point": "f", "test_code": "def check(f):\n    assert f() == 1\n"},
    "gold": {"files": {"solution.py": "def f():\n    return 1\n"}},
}
POSITION = re.compile(r":\d+: invalid (JSON|YAML)")


def _serialise(doc: Any, suffix: str) -> str:
    return json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc, allow_unicode=True)


broken_text = st.text(alphabet=st.sampled_from(list("{}[]:,-'\"\n #&*!|>%@`\ta1")), max_size=60)


@FUZZ
@given(doc=st.one_of(mutated([VALID_CASE, VALID_FUNCTION_CASE]), json_values),
       suffix=st.sampled_from([".json", ".yaml"]), raw=st.none() | broken_text | st.binary(max_size=30))
def test_case_file_loader_raises_only_source_error_naming_the_file(tmp_path_factory: pytest.TempPathFactory,
                                                                   doc: Any, suffix: str,
                                                                   raw: str | bytes | None) -> None:
    folder = tmp_path_factory.mktemp("case")
    path = folder / f"fuzz.modelbench{suffix}"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw if raw is not None else _serialise(doc, suffix), encoding="utf-8")
    try:
        session = session_from_data(read_case_data(path), path, "fuzz")
    except SourceError as exc:
        event("case file refused")
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in message.strip(), message
        if "invalid JSON" in message or "invalid YAML" in message:
            assert POSITION.search(message), message
        else:
            assert "field '" in message or "cannot read" in message, message
    else:
        event("case file loaded")
        assert isinstance(session, Session)
        session.content_hash()  # a loaded session is usable


def _default_rubric() -> dict[str, Any]:
    path = builtin_rubric_path("default")
    assert path is not None
    return yaml.safe_load(path.read_text())


@FUZZ
@given(doc=st.one_of(mutated([_default_rubric()]), json_values), raw=st.none() | broken_text | st.binary(max_size=30))
def test_rubric_loader_raises_only_rubric_error_naming_the_file(tmp_path_factory: pytest.TempPathFactory, doc: Any,
                                                               raw: str | bytes | None) -> None:
    path = tmp_path_factory.mktemp("rubric") / "fuzz.yaml"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw if raw is not None else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        rubric = load_rubric(path)
    except RubricError as exc:
        event("rubric refused")
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "key '" in message or re.match(rf"{re.escape(str(path))}:\d+: invalid YAML: ", message) or \
            "expected a mapping" in message or "cannot read rubric" in message, message
    else:
        event("rubric loaded")
        assert isinstance(rubric, Rubric) and any(w for _, w in rubric.weights)


VALID_MANIFEST = {
    "manifest_version": 1, "seed": 0, "sample_size": 2, "sources": ["demo"],
    "strata": {"demo": {"fix-bug × small": 2}},
    "sessions": [{"key": "demo/a", "content_hash": "ab" * 8, "stratum": ["fix-bug", "small"]},
                 {"key": "demo/b", "content_hash": "cd" * 8, "stratum": ["refactor", "small"]}],
}


@FUZZ
@given(doc=st.one_of(mutated([VALID_MANIFEST]), json_values), raw=st.none() | broken_text | st.binary(max_size=40))
def test_manifest_loader_raises_only_manifest_error_naming_the_file(tmp_path_factory: pytest.TempPathFactory,
                                                                   doc: Any, raw: str | bytes | None) -> None:
    path = tmp_path_factory.mktemp("manifest") / "sample.json"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw if raw is not None else json.dumps(doc), encoding="utf-8")
    try:
        manifest = read_manifest(path)
    except ManifestError as exc:
        event("manifest refused")
        message = str(exc)
        assert message.startswith(str(path)), message
        # A syntax error names its position: json's line and column, or the byte that is not UTF-8.
        assert "field '" in message or re.search(r"line \d+ column \d+|position \d+", message) or \
            "expected a JSON object" in message, message
    else:
        event("manifest loaded")
        assert len(manifest.keys) == len(set(manifest.keys))


whole_lines = st.lists(st.sampled_from(CLAUDE_LINES).map(lambda o: json.dumps(o, ensure_ascii=False)), max_size=5)


@FUZZ
@given(data=st.binary(max_size=300) | transcript_lines(CLAUDE_LINES).map(str.encode), cut=st.floats(0, 1))
def test_reading_arbitrary_bytes_as_a_transcript(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                                 cut: float) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "t.jsonl"
    path.write_bytes(data[: int(len(data) * cut)])
    first, end, size = read_new_lines(path, 0)
    assert end <= size
    path.write_bytes(data)
    _, end2, size2 = read_new_lines(path, end)
    assert end <= end2 <= size2 == len(data)
    feed_lines(ClaudeParser(Path("/fuzz/c.jsonl")), first, 1)


@FUZZ
@given(lines=whole_lines, cut=st.floats(0, 1))
def test_a_transcript_read_while_it_is_written_gives_the_same_lines(tmp_path_factory: pytest.TempPathFactory,
                                                                    lines: list[str], cut: float) -> None:
    """The writer appends whole lines; a reader that catches it mid-line reads the torn line whole next time."""
    data = "".join(line + "\n" for line in lines).encode()
    path = tmp_path_factory.mktemp("jsonl") / "t.jsonl"
    path.write_bytes(data[: int(len(data) * cut)])
    first, end, _ = read_new_lines(path, 0)
    path.write_bytes(data)
    rest, end2, size2 = read_new_lines(path, end)
    assert end2 == size2 == len(data)
    assert [line for line in (*first, *rest) if line.strip()] == lines

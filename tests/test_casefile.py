"""Case files (*.modelbench.yaml / *.modelbench.json): pytest_modelbench.sources.casefile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_modelbench.sources import SourceError
from pytest_modelbench.sources.casefile import CaseFileSource, load_case_files

BASE: dict[str, Any] = {
    "id": "case-1",
    "intent": "fix-bug",
    "prompt": "Fix add()",
    "workspace": {"files": {"calc.py": "def add(a, b):\n    return a - b\n"}},
    "check": {"paths": ["tests"], "timeout": 5},
    "gold": {"files": {"calc.py": "def add(a, b):\n    return a + b\n"}},
}


def write(folder: Path, data: Any, name: str = "case.modelbench.yaml") -> Path:
    path = folder / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["case.modelbench.yaml", "case.modelbench.yml", "case.modelbench.json"])
def test_valid_case_file_loads(tmp_path: Path, name: str) -> None:
    data = {**BASE, "turns": ["and test it"], "size_band": "medium", "original": {"model": "gpt", "turns": 3}}
    path = write(tmp_path, data, name)
    (session,) = load_case_files(tmp_path, "mine")
    assert (session.key, session.intent, session.prompt, session.turns) == ("mine/case-1", "fix-bug", "Fix add()",
                                                                             ("and test it",))
    assert session.size_band == "medium" and session.original.model == "gpt" and session.original.turns == 3
    assert session.workspace.files == (("calc.py", BASE["workspace"]["files"]["calc.py"]),)
    assert session.check.kind == "pytest" and session.check.paths == ("tests",) and session.check.timeout == 5.0
    assert session.gold.files.files == (("calc.py", BASE["gold"]["files"]["calc.py"]),)
    assert session.origin == str(path)


def test_defaults_dir_workspace_and_gold_delete_and_patch_file(tmp_path: Path) -> None:
    (tmp_path / "start" / "pkg").mkdir(parents=True)
    (tmp_path / "fix.diff").write_text("--- a/x\n+++ b/x\n", encoding="utf-8")
    data = {"id": "c2", "prompt": "p", "workspace": {"dir": "start"}, "check": {},
            "gold": {"delete": ["pkg/old.py"], "patch_file": "fix.diff"}}
    write(tmp_path, data)
    (session,) = CaseFileSource(tmp_path, "cases").sessions()
    assert session.workspace.directory == (tmp_path / "start").resolve() and session.workspace.files == ()
    assert session.gold.delete == ("pkg/old.py",) and session.gold.patch == "--- a/x\n+++ b/x\n"
    assert (session.intent, session.language, session.size_band, session.check.timeout) == (
        "explore", "python", "small", 60.0)


def test_function_check(tmp_path: Path) -> None:
    check = {"kind": "function", "entry_point": "add", "test_code": "def check(f): assert f(1, 2) == 3"}
    write(tmp_path, {**BASE, "check": check})
    (session,) = load_case_files(tmp_path, "s")
    assert (session.check.kind, session.check.entry_point, session.check.solution_file) == (
        "function", "add", "solution.py")


def test_files_are_sorted_by_name(tmp_path: Path) -> None:
    ids = ["b", "a", "c"]
    for i in ids:
        write(tmp_path, {**BASE, "id": i}, f"{i}.modelbench.json")
    assert [s.id for s in load_case_files(tmp_path, "s")] == ["a", "b", "c"]


@pytest.mark.parametrize("change, field", [
    ({"check": {"timeout": "soon"}}, "check.timeout"),
    ({"bogus": 1}, "bogus"),
    ({"prompt": None}, "prompt"),
    ({"intent": "bugfix"}, "intent"),
    ({"id": "../evil"}, "id"),
    ({"gold": {}}, "gold"),
    ({"workspace": {"dir": "missing"}}, "workspace.dir"),
    ({"workspace": {"files": {"/etc/passwd": "x"}}}, "workspace"),
    ({"workspace": {"files": {"../up.py": "x"}}}, "workspace"),
    ({"check": {"files": {"files": {"a/../../b.py": "x"}}}}, "check.files"),
    ({"gold": {"delete": ["../outside"]}}, "gold.delete"),
    ({"gold": {"patch_file": "nope.diff"}}, "gold.patch_file"),
    ({"check": {"kind": "function", "entry_point": "f"}}, "check.entry_point"),
    ({"check": {"kind": "function", "test_code": "def check(c): pass"}}, "check.entry_point"),
])
@pytest.mark.parametrize("name", ["bad.modelbench.yaml", "bad.modelbench.json"])
def test_broken_case_file_names_file_and_field(tmp_path: Path, change: dict[str, Any], field: str, name: str) -> None:
    data = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    path = write(tmp_path, data, name)
    with pytest.raises(SourceError) as info:
        load_case_files(tmp_path, "s")
    assert str(path) in str(info.value)
    assert f"field '{field}'" in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.modelbench.yaml"
    path.write_text("id: x\nprompt: p\nworkspace: {files: {a.py: [unclosed\n", encoding="utf-8")
    with pytest.raises(SourceError, match="invalid YAML") as info:
        load_case_files(tmp_path, "s")
    assert f"{path}:" in str(info.value)
    assert any(f"{path}:{n}:" in str(info.value) for n in (3, 4))


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.modelbench.json"
    path.write_text('{\n  "id": "x",\n  "prompt": oops\n}\n', encoding="utf-8")
    with pytest.raises(SourceError, match=f"{path}:3: invalid JSON"):
        load_case_files(tmp_path, "s")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, BASE, "a.modelbench.yaml")
    second = write(tmp_path, BASE, "b.modelbench.json")
    with pytest.raises(SourceError) as info:
        load_case_files(tmp_path, "s")
    message = str(info.value)
    assert message.startswith(str(second)) and str(first) in message and "field 'id'" in message


def test_empty_folder_and_non_case_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no case files"):
        CaseFileSource(tmp_path).sessions()
    other = tmp_path / "notes.yaml"
    other.write_text("id: x\n", encoding="utf-8")
    with pytest.raises(SourceError, match="not a case file"):
        load_case_files(other, "s")


ID_RULE = "expected an id of letters, digits, '.', '_' and '-' that starts with a letter or digit"


@pytest.mark.parametrize("bad_id", ["bad id/../x", "../evil", "x/../../etc", "ok\n"])
def test_the_schema_and_the_plugin_agree_on_ids(tmp_path: Path, bad_id: str) -> None:
    """JSON Schema patterns are unanchored: the shipped schema anchors its id pattern, so an editor checking a case
    file against casefile.schema.json refuses what the plugin refuses (issue 11: it accepted `bad id/../x`)."""
    import jsonschema

    from pytest_modelbench.schemas.validate import load_schema

    schema = load_schema("casefile")
    jsonschema.validate(BASE, schema)  # control: the same file with a good id passes
    data = {**BASE, "id": bad_id}
    if bad_id.endswith("\n"):
        # Python's `$` matches before a final newline (JavaScript's, what editors run, does not): plain jsonschema
        # in Python lets this one through; the plugin reads `$` as editors do.
        assert jsonschema.Draft202012Validator(schema).is_valid(data)
    else:
        with pytest.raises(jsonschema.ValidationError) as info:  # what an editor does: the schema alone
            jsonschema.validate(data, schema)
        assert list(info.value.absolute_path) == ["id"]
    path = write(tmp_path, data)
    with pytest.raises(SourceError) as refused:
        load_case_files(tmp_path, "s")
    assert str(refused.value) == f"{path}: field 'id': {ID_RULE}, got {bad_id!r}"


def test_a_bad_id_is_a_usage_error_of_the_plugin(pytester: pytest.Pytester) -> None:
    (pytester.path / "cases").mkdir()
    path = write(pytester.path / "cases", {**BASE, "id": "bad id/../x"})
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--co", "--sessions", "cases")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    err = result.stderr.str()
    assert f"{path}: field 'id': {ID_RULE}, got 'bad id/../x'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["casefile", "manifest", "artifact"])
def test_the_shipped_schemas_are_valid_json_schemas(name: str) -> None:
    import jsonschema

    from pytest_modelbench.schemas.validate import load_schema

    schema = load_schema(name)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert all(p.startswith("^") and p.endswith("$") for p in _patterns(schema)), "patterns must be anchored"


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "pattern" and isinstance(v, str)] + \
            [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []

"""Validation with jsonschema against the shipped schemas: pytest_modelbench.schemas.validate.first_error."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_modelbench.schemas.validate import first_error, load_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "prompt"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},  # JSON Schema patterns are unanchored
        "prompt": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "model": {"type": ["string", "null"]},
        "intent": {"enum": ["fix-bug", "docs"]},
        "turns": {"type": "array", "items": {"type": "string"}},
        "check": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"timeout": {"type": "number", "minimum": 0.1}, "files": {"$ref": "#/$defs/files"}},
        },
        "value": {"anyOf": [{"type": "integer"}, {"type": "object", "required": ["x"],
                                                  "properties": {"x": {"type": "string"}}}]},
    },
    "$defs": {"files": {"type": "object", "additionalProperties": {"type": "string"}}},
}

OK = {"id": "a-1", "prompt": "do it"}


def err(**fields: Any) -> tuple[str, str] | None:
    return first_error({**OK, **fields}, SCHEMA)


@pytest.mark.parametrize("extra", [
    {}, {"count": 0}, {"count": 10}, {"ratio": 1}, {"ratio": 0.5}, {"flag": False}, {"model": None},
    {"model": "gpt"}, {"intent": "docs"}, {"turns": []}, {"turns": ["a", "b"]}, {"check": {"timeout": 0.1}},
    {"check": {"files": {"a.py": "x"}}}, {"value": 3}, {"value": {"x": "s"}},
])
def test_valid_values_pass(extra: dict[str, Any]) -> None:
    assert err(**extra) is None


@pytest.mark.parametrize("field, value, path, words", [
    ("count", "3", "count", ["expected integer", "got str"]),
    ("count", 1.5, "count", ["expected integer", "got float"]),
    ("count", True, "count", ["expected integer", "got bool"]),
    ("ratio", False, "ratio", ["expected number", "got bool"]),
    ("flag", 1, "flag", ["expected boolean", "got int"]),
    ("model", 3, "model", ["expected string or null"]),
    ("turns", "one", "turns", ["expected array"]),
    ("check", [], "check", ["expected object", "got list"]),
])
def test_type_errors(field: str, value: Any, path: str, words: list[str]) -> None:
    got = err(**{field: value})
    assert got is not None and got[0] == path
    for word in words:
        assert word in got[1]


def test_top_level_type_error() -> None:
    assert first_error(["not", "an", "object"], SCHEMA) == ("(top level)", "expected object, got list")


@pytest.mark.parametrize("missing", ["id", "prompt"])
def test_required_field(missing: str) -> None:
    data = {k: v for k, v in OK.items() if k != missing}
    assert first_error(data, SCHEMA) == (missing, "required field is missing")


@pytest.mark.parametrize("data, path", [
    ({**OK, "bogus": 1}, "bogus"),
    ({**OK, "check": {"timeot": 5}}, "check.timeot"),
])
def test_additional_properties_false_names_the_unknown_field(data: dict[str, Any], path: str) -> None:
    got = first_error(data, SCHEMA)
    assert got is not None and got[0] == path
    assert "unknown field" in got[1]


@pytest.mark.parametrize("field, value, path, words", [
    ("intent", "fix", "intent", ["expected one of fix-bug, docs", "'fix'"]),
    ("id", "A1", "id", ["does not match"]),
    ("id", "a b", "id", ["does not match"]),  # the anchors make the pattern match the whole string
    ("id", "ab\n", "id", ["does not match"]),  # and "$" is the very end, as in the ECMA-262 regexes editors run
    ("prompt", "", "prompt", ["must not be empty"]),
    ("count", -1, "count", [">= 0", "got -1"]),
    ("count", 11, "count", ["<= 10"]),
    ("check", {"timeout": 0.05}, "check.timeout", [">= 0.1"]),
    ("check", {"timeout": "5"}, "check.timeout", ["expected number", "got str"]),
    ("turns", ["a", 2, 3], "turns[1]", ["expected string", "got int"]),
    ("check", {"files": {"a.py": 1}}, "check.files.a.py", ["expected string"]),
    ("check", {"files": "a.py"}, "check.files", ["expected object"]),
])
def test_constraints_and_nested_paths(field: str, value: Any, path: str, words: list[str]) -> None:
    got = err(**{field: value})
    assert got is not None and got[0] == path
    for word in words:
        assert word in got[1]


@pytest.mark.parametrize("value, path", [("s", "value"), ({"x": 1}, "value.x"), ({}, "value.x")])
def test_any_of_reports_the_furthest_branch(value: Any, path: str) -> None:
    got = err(value=value)
    assert got is not None and got[0] == path


def test_shipped_casefile_schema_loads_and_validates() -> None:
    schema = load_schema("casefile")
    good = {"id": "c1", "prompt": "p", "workspace": {"files": {"a.py": ""}}, "check": {}, "gold": {"delete": ["a"]}}
    assert first_error(good, schema) is None
    assert first_error({**good, "workspace": {"dir": 3}}, schema)[0] == "workspace.dir"
    assert first_error({**good, "original": {"turns": -1}}, schema)[0] == "original.turns"

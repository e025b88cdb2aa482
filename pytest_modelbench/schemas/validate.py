"""A small JSON Schema subset validator, so the shipped schema files are the single source of truth.

Supports what our schemas use: type, required, properties, additionalProperties, enum, items, minimum, maximum,
minLength, pattern, anyOf and local $ref. Returns the first problem as ``(field_path, message)`` so errors can
name the field.
Pure module.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``pytest_modelbench/schemas/<name>.schema.json``."""
    text = resources.files("pytest_modelbench.schemas").joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def _type_ok(value: Any, type_name: str) -> bool:
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[type_name])


def first_error(
    value: Any, schema: dict[str, Any], path: str = "", root: dict[str, Any] | None = None
) -> tuple[str, str] | None:
    """Return ``(path, message)`` for the first violation, or None when ``value`` conforms."""
    root = root if root is not None else schema
    if "$ref" in schema:
        # Only local references (#/$defs/name) are used by our schemas.
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    where = path or "(top level)"
    if "anyOf" in schema:
        errors = [first_error(value, sub, path, root) for sub in schema["anyOf"]]
        if all(errors):
            # Report the branch that got furthest (the longest path), which is usually the intended one.
            best = max((e for e in errors if e), key=lambda e: len(e[0]))
            return best
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(value, t) for t in names):
            return where, f"expected {' or '.join(names)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return where, f"expected one of {', '.join(map(str, schema['enum']))}, got {value!r}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return where, "must not be empty" if schema.get("minLength") == 1 else "too short"
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            return where, f"{value!r} does not match {schema['pattern']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return where, f"must be >= {schema['minimum']}, got {value}"
        if "maximum" in schema and value > schema["maximum"]:
            return where, f"must be <= {schema['maximum']}, got {value}"
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return _join(path, key), "required field is missing"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, sub in value.items():
            child = _join(path, str(key))
            if key in props:
                err = first_error(sub, props[key], child, root)
            elif extra is False:
                known = ", ".join(sorted(props))
                return child, f"unknown field (known: {known})"
            elif isinstance(extra, dict):
                err = first_error(sub, extra, child, root)
            else:
                err = None
            if err:
                return err
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            err = first_error(item, schema["items"], f"{path}[{i}]", root)
            if err:
                return err
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key

"""Validation against the shipped JSON Schemas (``pytest_modelbench/schemas/*.schema.json``) with ``jsonschema``.

The schema files are the single source of truth: what an editor checks a case file against is what the plugin
checks it against (JSON Schema ``pattern`` is unanchored, so our patterns are written ``^...$``). jsonschema reports
every violation; :func:`first_error` picks the one a person reading the file top to bottom meets first and words
it as ``(field path, what was expected)``, e.g. ``("sessions[0].key", "expected string, got int")``.

jsonschema is imported on the first validation only: a run that reads no case file or manifest never loads it, and
with ``--modelbench`` off nothing here is imported at all. (litellm depends on jsonschema, so it is always there.)
Pure module: no pytest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

TOP_LEVEL = "(top level)"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``pytest_modelbench/schemas/<name>.schema.json``."""
    text = resources.files("pytest_modelbench.schemas").joinpath(f"{name}.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(name: str) -> Validator:
    """A checked validator for a shipped schema (built once per process)."""
    return _validator_for(load_schema(name))


def _validator_for(schema: dict[str, Any]) -> Validator:
    from jsonschema import validators

    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # a broken schema fails loudly here, not as a confusing user error
    return validators.extend(cls, {"pattern": _ecma_pattern})(schema)


def _ecma_pattern(validator: Validator, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
    """The ``pattern`` keyword with a final ``$`` as ECMA-262 (the regex dialect of JSON Schema, what editors run)
    reads it: the very end of the string. Python's ``$`` also matches before a final newline, so ``"x\\n"`` would
    pass ``^x$`` here while an editor refuses it."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _compile(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern)


def first_error(value: Any, schema: dict[str, Any] | str) -> tuple[str, str] | None:
    """``(field path, message)`` for the first violation of ``schema`` (a dict, or a shipped schema's name).

    None when ``value`` conforms. The path is dotted with list indices, ``sessions[0].check.command``, or
    ``(top level)``.
    """
    validator = _validator(schema) if isinstance(schema, str) else _validator_for(schema)
    errors = list(validator.iter_errors(value))
    if not errors:
        return None
    _order_key, path, message = min((_describe(e, value) for e in errors), key=lambda d: d[0])
    return path, message


def _describe(error: ValidationError, root: Any) -> tuple[tuple[int, ...], str, str]:
    """``(order, path, message)`` of one error; ``anyOf`` errors are replaced by their most telling branch."""
    if error.validator == "anyOf" and error.context:
        return _best_branch(error, root)
    segments = list(error.absolute_path)
    kind, expected = error.validator, error.validator_value
    instance = error.instance
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        message = f"expected {' or '.join(names)}, got {_type_name(instance)}"
    elif kind == "enum":
        message = f"expected one of {', '.join(map(str, expected))}, got {instance!r}"
    elif kind == "const":
        message = f"expected {json.dumps(expected)}, got {instance!r}"
    elif kind == "required":
        missing = next((k for k in expected if isinstance(instance, dict) and k not in instance), None)
        if missing is not None:
            segments.append(missing)
        message = "required field is missing"
    elif kind == "additionalProperties" and expected is False and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = next((k for k in instance if k not in known), None)
        if unknown is not None:
            segments.append(unknown)
        message = f"unknown field (known: {', '.join(sorted(known))})"
    elif kind == "minLength":
        message = "must not be empty" if expected == 1 else f"expected at least {expected} characters"
    elif kind == "pattern":
        # A schema may name what its pattern means in "title" (editors show it too); else the pattern itself.
        title = error.schema.get("title") if isinstance(error.schema, dict) else None
        message = f"expected {title}, got {instance!r}" if title else f"{instance!r} does not match {expected}"
    elif kind == "minimum":
        message = f"must be >= {expected}, got {instance}"
    elif kind == "maximum":
        message = f"must be <= {expected}, got {instance}"
    elif kind == "minItems":
        message = "must not be empty" if expected == 1 else f"expected at least {expected} items"
    else:
        message = error.message  # a keyword our schemas do not use yet: jsonschema's own words
    return _order(root, segments), _path(segments), message


def _best_branch(error: ValidationError, root: Any) -> tuple[tuple[int, ...], str, str]:
    """Of an ``anyOf``'s failing branches, the one that got furthest into the value (usually the intended one)."""
    branches: dict[Any, list[tuple[tuple[int, ...], str, str]]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(_describe(sub, root))
    firsts = [min(described, key=lambda d: d[0]) for described in branches.values()]
    # The deepest path wins; on a tie, the earlier branch (max keeps the first of equals).
    return max(firsts, key=lambda d: len(d[0]))


def _order(root: Any, segments: Sequence[Any]) -> tuple[int, ...]:
    """Where a field comes in the document: keys in their written order, a missing (required) key first."""
    order: list[int] = []
    node = root
    for seg in segments:
        if isinstance(node, dict):
            order.append(list(node).index(seg) if seg in node else -1)
            node = node.get(seg)
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            order.append(seg)
            node = node[seg]
        else:
            order.append(-1)
            node = None
    return tuple(order)


def _path(segments: Iterable[Any]) -> str:
    out = ""
    for seg in segments:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out or TOP_LEVEL


def _type_name(value: Any) -> str:
    return type(value).__name__

"""Rubric files: load, validate, and describe the weights. Errors name the file and the key."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import UserError

TOP_LEVEL = ("static", "llm", "cost")
STATIC_SUB = ("tests", "lint", "complexity", "types", "coverage")
SUPPORTED_VERSIONS = (1, 2)  # 2: tests = the change, cost per solved task; 1: kept for old runs
# An item records each component as the junit property modelbench_<name>, next to its own modelbench_<field>
# properties (items.py): a custom component with one of these names would overwrite the outcome's field.
RESERVED_NAMES = ("status", "solved", "combined", "cost_usd", "seconds")


class RubricError(UserError, ValueError):
    """A broken rubric file; the message names the file and the key."""


@dataclass(frozen=True)
class Rubric:
    name: str
    version: int
    path: str
    weights: tuple[tuple[str, float], ...]  # top-level component -> weight
    static_weights: tuple[tuple[str, float], ...]  # static sub-component -> sub-weight
    settings: tuple[tuple[str, Any], ...] = ()

    def weight(self, name: str) -> float:
        return dict(self.weights).get(name, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "weights": dict(self.weights),
            "static_weights": dict(self.static_weights),
        }


def builtin_rubric_path(name: str) -> Path | None:
    candidate = resources.files("pytest_modelbench.rubrics").joinpath(f"{name}.yaml")
    return Path(str(candidate)) if candidate.is_file() else None


def builtin_rubric_names() -> list[str]:
    folder = resources.files("pytest_modelbench.rubrics")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve_rubric(spec: str, base_dir: Path) -> Rubric:
    """``spec`` is a built-in name (``default`` = v2, ``v1``, ``tests-only``) or a path to a YAML file."""
    path = builtin_rubric_path(spec)
    if path is None:
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            known = ", ".join(builtin_rubric_names())
            raise RubricError(f"--rubric {spec}: no such built-in rubric ({known}) or file")
    return load_rubric(path)


def _weight(value: Any, path: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RubricError(f"{path}: key '{key}': weight must be a number, got {value!r}")
    if value < 0:
        raise RubricError(f"{path}: key '{key}': weight must be >= 0, got {value}")
    return float(value)


def load_rubric(path: Path) -> Rubric:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read rubric: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        from pytest_modelbench.errors import yaml_problem

        line, problem = yaml_problem(exc, text)
        raise RubricError(f"{path}:{line}: invalid YAML: {problem}" if line else f"{path}: invalid YAML: {problem}") \
            from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}: expected a mapping at the top level")
    if "rubric_version" not in data:
        raise RubricError(f"{path}: key 'rubric_version' is missing")
    version = data["rubric_version"]
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise RubricError(f"{path}: key 'rubric_version': unsupported version {version!r} "
                          f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    unknown_top = set(data) - {"rubric_version", "name", "components", "description"}
    if unknown_top:
        raise RubricError(f"{path}: key '{sorted(unknown_top)[0]}': unknown key")
    components = data.get("components")
    if not isinstance(components, dict) or not components:
        raise RubricError(f"{path}: key 'components': expected a non-empty mapping")
    weights: list[tuple[str, float]] = []
    static_weights: list[tuple[str, float]] = []
    settings: list[tuple[str, Any]] = []
    for name, spec in components.items():
        key = f"components.{name}"
        if name not in TOP_LEVEL and not (isinstance(spec, dict) and spec.get("custom") is True):
            raise RubricError(f"{path}: key '{key}': unknown component (known: {', '.join(TOP_LEVEL)}; "
                              "a component measured by a pytest_modelbench_score hook needs custom: true)")
        if name in RESERVED_NAMES:
            raise RubricError(f"{path}: key '{key}': the name {name!r} is taken by the item's own property "
                              f"modelbench_{name} (reserved: {', '.join(RESERVED_NAMES)})")
        if not isinstance(spec, dict) or "weight" not in spec:
            raise RubricError(f"{path}: key '{key}.weight': missing")
        weights.append((name, _weight(spec["weight"], path, f"{key}.weight")))
        extra = {k: v for k, v in spec.items() if k not in ("weight", "components", "custom")}
        if extra:
            settings.append((name, extra))
        if name == "static":
            subs = spec.get("components")
            if not isinstance(subs, dict) or not subs:
                raise RubricError(f"{path}: key '{key}.components': expected a non-empty mapping of sub-components")
            for sub, sub_spec in subs.items():
                sub_key = f"{key}.components.{sub}"
                if sub not in STATIC_SUB:
                    known = ", ".join(STATIC_SUB)
                    raise RubricError(f"{path}: key '{sub_key}': unknown sub-component (known: {known})")
                if not isinstance(sub_spec, dict) or "weight" not in sub_spec:
                    raise RubricError(f"{path}: key '{sub_key}.weight': missing")
                static_weights.append((sub, _weight(sub_spec["weight"], path, f"{sub_key}.weight")))
                sub_extra = {k: v for k, v in sub_spec.items() if k != "weight"}
                if sub_extra:
                    settings.append((sub, sub_extra))
            if not any(w for _, w in static_weights):
                raise RubricError(f"{path}: key '{key}.components': sub-weights are all zero")
    if not any(w for _, w in weights):
        raise RubricError(f"{path}: key 'components': weights are all zero")
    return Rubric(
        name=str(data.get("name") or path.stem),
        version=int(version),
        path=str(path),
        weights=tuple(weights),
        static_weights=tuple(static_weights),
        settings=tuple(settings),
    )

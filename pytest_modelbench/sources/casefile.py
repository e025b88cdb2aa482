"""Case files (``*.modelbench.yaml`` / ``*.modelbench.json``): the portable native format.

The schema lives in ``pytest_modelbench/schemas/casefile.schema.json`` and is enforced here with field-named errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_modelbench.records import INTENTS, CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.schemas.validate import first_error
from pytest_modelbench.sources import SourceError

SUFFIXES = (".modelbench.yaml", ".modelbench.yml", ".modelbench.json")


def is_case_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SUFFIXES)


def find_case_files(root: Path) -> list[Path]:
    """Case files under ``root`` (or ``root`` itself), sorted so the order never depends on the file system."""
    if root.is_file():
        if not is_case_file(root):
            raise SourceError(f"{root}: not a case file (expected a name ending in {', '.join(SUFFIXES)})")
        return [root]
    return sorted(p for p in root.rglob("*") if is_case_file(p))


def read_case_data(path: Path) -> dict[str, Any]:
    """Parse one case file and validate it against the shipped schema; errors name file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read case file: {exc}") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        from pytest_modelbench.errors import yaml_problem

        line, problem = yaml_problem(exc, text)
        where = f"{path}:{line}" if line else str(path)
        raise SourceError(f"{where}: invalid YAML: {problem}") from None
    err = first_error(data, "casefile")
    if err:
        field, message = err
        raise SourceError(f"{path}: field '{field}': {message}")
    return data


def _fileset(data: dict[str, Any] | None, base: Path, where: str) -> FileSet:
    if not data:
        return FileSet()
    directory = None
    if "dir" in data:
        directory = (base / data["dir"]).resolve()
        if not directory.is_dir():
            raise SourceError(f"{where}.dir': folder {data['dir']!r} does not exist next to the case file")
    files = tuple(sorted((_safe_rel(k, where), v) for k, v in (data.get("files") or {}).items()))
    return FileSet(files=files, directory=directory)


def _safe_rel(rel: str, where: str) -> str:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not rel.strip():
        raise SourceError(f"{where}': path {rel!r} must be relative and stay inside the workspace")
    return p.as_posix()


def session_from_data(data: dict[str, Any], path: Path, source: str) -> Session:
    """Build a :class:`Session` from validated case-file data."""
    base = path.parent
    check = data.get("check") or {}
    gold = data.get("gold") or {}
    prefix = f"{path}: field '"
    kind = check.get("kind", "pytest")
    if kind == "function" and not (check.get("entry_point") and check.get("test_code")):
        raise SourceError(f"{prefix}check.entry_point': kind function needs entry_point and test_code")
    command: tuple[str, ...] = ()
    if kind == "node":
        command = _node_command(check.get("command", "npm test"), data.get("workspace") or {}, base, prefix)
    patch = gold.get("patch", "")
    if "patch_file" in gold:
        patch_path = base / gold["patch_file"]
        if not patch_path.is_file():
            raise SourceError(f"{prefix}gold.patch_file': {gold['patch_file']!r} does not exist")
        patch = patch_path.read_text(encoding="utf-8")
    gold_spec = GoldSpec(
        files=_fileset({k: gold[k] for k in ("files", "dir") if k in gold}, base, prefix + "gold"),
        delete=tuple(_safe_rel(d, prefix + "gold.delete") for d in gold.get("delete", ())),
        patch=patch,
    )
    if gold_spec.files.is_empty() and not gold_spec.delete and not gold_spec.patch:
        raise SourceError(f"{prefix}gold': needs files, dir, delete, patch or patch_file")
    workspace = _fileset(data["workspace"], base, prefix + "workspace")
    original = data.get("original") or {}
    intent = data.get("intent", "explore")
    assert intent in INTENTS  # guaranteed by the schema
    return Session(
        id=data["id"],
        source=source,
        intent=intent,
        prompt=data["prompt"],
        turns=tuple(data.get("turns", ())),
        language=data.get("language", "javascript" if kind == "node" else "python"),
        size_band=data.get("size_band", "small"),
        workspace=workspace,
        check=CheckSpec(
            kind=kind,
            paths=tuple(check.get("paths", ("tests",) if kind != "node" else ())),
            timeout=float(check.get("timeout", 60.0)),
            files=_fileset(check.get("files"), base, prefix + "check.files"),
            entry_point=check.get("entry_point", ""),
            test_code=check.get("test_code", ""),
            solution_file=check.get("solution_file", "solution.py"),
            plugins=tuple(check.get("plugins", ())),
            command=command,
        ),
        gold=gold_spec,
        original=Original(
            model=original.get("model"),
            turns=_count(original.get("turns")),
            cost_usd=original.get("cost_usd"),
            tokens=_count(original.get("tokens")),
        ),
        origin=str(path),
    )


def _count(value: int | float | None) -> int | None:
    # JSON Schema's "integer" includes 3.0 (as editors read it); the record holds an int either way.
    return None if value is None else int(value)


def load_case_files(root: Path, source: str) -> list[Session]:
    sessions: list[Session] = []
    seen: dict[str, Path] = {}
    for path in find_case_files(root):
        session = session_from_data(read_case_data(path), path, source)
        if session.id in seen:
            raise SourceError(f"{path}: field 'id': {session.id!r} is already used by {seen[session.id]}")
        seen[session.id] = path
        sessions.append(session)
    return sessions


class CaseFileSource:
    """Case files found under a path given to ``--sessions``."""

    default_sample_size: int | None = None

    def __init__(self, root: Path, name: str = "cases") -> None:
        self.root = root
        self.name = name
        self._sessions: list[Session] | None = None

    def sessions(self) -> Sequence[Session]:
        if self._sessions is None:
            found = load_case_files(self.root, self.name)
            if not found:
                raise SourceError(f"--sessions {self.root}: no case files (*.modelbench.yaml|json) found there")
            self._sessions = found
        return self._sessions


def _node_command(command: str, workspace: dict[str, Any], base: Path, prefix: str) -> tuple[str, ...]:
    """``(runner, command)`` for a node check: ``npm test`` and friends resolved through the start's package.json."""
    import json

    from pytest_modelbench.replay.nodecheck import node_runner

    text = (workspace.get("files") or {}).get("package.json")
    if text is None and workspace.get("dir"):
        pkg = base / workspace["dir"] / "package.json"
        text = pkg.read_text(encoding="utf-8") if pkg.is_file() else None
    try:
        package = json.loads(text) if text else None
    except ValueError as exc:
        raise SourceError(f"{prefix}workspace': package.json is not valid JSON ({exc})") from None
    runner, reason = node_runner(command, package)
    if runner is None:
        raise SourceError(f"{prefix}check.command': {reason}")
    return (runner, command)

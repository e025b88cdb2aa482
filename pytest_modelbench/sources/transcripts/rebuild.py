"""Rebuilding an indexed session for a replay: its workspace (a git start extracted once and reused, plus what the
transcript showed), its gold change, and its check (the session's own pytest command, or ``--check-command``).

Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sources.transcripts.assess import assess, check_for
from pytest_modelbench.sources.transcripts.common import is_test_file, parse_test_command
from pytest_modelbench.sources.transcripts.features import merged_ops, summarize
from pytest_modelbench.sources.transcripts.git import GitRepo
from pytest_modelbench.sources.transcripts.simulate import relative

if TYPE_CHECKING:
    from pytest_modelbench.sources.transcripts.index import HistoryIndex, IndexedSession

CHECK_TIMEOUT = 120.0


class ReplayError(ModelbenchError, ValueError):
    """A session that was replayable at import time can no longer be rebuilt here."""


def build_session(index: HistoryIndex, row: IndexedSession, check_override: str | None, cache_dir: Path) -> Session:
    """The full :class:`Session` of an indexed session: workspace, gold change and check."""
    states = index.part_states(row.key)
    trunk_path = row.path
    features = summarize(row.key, states, trunk_path)
    if features is None:
        raise ReplayError(f"{row.key}: its transcript is no longer in the index")
    ops = merged_ops(states)
    replay, sim = assess(features, ops, {})
    if replay.reason or sim is None:
        raise ReplayError(f"{row.key}: {replay.reason or 'cannot be replayed'}")
    command, why = check_for(features.check_command, check_override)
    if command is None:
        raise ReplayError(f"{row.key}: {why}")
    overlay = {p: v for p, v in sim.start.items() if isinstance(v, str) and p not in sim.from_lookup}
    if replay.method == "git":
        dest = cache_dir / ("git-" + hashlib.sha256(
            f"{replay.git_root}\0{replay.commit}\0{replay.subdir}".encode()).hexdigest()[:16])
        if not dest.is_dir():
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
            try:
                GitRepo(Path(replay.git_root)).archive(replay.commit, replay.subdir, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if not dest.is_dir():
                    raise ReplayError(f"{row.key}: cannot rebuild its start from git: {exc}") from None
        repo = GitRepo(Path(replay.git_root))
        overlay = {p: v for p, v in overlay.items() if repo.show(replay.commit, _join(replay.subdir, p)) != v}
        workspace = FileSet(files=tuple(sorted(overlay.items())), directory=dest)
    else:
        workspace = FileSet(files=tuple(sorted(overlay.items())))
    parsed = parse_test_command(command)
    assert parsed is not None  # check_for accepted it
    node = not parsed.is_pytest
    from pytest_modelbench.replay.nodecheck import is_js_test_file

    is_test = is_js_test_file if node else is_test_file
    changed = sim.changed
    code_changed = [p for p in changed if not is_test(p)]
    hidden_tests = {p: text for p in changed
                    if is_test(p) and code_changed and (text := sim.final[p]) is not None}
    gold_files = {p: text for p in changed if p not in hidden_tests and (text := sim.final[p]) is not None}
    deleted = [p for p in changed if sim.final[p] is None and sim.start.get(p) is not None]
    if node:
        check = _node_check(workspace, overlay, command, hidden_tests)
        language = "javascript"
    else:
        base = _command_dir(parsed.cwd, ops, command, features.cwd)
        files = set(overlay) | set(hidden_tests)
        if workspace.directory is not None:
            files |= {p.relative_to(workspace.directory).as_posix() for p in workspace.directory.rglob("*.py")}
        wanted = [_join(base, p).rstrip("/") for p in parsed.paths] or [base or "."]
        paths = check_paths(files, wanted)
        paths += [p for p in hidden_tests if p not in paths]
        check = CheckSpec(kind="pytest", paths=tuple(paths), timeout=CHECK_TIMEOUT,
                          files=FileSet(files=tuple(sorted(hidden_tests.items()))))
        language = features.language if features.language != "unknown" else "python"
    return Session(
        id=features.session_id,
        source=features.source,
        intent=features.intent,
        prompt=features.prompt,
        turns=features.followups,
        workspace=workspace,
        check=check,
        gold=GoldSpec(files=FileSet(files=tuple(sorted(gold_files.items()))),
                      delete=tuple(sorted(deleted))),
        language=language,
        size_band=features.size_band,
        original=Original(model=features.model, turns=features.calls, cost_usd=features.cost_usd,
                          tokens=None if features.tokens_status == "unknown" else features.tokens.total),
        origin=features.path,
        project=features.cwd,
    )


def check_paths(files: Iterable[str], wanted: Sequence[str]) -> list[str]:
    """The check paths for a pytest command given ``wanted`` (its arguments, or its folder).

    Everything under a check path is restored from the start before the check runs, so the paths must hold tests,
    not the code under test: a folder of tests (no other Python modules than ``__init__``/``conftest``) is kept
    whole, a test file living beside code is named alone. Explicit test files are kept as given.
    """
    explicit = [w for w in wanted if w.endswith(".py")]
    folders = [w for w in wanted if not w.endswith(".py")]

    def under(rel: str) -> bool:
        return any(f in (".", "") or rel == f or rel.startswith(f + "/") for f in folders)

    chosen = [f for f in files if is_test_file(f) and under(f)]
    by_dir: dict[str, bool] = {}
    for f in files:
        if f.endswith(".py") and not is_test_file(f):
            name = f.rsplit("/", 1)[-1]
            if name not in ("__init__.py", "conftest.py"):
                by_dir[f.rsplit("/", 1)[0] if "/" in f else ""] = True
    out: list[str] = list(explicit)
    for f in sorted(chosen):
        folder = f.rsplit("/", 1)[0] if "/" in f else ""
        target = folder if folder and not by_dir.get(folder) else f
        if target not in out:
            out.append(target)
    return out or list(wanted)


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and base != "." else rel


def _command_dir(cd: str, ops: Sequence[dict[str, Any]], command: str, root: str) -> str:
    """The folder (relative to the workspace) a test command ran in: its ``cd DIR`` or Codex's workdir."""
    workdir = next((op.get("cwd") for op in ops if op.get("op") == "test" and op.get("cmd") == command
                    and op.get("cwd")), "")
    base = root
    if workdir:
        base = workdir
    if cd:
        base = cd if os.path.isabs(cd) else os.path.join(base, cd)
    return relative(base, root) or ""


def _node_check(workspace: FileSet, overlay: dict[str, str], command: str, hidden_tests: dict[str, str]) -> CheckSpec:
    """A JavaScript check: the test command resolved through the start's package.json (replay/nodecheck.py)."""
    import json

    from pytest_modelbench.replay.nodecheck import node_runner

    text = overlay.get("package.json")
    if text is None and workspace.directory is not None and (workspace.directory / "package.json").is_file():
        text = (workspace.directory / "package.json").read_text(encoding="utf-8", errors="replace")
    try:
        package = json.loads(text) if text else None
    except ValueError:
        package = None
    runner, reason = node_runner(command, package)
    # A command that cannot be resolved (no scripts.test, an unsupported runner) leaves the session out with that
    # reason when it is validated, instead of failing the whole run here.
    spec = (runner, command) if runner is not None else ("unsupported", command, reason)
    return CheckSpec(kind="node", paths=(), timeout=CHECK_TIMEOUT, command=spec,
                     files=FileSet(files=tuple(sorted(hidden_tests.items()))))

"""Rebuilding an indexed session for a replay: its workspace (a git start extracted once and reused, plus what the
transcript showed), its gold change, and its check (the session's own test command, or ``--check-command``): for
Python, what that command selects (replay/testselect.py) through its wrappers (replay/testcommand.py).

Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.replay.testcommand import resolve_command
from pytest_modelbench.replay.testselect import (
    check_paths,
    config_folder,
    default_args,
    file_of,
    read_pytest_config,
    select_tests,
)
from pytest_modelbench.sources.transcripts.assess import NODE_COMMANDS, assess, check_for, command_dir
from pytest_modelbench.sources.transcripts.commands import parse_test_command
from pytest_modelbench.sources.transcripts.features import merged_ops, summarize
from pytest_modelbench.sources.transcripts.git import GitRepo

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
    changed = sim.changed
    deleted = [p for p in changed if sim.final[p] is None and sim.start.get(p) is not None]
    if parsed.runner in NODE_COMMANDS:
        from pytest_modelbench.replay.nodecheck import is_js_test_file

        hidden_tests = _hidden_tests(changed, sim.final, is_js_test_file)
        check = _node_check(workspace, overlay, command, hidden_tests)
        language = "javascript"
    else:
        check, tests = _python_check(workspace, overlay, sim.final, command,
                                     command_dir(ops, command, features.cwd), features.cwd)
        hidden_tests = _hidden_tests(changed, sim.final, tests.__contains__)
        if check.command[:1] != ("unsupported",):
            paths = list(check.paths) + [p for p in hidden_tests if not any(
                _covers(path, p) for path in check.paths)]
            check = replace(check, paths=tuple(paths), files=FileSet(files=tuple(sorted(hidden_tests.items()))))
        language = features.language if features.language != "unknown" else "python"
    gold_files = {p: text for p in changed if p not in hidden_tests and (text := sim.final[p]) is not None}
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


def _hidden_tests(changed: Sequence[str], final: dict[str, str | None],
                  is_test: Callable[[str], bool]) -> dict[str, str]:
    """The session's own test writes that become the hidden check (only when it changed code too: a session that
    only wrote tests has those tests as its gold)."""
    if not any(not is_test(p) for p in changed):
        return {}
    return {p: text for p in changed if is_test(p) and (text := final[p]) is not None}


def _covers(path: str, rel: str) -> bool:
    norm = file_of(path)
    return norm in (".", "") or rel == norm or rel.startswith(norm + "/")


def _python_check(workspace: FileSet, overlay: dict[str, str], final: dict[str, str | None], command: str,
                  base: str, root: str) -> tuple[CheckSpec, set[str]]:
    """A Python check: what the session's test command selects (replay/testselect.py), read through its wrappers
    from the start's files (replay/testcommand.py). Returns the check without its hidden files, and the test files
    among the start's and the session's files."""

    def read_start(rel: str) -> str | None:
        if rel in overlay:
            return overlay[rel]
        if workspace.directory is not None and (workspace.directory / rel).is_file():
            return (workspace.directory / rel).read_text(encoding="utf-8", errors="replace")
        return None

    def read_any(rel: str) -> str | None:
        text = read_start(rel)
        return text if text is not None else final.get(rel)

    run = resolve_command(command, read_any, base, root)
    if run.reason:
        # A command that cannot be resolved leaves the session out with that reason when it is validated, instead
        # of failing the whole run here.
        return CheckSpec(kind="pytest", paths=(), timeout=CHECK_TIMEOUT,
                         command=("unsupported", command, run.reason)), set()
    universe = set(overlay) | {p for p, text in final.items() if text is not None}
    if workspace.directory is not None:
        universe |= {p.relative_to(workspace.directory).as_posix() for p in workspace.directory.rglob("*.py")}
    config = read_pytest_config(read_start, config_folder(run.args, run.cwd))
    selection = select_tests(universe, run, config)
    tests = selection.files
    paths = check_paths(universe, selection, tests.__contains__) or list(run.args or default_args(run, config))
    # (style, the session's command, unittest pattern, pytest's selection options); () for plain pytest, as before.
    style = (run.style, command, run.pattern, *run.options) if run.style == "unittest" or run.options else ()
    return CheckSpec(kind="pytest", paths=tuple(paths), timeout=CHECK_TIMEOUT, command=style), tests


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and base != "." else rel


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

"""Replayability: whether a session's start can be rebuilt (from git, else from the transcript) and with which check.

The start comes from git when the repository at ``cwd`` exists here (the commit just before the first timestamp,
or Codex's recorded commit), else from the transcript itself (Read results, Write contents, Edit originals),
marked *partial* when files the session saw are missing. The gold is the session's own edits applied to that
start. A session that cannot be replayed keeps its index row and a reason.
Pure module: no pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pytest_modelbench.sources.transcripts.commands import WRAPPED, parse_test_command
from pytest_modelbench.sources.transcripts.features import SessionFeatures
from pytest_modelbench.sources.transcripts.git import GitRepo
from pytest_modelbench.sources.transcripts.simulate import Simulation, relative, simulate

# Test commands of JavaScript projects this version runs (replay/nodecheck.py).
NODE_COMMANDS = ("npm", "yarn", "pnpm", "node", "vitest", "jest")


@dataclass(frozen=True)
class Replay:
    """How a session's start is rebuilt, and why it cannot be when it cannot (``reason`` empty = it can)."""

    method: str  # git | transcript | "" (none)
    partial: bool
    reason: str
    git_root: str = ""
    commit: str = ""
    subdir: str = ""
    missing: tuple[str, ...] = ()
    # Why the session's own test command cannot be a check (a wrapper its start does not explain), "" when it can;
    # a --check-command given instead makes it irrelevant.
    check_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git_source(features: SessionFeatures, repos: dict[str, GitRepo | None]) -> tuple[GitRepo, str, str] | None:
    if features.cwd not in repos:
        repos[features.cwd] = GitRepo.find(features.cwd)
    repo = repos[features.cwd]
    if repo is None:
        return None
    commit = features.git_commit if features.git_commit and repo.has_commit(features.git_commit) else None
    commit = commit or repo.commit_before(features.started, features.branch)
    if commit is None:
        return None
    subdir = relative(features.cwd, str(repo.root)) or ""
    return repo, commit, subdir


def _lookup(repo: GitRepo, commit: str, subdir: str) -> Callable[[str], Any]:
    return lambda rel: repo.show(commit, f"{subdir}/{rel}" if subdir else rel)


def assess(features: SessionFeatures, ops: Sequence[dict[str, Any]],
           repos: dict[str, GitRepo | None] | None = None) -> tuple[Replay, Simulation | None]:
    """Decide how the session's start can be rebuilt (the check command is decided later, see :func:`check_for`)."""
    repos = {} if repos is None else repos
    if not features.prompt:
        return Replay("", False, "no user prompt in the transcript"), None
    if not features.cwd:
        return Replay("", False, "no working directory (cwd) in the transcript"), None
    git = _git_source(features, repos)
    sim = simulate(ops, features.cwd, _lookup(*git) if git else None)
    method = "git" if git else "transcript"
    where = f"git {git[1][:12]}" if git else f"the transcript (no git repository at {features.cwd} here)"
    reason = ""
    if sim.outside:
        reason = f"edits outside the working directory: {', '.join(sim.outside[:3])}"
    elif sim.unsupported:
        reason = f"edits that cannot be replayed (notebook cells): {', '.join(sim.unsupported[:3])}"
    elif sim.unreadable:
        n = sim.unreadable
        reason = (f"{n} edit{'s' if n != 1 else ''} could not be read (the patch or edit text in the transcript is "
                  "not a patch: redacted or cut), so the change the session made is not known")
    elif sim.failed:
        path, why = sim.failed[0]
        reason = f"the session's edit of {path} does not apply to its start from {where} ({why})"
    elif sim.unknown:
        reason = f"the start of {', '.join(sim.unknown[:3])} is unknown: not in {where}"
    elif not sim.changed:
        reason = "the session changed no files"
    check_reason = "" if reason else _wrapper_reason(features, ops, sim, _lookup(*git) if git else None)
    replay = Replay(method=method, partial=(not git and bool(sim.missing)),
                    reason=reason, git_root=str(git[0].root) if git else "", commit=git[1] if git else "",
                    subdir=git[2] if git else "", missing=sim.missing[:20] if not git else (),
                    check_reason=check_reason)
    return replay, sim


def _wrapper_reason(features: SessionFeatures, ops: Sequence[dict[str, Any]], sim: Simulation,
                    lookup: Callable[[str], Any] | None) -> str:
    """For a wrapped Python test command (make, tox, hatch, unittest, ``python test.py``): why the start's files do
    not say what it runs, read as the rebuild will read them (replay/testcommand.py); "" otherwise."""
    command = features.check_command
    parsed = parse_test_command(command) if command else None
    if command is None or parsed is None or parsed.runner not in WRAPPED:
        return ""
    from pytest_modelbench.replay.testcommand import resolve_command

    def read(rel: str) -> str | None:
        text = sim.start.get(rel)
        if text is None and lookup is not None:
            text = lookup(rel)
        if text is None:
            text = sim.final.get(rel)
        return text if isinstance(text, str) else None

    return resolve_command(command, read, command_dir(ops, command, features.cwd), features.cwd).reason


def command_dir(ops: Sequence[dict[str, Any]], command: str, root: str, cd: str = "") -> str:
    """The folder (relative to the workspace) a test command ran in: Codex's workdir, then a ``cd DIR``."""
    workdir = next((op.get("cwd") for op in ops if op.get("op") == "test" and op.get("cmd") == command
                    and op.get("cwd")), "")
    base = root
    if workdir:
        base = workdir
    if cd:
        base = cd if os.path.isabs(cd) else os.path.join(base, cd)
    return relative(base, root) or ""


def check_for(detected: str | None, override: str | None) -> tuple[str | None, str]:
    """The check command to use and, when there is none, why: ``(command, reason)``."""
    if override:
        return override, ""
    if not detected:
        return None, "no test command in the session (give one with --check-command)"
    parsed = parse_test_command(detected)
    if parsed is not None and parsed.runner in NODE_COMMANDS:
        return detected, ""  # resolved through the start's package.json when the session is rebuilt
    if parsed is not None and parsed.runner in WRAPPED:
        return detected, ""  # resolved through the start's files (Makefile, tox.ini, …) when the session is rebuilt
    if parsed is None or not parsed.is_pytest:
        runner = parsed.runner if parsed else "?"
        return None, (f"its test command runs {runner}, and this version checks with pytest (also through python "
                      "-m unittest, tox, hatch or make), node --test, vitest or jest only (give a pytest command "
                      "with --check-command)")
    return detected, ""

"""Workspaces: materialise a session's starting files, apply the gold change, and prepare the check.

The check's test files and test configuration are restored from the pristine start before every check, and the
hidden check files are written last, so nothing a candidate writes can change how it is judged.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from pathlib import Path

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import FileSet, GoldSpec, Session
from pytest_modelbench.replay.testselect import TestRun, config_folder, file_of, read_pytest_config, select_tests

# Files that change how pytest or the interpreter behaves: restored from the start, or removed when new.
PROTECTED_NAMES = frozenset(
    {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg",
     "pyproject.toml", "sitecustomize.py", "usercustomize.py"}
)
IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".git", ".mypy_cache", ".ruff_cache"})
# Never copied into a workspace: virtual environments (a folder holding pyvenv.cfg) and node_modules are the
# project's environment, used read-only by the check (replay/envs.py), not part of its code.
ENV_DIRS = frozenset({"node_modules"})
MAX_DIFF_FILE = 2 * 1024**2  # larger files are shown in a diff as "<large file>" (a candidate may write gigabytes)


class WorkspaceError(UserError, RuntimeError):
    """The session's own data cannot be turned into a workspace (for example a gold patch that does not apply)."""


def write_fileset(fs: FileSet, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if fs.directory is not None:
        shutil.copytree(fs.directory, dest, dirs_exist_ok=True, ignore=_ignored)
    for rel, text in fs.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def copy_workspace(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True, ignore=_ignored)
    return dest


def _ignored(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in IGNORED_DIRS or n in ENV_DIRS
            or os.path.isfile(os.path.join(folder, n, "pyvenv.cfg"))}


def apply_gold(gold: GoldSpec, workspace: Path) -> None:
    """Apply the session's recorded change: files over the start, then deletions, then the patch."""
    write_fileset(gold.files, workspace)
    for rel in gold.delete:
        target = workspace / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    if gold.patch:
        # Ceiling: never let git discover a repository above the workspace and patch that instead.
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(workspace.parent)}
        res = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            cwd=workspace,
            input=gold.patch.encode(),
            capture_output=True,
            env=env,
        )
        if res.returncode != 0:
            raise WorkspaceError(f"gold patch does not apply: {res.stderr.decode(errors='replace').strip()}")


def walk_files(root: Path, *, symlinks: bool = False) -> dict[str, Path]:
    """Relative POSIX path -> absolute path of every regular file, skipping caches.

    With ``symlinks=True`` symbolic links (to files or folders, dangling or not) are included too; they are never
    followed.
    """
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and d not in links)
        for name in [*filenames, *links]:
            p = Path(dirpath, name)
            if p.is_symlink():
                if symlinks:
                    found[p.relative_to(root).as_posix()] = p
            elif p.is_file():
                found[p.relative_to(root).as_posix()] = p
    return found


def _under(rel: str, paths: tuple[str, ...]) -> bool:
    for p in paths:
        norm = file_of(p)  # a node id (test.py::TestX::test_y) stands for its file
        if norm == "." or rel == norm or rel.startswith(norm + "/"):
            return True
    return False


def _is_protected(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name in PROTECTED_NAMES or name.endswith(".pth")


def prepare_check(session: Session, workspace: Path, pristine: Path) -> list[str]:
    """Restore test files and config from ``pristine``, write the hidden check files, return what pytest is given.

    The returned list is what the check's paths select (replay/testselect.py) among the start's files and the
    check's own files, with the start's pytest configuration: named files and node ids, and the test files found in
    named folders. Tests a candidate adds do not count.
    """
    start = walk_files(pristine)
    current = walk_files(workspace, symlinks=True)
    check_paths = session.check.paths
    for rel, path in current.items():
        # New protected files go, and so does any link where the check looks: a link is never a test or config.
        if (_is_protected(rel) and rel not in start) or (path.is_symlink() and (_is_protected(rel)
                                                                                 or _under(rel, check_paths))):
            path.unlink()
    check_files = walk_files_of(session.check.files)
    for rel, src in start.items():
        if _is_protected(rel) or _under(rel, check_paths):
            dest = clear_path(workspace, rel)
            if dest.is_symlink() or dest.is_dir():
                _remove(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    for rel in check_files:
        clear_path(workspace, rel)
    write_fileset(session.check.files, workspace)
    run = check_run(session)

    def read(rel: str) -> str | None:
        path = pristine / rel
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    config = read_pytest_config(read, config_folder(check_paths))
    return select_tests(set(start) | set(check_files), run, config).args


def check_run(session: Session) -> TestRun:
    """What a pytest check runs: its paths, in the style (and with the options) its ``command`` records, as
    ``(style, the session's command, unittest pattern, pytest selection options...)``; () is plain pytest."""
    spec = session.check.command
    if spec[:1] not in (("pytest",), ("unittest",)) or len(spec) < 3:
        return TestRun("pytest", session.check.paths)
    return TestRun(spec[0], session.check.paths, pattern=spec[2], options=tuple(spec[3:]))


def clear_path(workspace: Path, rel: str) -> Path:
    """``workspace / rel`` with every link or file standing where one of its folders belongs removed first.

    The harness writes test files and hidden check files there; a candidate's link (``tests -> /home/me``) must not
    carry those writes outside the workspace.
    """
    current = workspace
    for part in Path(rel).parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
    return workspace / rel


def _content(p: Path) -> bytes:
    return b"link:" + os.readlink(p).encode() if p.is_symlink() else p.read_bytes()


def walk_files_of(fs: FileSet) -> set[str]:
    names = {rel for rel, _ in fs.files}
    if fs.directory is not None:
        names |= set(walk_files(fs.directory))
    return names


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


def touched_files(before: Path, after: Path) -> dict[str, list[str]]:
    """Files added, modified and deleted between two workspace trees (evidence and, later, static scoring)."""
    a, b = walk_files(before, symlinks=True), walk_files(after, symlinks=True)
    modified = [rel for rel in sorted(set(a) & set(b)) if _content(a[rel]) != _content(b[rel])]
    return {
        "added": sorted(set(b) - set(a)),
        "modified": modified,
        "deleted": sorted(set(a) - set(b)),
    }


def unified_diff(before: Path, after: Path, limit: int = 20_000) -> str:
    """The change between two trees as one unified diff (text files), truncated at ``limit`` characters."""
    a, b = walk_files(before), walk_files(after)
    chunks: list[str] = []
    for rel in sorted(set(a) | set(b)):
        old = _text(a.get(rel))
        new = _text(b.get(rel))
        if old == new:
            continue
        chunks.extend(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                           f"a/{rel}" if rel in a else "/dev/null",
                                           f"b/{rel}" if rel in b else "/dev/null"))
    text = "".join(chunks)
    return text if len(text) <= limit else text[:limit] + "\n[... diff truncated]"


def _text(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        if path.stat().st_size > MAX_DIFF_FILE:
            return "<large file>"
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return "<binary>"

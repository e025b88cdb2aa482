"""Replaying a session's recorded file operations onto its start: the start files, the gold change, and the files
whose start is unknown (:func:`simulate`), with Claude Code's edit and Codex's patch semantics.

Pure module: no pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_modelbench.errors import ModelbenchError

# Operation records (plain dicts, as stored in the history index). Every op has "op", "path" (absolute, or relative
# to the session's cwd) and "ts". Kinds:
#   read      {content: str | None, partial: bool, repeat?}  full text of the file as the agent saw it (a repeat:
#             the file was seen before in this transcript, so its text is not stored again)
#   write     {content, created: bool, original: str | None} whole-file write; original = content before, if known
#   edit      {edits: [[old, new, replace_all], ...], original: str | None}   original = the file as this edit
#             found it (the tool result's copy), which wins over the text the earlier ops produced
#   add       {content}                                     a patch adding a file (it did not exist)
#   update    {hunks: [[old_lines, new_lines, anchor], ...], move: str | None}   a Codex patch hunk list
#   delete    {}                                            rm / a patch deleting the file
#   unsupported {tool}                                      a change we cannot replay (e.g. NotebookEdit)
#   unreadable {tool}  (no path)                            an edit whose input could not be read (redacted, cut)
#   seen      {paths: [...]}                                files listed by Glob/LS; absent ones make it partial
#   test      {cmd, ok: bool | None, cwd}                   a test command and whether it ended green

UNKNOWN = object()  # a file whose content at the start is not known


class EditFailed(ModelbenchError, ValueError):
    pass


def apply_edits(text: str, edits: Sequence[Sequence[Any]]) -> str:
    """Claude Code ``Edit``/``MultiEdit`` semantics: each old string must occur; ``replace_all`` replaces all."""
    for old, new, replace_all in edits:
        if old == "":
            if text:
                raise EditFailed("an empty old_string on a file that is not empty")
            text = new
            continue
        if old not in text:
            raise EditFailed("old_string not found")
        text = text.replace(old, new) if replace_all else text.replace(old, new, 1)
    return text


def _seek(lines: list[str], pattern: list[str], start: int) -> int:
    """Where ``pattern`` occurs in ``lines`` from ``start``: exact, then ignoring trailing, then all whitespace."""
    if not pattern:
        return start
    n = len(pattern)
    for norm in (lambda s: s, str.rstrip, str.strip):
        target = [norm(p) for p in pattern]
        for i in range(start, len(lines) - n + 1):
            if all(norm(lines[i + j]) == target[j] for j in range(n)):
                return i
    return -1


def apply_hunks(text: str, hunks: Sequence[Sequence[Any]]) -> str:
    """Apply Codex ``*** Update File`` hunks (context / - / + lines) in order, as codex's apply_patch does."""
    lines = text.split("\n")
    trailing = bool(lines) and lines[-1] == ""
    if trailing:
        lines.pop()
    cursor = 0
    for old, new, anchor in hunks:
        if anchor:
            found = _seek(lines, [anchor], cursor)
            if found >= 0:
                cursor = found + 1
        at = _seek(lines, list(old), cursor)
        if at < 0:
            at = _seek(lines, list(old), 0)
        if at < 0:
            raise EditFailed("patch context not found")
        lines[at: at + len(old)] = list(new)
        cursor = at + len(new)
    return "\n".join(lines) + ("\n" if trailing or not lines else "")


@dataclass(frozen=True)
class Simulation:
    """The outcome of replaying the recorded operations onto the start.

    ``start``: relative path -> content (None = absent at the start) for every file whose start is known;
    ``final``: relative path -> content (None = deleted) for every file the session changed;
    ``unknown``: changed files whose start content could not be found; ``failed``: (path, why) of edits that do
    not apply; ``outside``: changed paths outside the working directory; ``missing``: files the session saw
    (listed or read in part) but whose content is not known.
    """

    start: dict[str, str | None]
    final: dict[str, str | None]
    unknown: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    outside: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()
    from_lookup: frozenset[str] = field(default_factory=frozenset)
    unreadable: int = 0  # edits whose input could not be read: the files they changed are not known

    @property
    def changed(self) -> list[str]:
        return sorted(p for p in self.final if self.final[p] != self.start.get(p, UNKNOWN))


def relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` as a POSIX path, or None when it lies outside."""
    if not path:
        return None
    full = path if os.path.isabs(path) else os.path.join(root, path)
    rel = os.path.relpath(os.path.normpath(full), os.path.normpath(root)) if root else os.path.normpath(full)
    rel = rel.replace(os.sep, "/")
    if rel == "." or rel.startswith("../") or rel == ".." or os.path.isabs(rel):
        return None
    return rel


def simulate(ops: Sequence[dict[str, Any]], root: str,
             lookup: Callable[[str], str | None | object] | None = None) -> Simulation:
    """Apply ``ops`` (in order) to the start of the workspace rooted at ``root``.

    The start of a file is the first thing the transcript shows about it (a full Read, an Edit's original file,
    a Write that created it); when the transcript does not show it, ``lookup(rel)`` is asked (a git commit) and
    may return the content, None (absent) or UNKNOWN.
    """
    start: dict[str, Any] = {}
    current: dict[str, Any] = {}
    changed: set[str] = set()
    failed: list[tuple[str, str]] = []
    outside: list[str] = []
    seen: set[str] = set()
    partial: set[str] = set()
    unsupported: list[str] = []
    looked_up: set[str] = set()
    unreadable = 0

    def learn(rel: str, op: dict[str, Any]) -> None:
        """Take the start of ``rel`` from ``op`` when it shows it (before the session changed the file)."""
        kind = op["op"]
        known: Any = UNKNOWN
        if kind == "read" and isinstance(op.get("content"), str) and not op.get("partial"):
            known = op["content"]
        elif kind in ("edit", "write") and isinstance(op.get("original"), str):
            known = op["original"]
        elif (kind == "write" and op.get("created")) or kind == "add":
            known = None
        if known is UNKNOWN and rel not in current and lookup is not None:
            known = lookup(rel)
            if known is not UNKNOWN:
                looked_up.add(rel)
        if rel not in current or known is not UNKNOWN:
            start[rel] = current[rel] = known

    for op in ops:
        kind = op.get("op")
        if kind == "test":
            continue
        if kind == "unreadable":
            unreadable += 1
            continue
        if kind == "seen":
            for p in op.get("paths") or ():
                rel = relative(str(p), root)
                if rel:
                    seen.add(rel)
            continue
        rel = relative(str(op.get("path") or ""), root)
        if rel is None:
            if kind not in ("read",):
                outside.append(str(op.get("path")))
            continue
        if rel not in current or (current[rel] is UNKNOWN and rel not in changed):
            learn(rel, op)
        if kind == "read":
            if not op.get("repeat") and (op.get("partial") or not isinstance(op.get("content"), str)):
                partial.add(rel)
            continue
        if kind == "unsupported":
            unsupported.append(rel)
            continue
        changed.add(rel)
        cur = current[rel]
        try:
            if kind == "write" or kind == "add":
                current[rel] = op.get("content") or ""
            elif kind == "delete":
                current[rel] = None
            elif kind == "edit":
                if isinstance(op.get("original"), str) and cur is not UNKNOWN:
                    # The tool's own copy of the file before this edit: a formatter hook or the user may have
                    # changed it since the session's previous edit.
                    cur = op["original"]
                if cur is UNKNOWN:
                    continue
                current[rel] = apply_edits(cur or "", op.get("edits") or ())
            elif kind == "update":
                if cur is UNKNOWN:
                    continue
                if cur is None:
                    raise EditFailed("update of a file that does not exist")
                new_text = apply_hunks(cur, op.get("hunks") or ())
                move = op.get("move")
                moved = relative(str(move), root) if move else None
                if move and moved is None:
                    outside.append(str(move))
                elif moved:
                    current[rel] = None
                    if moved not in current:
                        start[moved] = None
                    current[moved] = new_text
                    changed.add(moved)
                    continue
                current[rel] = new_text
        except EditFailed as exc:
            failed.append((rel, str(exc)))
            current[rel] = UNKNOWN
    failed_paths = {p for p, _ in failed}
    unknown = sorted(p for p in changed if current.get(p) is UNKNOWN and p not in failed_paths)
    final = {p: current[p] for p in changed if current[p] is not UNKNOWN}
    known_start = {p: v for p, v in start.items() if v is not UNKNOWN}
    # Written over without a known start: the gold is known, but the start may lack a file that existed.
    blind = {p for p in changed if start.get(p, UNKNOWN) is UNKNOWN and p in final}
    missing = sorted((seen | partial | blind) - {p for p, v in known_start.items() if v is not None})
    return Simulation(
        start=known_start, final=final, unknown=tuple(sorted(unknown)), failed=tuple(failed),
        outside=tuple(dict.fromkeys(outside)), missing=tuple(missing), unsupported=tuple(sorted(set(unsupported))),
        from_lookup=frozenset(looked_up), unreadable=unreadable,
    )

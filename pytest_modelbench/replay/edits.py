"""Turn a model's answer into edits: whole files in fenced blocks, or SEARCH/REPLACE blocks. Pure module.

A malformed answer or an edit that does not apply is reported in :class:`Applied` (evidence), never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_FENCE = re.compile(r"^(```+|~~~+)([^\n]*)\n(.*?)^\1[ \t]*$", re.S | re.M)
_PATH_IN_INFO = re.compile(r"(?:path|file|filename)\s*[=:]\s*[\"']?([^\s\"']+)", re.I)
_BARE_PATH = re.compile(r"^[\w.\-/]+\.[A-Za-z0-9]+$")
_PATH_LINE = re.compile(r"^\s*(?:#+\s*|\*\*|`|File:\s*|file:\s*|Path:\s*)?([\w.\-/]+\.[A-Za-z0-9]+)(?:\*\*|`|:)?\s*$")
_SEARCH_REPLACE = re.compile(
    r"^([^\n]*?)\n?<<<<<<<\s*SEARCH[^\n]*\n(.*?)^=======[^\n]*\n(.*?)^>>>>>>>\s*REPLACE[^\n]*$", re.S | re.M)


@dataclass(frozen=True)
class WholeFile:
    path: str
    content: str


@dataclass(frozen=True)
class SearchReplace:
    path: str
    search: str
    replace: str


Edit = WholeFile | SearchReplace


@dataclass
class Applied:
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def safe_path(rel: str) -> str | None:
    """A relative POSIX path that stays inside the workspace, or None."""
    rel = rel.strip().strip("`*\"'").removeprefix("./")
    if not rel or rel.startswith("/") or "\\" in rel:
        return None
    parts = PurePosixPath(rel).parts
    if ".." in parts or not parts:
        return None
    return PurePosixPath(*parts).as_posix()


def inside(workspace: Path, rel: str) -> Path:
    """``workspace / rel`` if it resolves inside the workspace (links followed), else ValueError.

    For the harness's own reads and writes on behalf of a candidate (tool calls, edits): a link the candidate made
    from inside a sandbox must not lead them anywhere else.
    """
    target = workspace / rel
    root = workspace.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"path {rel!r} leads outside the repository (through a link)")
    return target


def _path_from_info(info: str) -> str | None:
    m = _PATH_IN_INFO.search(info)
    if m:
        return m.group(1)
    for token in info.split():
        if _BARE_PATH.match(token) and "/" in token or (_BARE_PATH.match(token) and "." in token
                                                        and token.split(".")[-1] not in ("py",)):
            return token
        if _BARE_PATH.match(token) and token.endswith(".py"):
            return token
    return None


def parse_edits(answer: str) -> list[Edit]:
    """Every edit in the answer, in order. SEARCH/REPLACE blocks first wins over a fence containing them."""
    edits: list[Edit] = []
    text = answer or ""
    for m in _SEARCH_REPLACE.finditer(text):
        header = m.group(1)
        path = _find_path_before(text, m.start(), header)
        if path:
            edits.append(SearchReplace(path, m.group(2), m.group(3)))
    if edits:
        return edits
    for m in _FENCE.finditer(text):
        info, body = m.group(2).strip(), m.group(3)
        path = _path_from_info(info) if info else None
        if path is None:
            path = _find_path_before(text, m.start(), "")
        if path:
            edits.append(WholeFile(path, body))
    return edits


def _find_path_before(text: str, start: int, header: str) -> str | None:
    candidates = [header] if header.strip() else []
    before = text[:start].rstrip("\n").splitlines()
    candidates += before[-2:][::-1]
    for line in candidates:
        line = line.strip()
        if line.startswith("```") or line.startswith("~~~"):
            line = line.lstrip("`~").strip()
            p = _path_from_info(line)
            if p:
                return p
            continue
        m = _PATH_LINE.match(line)
        if m:
            return m.group(1)
    return None


def apply_edits(workspace: Path, edits: list[Edit]) -> Applied:
    result = Applied()
    for edit in edits:
        rel = safe_path(edit.path)
        if rel is None:
            result.errors.append(f"{edit.path!r}: path must be relative and stay inside the workspace")
            continue
        try:
            target = inside(workspace, rel)
        except ValueError as exc:
            result.errors.append(str(exc))
            continue
        if isinstance(edit, WholeFile):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(edit.content, encoding="utf-8")
            result.changed.append(rel)
            continue
        if not edit.search.strip():
            if target.exists() and target.read_text(encoding="utf-8", errors="replace").strip():
                result.errors.append(f"{rel}: empty SEARCH on a non-empty file")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(edit.replace, encoding="utf-8")
            result.changed.append(rel)
            continue
        if not target.is_file():
            result.errors.append(f"{rel}: SEARCH/REPLACE on a file that does not exist")
            continue
        text = target.read_text(encoding="utf-8", errors="replace")
        count = text.count(edit.search)
        if count != 1:
            result.errors.append(f"{rel}: SEARCH text found {count} times (needs exactly 1)")
            continue
        target.write_text(text.replace(edit.search, edit.replace, 1), encoding="utf-8")
        result.changed.append(rel)
    return result


def extract_code(answer: str) -> str | None:
    """The code of a function-completion answer: the first python (or unlabelled) fenced block, else the text."""
    if not answer or not answer.strip():
        return None
    blocks = [(m.group(2).strip().lower(), m.group(3)) for m in _FENCE.finditer(answer)]
    for info, body in blocks:
        if info.startswith(("python", "py")) or info == "" or "path=" in info:
            return body
    if blocks:
        return blocks[0][1]
    return answer if re.search(r"^\s*(def|class|import|from|return)\b", answer, re.M) else None

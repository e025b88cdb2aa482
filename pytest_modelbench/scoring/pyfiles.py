"""Reading Python files without executing them: functions, their spans and sources, added lines. Pure module."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FunctionInfo:
    qualname: str
    lineno: int
    end_lineno: int
    source: str
    params: int  # parameters that should be annotated (not self/cls)
    annotated_params: int
    has_return_annotation: bool


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def functions(source: str) -> dict[str, FunctionInfo] | None:
    """Every function and method by qualified name; None when the file does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.splitlines()
    found: dict[str, FunctionInfo] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [*child.args.posonlyargs, *child.args.args, *child.args.kwonlyargs]
                if child.args.vararg:
                    args.append(child.args.vararg)
                if child.args.kwarg:
                    args.append(child.args.kwarg)
                if prefix and args and args[0].arg in ("self", "cls"):
                    args = args[1:]
                end = child.end_lineno or child.lineno
                name = f"{prefix}{child.name}"
                found[name] = FunctionInfo(
                    qualname=name, lineno=child.lineno, end_lineno=end,
                    source="\n".join(lines[child.lineno - 1:end]),
                    params=len(args), annotated_params=sum(1 for a in args if a.annotation is not None),
                    has_return_annotation=child.returns is not None,
                )
                visit(child, f"{name}.")

    visit(tree, "")
    return found


def touched_functions(before: str | None, after: str) -> dict[str, FunctionInfo] | None:
    """Functions of ``after`` that are new or whose source changed compared with ``before``."""
    now = functions(after)
    if now is None:
        return None
    old = functions(before) if before is not None else {}
    old = old or {}
    return {name: f for name, f in now.items() if name not in old or old[name].source != f.source}


def statement_lines(source: str) -> set[int]:
    """Line numbers where a statement starts (what coverage can measure), docstrings excluded."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value,
                                                                                                  str):
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                lines.add(node.lineno)  # the def line runs at import; decorators do not move it here
                continue
            lines.add(node.lineno)
    return lines


def added_lines(before: str | None, after: str) -> set[int]:
    """1-based line numbers of ``after`` that are not in ``before`` (all of them for a new file)."""
    new = after.splitlines()
    if before is None:
        return set(range(1, len(new) + 1))
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=new, autojunk=False)
    added: set[int] = set()
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            added.update(range(j1 + 1, j2 + 1))
    return added

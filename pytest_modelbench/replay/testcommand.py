"""What a session's Python test command runs, read through the wrappers users put around it.

``pytest`` (also through ``python -m``, ``uv run``, ``poetry run``, ``pdm run``, ``coverage run -m``), ``python -m
unittest`` (discovery with its ``-s``/``-p``/``-t`` arguments, dotted names, file paths) and ``python test.py`` for a
unittest module are read directly. ``hatch``, ``tox`` and ``make`` are resolved to the test command they wrap, from
the lines :mod:`wrappers` reads in the start's own files; among several commands (``a && b``, a recipe), the first
that can be a check wins. A command that cannot be one gives a reason naming it (and the wrapper) and what to do.
The result is a :class:`~pytest_modelbench.replay.testselect.TestRun` for :mod:`testselect`.

Pure module: no pytest.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Set as AbstractSet
from dataclasses import replace

from pytest_modelbench.replay.testselect import Reader, TestRun
from pytest_modelbench.replay.wrappers import Wrapped, hatch, make, tox
from pytest_modelbench.sources.transcripts.commands import (
    PYTEST_VALUE_OPTS,
    RUN_WRAPPERS,
    segments,
    shell_words,
    strip_wrappers,
)

MAX_DEPTH = 6  # wrappers inside wrappers (make -> tox -> pytest); deeper is a loop or not worth following
NO_CHECK = "no check in its test command"
SUPPORTED = "pytest, python -m unittest or a unittest module run with python"
WRAPPERS = {"hatch": hatch, "tox": tox, "make": make, "gmake": make}
_PYTHON = re.compile(r"python[\d.]*")
SELECTING = ("-k", "-m", "--deselect", "--ignore")  # pytest options that decide which tests run
_UNITTEST_VALUE_OPTS = {"-k", "--durations"}
_PYTHON_VALUE_OPTS = {"-W", "-X", "-c"}


def resolve_command(command: str, read: Reader, cwd: str = "", root: str = "") -> TestRun:
    """What ``command`` runs when started in ``cwd`` (relative to the start, whose absolute path on the session's
    machine is ``root``): a :class:`TestRun`, with ``reason`` set when it cannot be a check."""
    found = _Resolver(read, root).command(command, posixpath.normpath(cwd or "."), (), 0)
    if found is None:
        found = TestRun(command=command, reason=f"{command!r} runs no test command this version checks with "
                                                f"({SUPPORTED}); give one with --check-command")
    if found.reason:  # one leading kind for every such reason, so the yield report counts them together
        return replace(found, reason=f"{NO_CHECK}: {found.reason}")
    return found


class _Resolver:
    def __init__(self, read: Reader, root: str) -> None:
        self.read = read
        self.root = root.rstrip("/")

    # -- shell lines -------------------------------------------------------------------------------------------

    def command(self, line: str, cwd: str, via: tuple[str, ...], depth: int) -> TestRun | None:
        """The first test command in a shell line (``cd DIR &&`` followed), or None when it has none."""
        if depth > MAX_DEPTH:
            return TestRun(command=line, via=via, reason=f"{via[0]!r}: wrappers nest deeper than {MAX_DEPTH} "
                                                         "levels; give the test command with --check-command")
        first: TestRun | None = None  # a test command that cannot be a check, said when no other one can
        for segment in segments(line):
            words = strip_wrappers(shell_words(segment), RUN_WRAPPERS - {"hatch"})  # hatch run: its scripts
            if not words:
                continue
            head = posixpath.basename(words[0])
            if head == "cd" and len(words) >= 2:
                where = self.rel(words[1], cwd)
                cwd = where if where is not None else cwd
                continue
            found = self.words(words, head, segment, cwd, via, depth)
            if found is not None and not found.reason:
                return found
            first = first or found
        return first

    def words(self, words: list[str], head: str, segment: str, cwd: str, via: tuple[str, ...],
              depth: int) -> TestRun | None:
        if head in ("pytest", "py.test"):
            return self.pytest(words[1:], segment, cwd, via)
        if head == "coverage" and words[1:2] == ["run"]:
            rest = [w for w in words[2:] if not (w.startswith("--") and "=" in w)]
            rest = [w for w in rest if w not in ("--branch", "-p", "--parallel-mode", "-a", "--append")]
            return self.words(["python", *rest], "python", segment, cwd, via, depth)
        if _PYTHON.fullmatch(head):
            return self.python(words[1:], segment, cwd, via)
        reader = WRAPPERS.get(head)
        if reader is not None:
            wrapped = reader(words[1:], self.read, cwd, self.rel)
            return None if wrapped is None else self.wrapped(wrapped, segment, via, depth)
        return None

    def rel(self, path: str, cwd: str) -> str | None:
        """``path`` relative to the start, or None when it lies outside it."""
        if path.startswith("/"):
            if not self.root or not (path == self.root or path.startswith(self.root + "/")):
                return None
            out = posixpath.relpath(path, self.root)
        else:
            out = posixpath.normpath(posixpath.join(cwd, path))
        return None if out == ".." or out.startswith("../") else out

    def _args(self, paths: list[str], cwd: str) -> tuple[str, ...]:
        out = []
        for p in paths:
            path, sep, node = p.partition("::")
            rel = self.rel(path, cwd)
            if rel is not None:
                out.append(rel + sep + node)
        return tuple(dict.fromkeys(out))

    # -- runners -----------------------------------------------------------------------------------------------

    def pytest(self, args: list[str], segment: str, cwd: str, via: tuple[str, ...]) -> TestRun:
        paths = _positionals(args, PYTEST_VALUE_OPTS)
        named = self._args(paths, cwd)
        if paths and not named:
            return TestRun(command=segment, via=via, reason=f"{segment!r} names only paths outside the project")
        return TestRun("pytest", named, cwd, command=segment, via=via, options=self.selecting(args, cwd))

    def selecting(self, args: list[str], cwd: str) -> tuple[str, ...]:
        """pytest's selection options in ``args``: ``-k``/``-m`` expressions as given, ``--deselect`` node ids and
        ``--ignore`` paths relative to the start (those outside it are dropped)."""
        out: list[str] = []
        i = 0
        while i < len(args):
            a, value = args[i], None
            name = a.split("=", 1)[0] if a.startswith("--") else a[:2] if a[:2] in ("-k", "-m") else a
            if name in SELECTING:
                if "=" in a and a.startswith("--") or (len(a) > 2 and a[:2] in ("-k", "-m")):
                    value = a.split("=", 1)[1] if a.startswith("--") else a[2:]
                elif i + 1 < len(args):
                    value, i = args[i + 1], i + 1
            i += 1
            if value is None:
                continue
            if name in ("-k", "-m"):
                out += [name, value]
            elif (where := self._args([value], cwd)):
                out += [name, where[0]]
        return tuple(out)

    def python(self, args: list[str], segment: str, cwd: str, via: tuple[str, ...]) -> TestRun | None:
        i = 0
        while i < len(args) and args[i].startswith("-") and args[i] != "-m":
            i += 2 if args[i] in _PYTHON_VALUE_OPTS else 1
        rest = args[i:]
        if rest[:2] == ["-m", "pytest"]:
            return self.pytest(rest[2:], segment, cwd, via)
        if rest[:2] == ["-m", "unittest"]:
            return self.unittest(rest[2:], segment, cwd, via)
        if rest and rest[0].endswith(".py"):
            return self.script(rest[0], rest[1:], segment, cwd, via)
        return None

    def unittest(self, args: list[str], segment: str, cwd: str, via: tuple[str, ...]) -> TestRun:
        discover = args[:1] == ["discover"]
        if discover:
            args = args[1:]
        opts: dict[str, str] = {}
        positional: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            key = {"--start-directory": "-s", "--pattern": "-p", "--top-level-directory": "-t"}.get(a, a)
            if discover and key in ("-s", "-p", "-t") and i + 1 < len(args):
                opts[key] = args[i + 1]
                i += 2
                continue
            if a in _UNITTEST_VALUE_OPTS:
                i += 2
                continue
            if not a.startswith("-"):
                positional.append(a)
            i += 1
        if discover or not positional:
            start = opts.get("-s") or (positional[0] if positional else ".")
            pattern = opts.get("-p") or (positional[1] if len(positional) > 1 else "test*.py")
            folder = self.rel(start, cwd)
            if folder is None:
                return TestRun(command=segment, via=via, reason=f"{segment!r} discovers tests outside the project")
            return TestRun("unittest", (folder,), cwd, pattern, segment, via)
        return TestRun("unittest", tuple(self.unittest_name(n, cwd) for n in positional), cwd, "test*.py",
                       segment, via)

    def unittest_name(self, name: str, cwd: str) -> str:
        """A unittest name (``pkg.test_mod.TestX.test_y``, or a file path) as a pytest argument (a node id)."""
        if name.endswith(".py") or "/" in name:
            return self.rel(name, cwd) or name
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            base = posixpath.join(cwd, *parts[:n])
            rel = posixpath.normpath(base)
            if self.read(rel + ".py") is not None:
                return "::".join([rel + ".py", *parts[n:]])
            if self.read(rel + "/__init__.py") is not None:
                return rel  # a package: discovery inside it
        return posixpath.normpath(posixpath.join(cwd, *parts)) + ".py"

    def script(self, file: str, args: list[str], segment: str, cwd: str, via: tuple[str, ...]) -> TestRun:
        rel = self.rel(file, cwd)
        text = self.read(rel) if rel is not None else None
        if rel is None or text is None:
            return TestRun(command=segment, via=via, reason=f"{segment!r}: {file} is not in the project")
        if not re.search(r"\bunittest\b", text):
            return TestRun(command=segment, via=via, reason=(
                f"{segment!r} runs {rel} as a script, which is judged only when it is a unittest module (it does "
                "not use unittest); give the test command with --check-command"))
        names = [a for a in _positionals(args, _UNITTEST_VALUE_OPTS) if re.fullmatch(r"[A-Za-z_][\w.]*", a)]
        nodes = tuple("::".join([rel, *n.split(".")]) for n in names) or (rel,)
        return TestRun("unittest", nodes, cwd, "test*.py", segment, via)

    # -- wrappers ----------------------------------------------------------------------------------------------

    def wrapped(self, wrapped: Wrapped, segment: str, via: tuple[str, ...], depth: int) -> TestRun:
        """The test command among the lines a wrapper runs (one that can be a check first), else why not."""
        first: TestRun | None = None
        for line in wrapped.lines:
            found = self.command(line, wrapped.cwd, (*via, segment), depth + 1)
            if found is not None and not found.reason:
                return found
            first = first or found
        if first is not None:
            return first
        why = wrapped.reason or f"{wrapped.runs}, no test command this version checks with ({SUPPORTED})"
        return TestRun(command=segment, via=via, reason=f"{segment!r}: {why}; give the test command it runs with "
                                                        "--check-command")


# -- helpers -------------------------------------------------------------------------------------------------------


def _positionals(args: list[str], value_opts: AbstractSet[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in value_opts
        else:
            out.append(a)
    return out



"""The shell commands of a session, read without running them: which one runs a test suite (the check command of a
replay: :func:`parse_test_command`, :func:`check_command_problem`) and what an ``rm`` deletes (:func:`removed_paths`).

A leaf like ``common.py``; pure module: no pytest.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

# -- test commands ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCommand:
    """A shell command that runs a test suite. ``runner`` is pytest, npm, yarn, pnpm, go, cargo, tox, make, jest …"""

    __test__ = False

    command: str
    runner: str
    paths: tuple[str, ...] = ()  # pytest only: the files or folders it was given (relative to ``cwd``)
    cwd: str = ""  # a leading ``cd DIR &&``

    @property
    def is_pytest(self) -> bool:
        return self.runner == "pytest"


# Python test commands read through the project's files when a session is rebuilt (replay/testcommand.py).
WRAPPED = ("unittest", "python", "hatch", "tox", "make")
# The words that only start a command (one home: replay/testcommand.py strips them the same way).
ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
GENERIC_WRAPPERS = frozenset({"timeout", "time", "nice", "env", "sudo", "exec", "command", "xvfb-run"})
RUN_WRAPPERS = frozenset({"uv", "poetry", "pdm", "hatch", "pipenv", "rye"})  # `X run CMD`
RUN_VALUE_OPTS = frozenset({"--with", "--extra", "--group", "-p", "--python", "--package", "--env-file", "--project",
                            "--directory", "--with-requirements", "--with-editable", "--index", "--only-group",
                            "--no-extra", "-e", "--env"})
# pytest options that take a value, so the value is not mistaken for a path.
PYTEST_VALUE_OPTS = frozenset({
    "-k", "-m", "-p", "-o", "-c", "-n", "--maxfail", "--tb", "--rootdir", "--junitxml", "--cov", "--cov-report",
    "--durations", "--deselect", "--ignore", "--ignore-glob", "--log-level", "--timeout", "-W", "--confcutdir",
    "--basetemp", "--dist", "-r", "--cov-config", "--cov-fail-under", "--numprocesses", "--import-mode", "--capture",
    "--override-ini", "--log-cli-level", "--count", "--reruns", "--random-order-seed"})
_TEST_HINT = re.compile(r"test|tox|nox|jest|mocha|rspec|make +check")


def segments(command: str) -> list[str]:
    return [s.strip() for s in re.split(r"&&|\|\||;|\n|\|", command) if s.strip()]


def shell_words(segment: str) -> list[str]:
    """The words of one shell command (a line that does not split as the shell would: at blanks)."""
    try:
        return shlex.split(segment, posix=True)
    except ValueError:
        return segment.split()


def strip_wrappers(words: list[str], run_wrappers: frozenset[str] = RUN_WRAPPERS) -> list[str]:
    """Drop environment assignments and the wrappers that only start the command (``timeout 60``, ``env``,
    ``uv run --extra test``, ``poetry run``); ``run_wrappers``: the ``X run`` tools to look through."""
    while words:
        head = posixpath.basename(words[0])
        if ENV_ASSIGN.match(words[0]):
            words = words[1:]
        elif head in GENERIC_WRAPPERS:
            words = words[1:]
            if head == "timeout" and words and re.fullmatch(r"[\d.]+[smh]?", words[0]):
                words = words[1:]
        elif head in run_wrappers and words[1:2] == ["run"]:
            words = words[2:]
            while words and words[0].startswith("-"):  # uv run --extra test pytest
                words = words[2:] if words[0] in RUN_VALUE_OPTS else words[1:]
        else:
            break
    return words


def _pytest_paths(args: list[str]) -> tuple[str, ...]:
    paths: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("-"):
            if a in PYTEST_VALUE_OPTS:
                skip = True
            continue
        paths.append(a.split("::", 1)[0])
    return tuple(dict.fromkeys(paths))


def parse_test_command(command: str) -> TestCommand | None:
    """The test command inside a shell command line, or None.

    Recognised: ``pytest``/``py.test``, ``python -m pytest`` (any python), ``python -m unittest``, ``python
    test*.py``, ``uv|poetry|pdm|hatch run …``, ``hatch test``,
    ``tox``/``nox``, ``npm|yarn|pnpm|bun test`` and ``… run test``, ``npx jest|vitest|mocha``, ``go test``,
    ``cargo test``, ``mix|swift|deno|dart|flutter test``,
    ``make test|check``, ``mvn test``, ``gradle test``, ``dotnet test``, ``bundle exec rspec``.
    A leading ``cd DIR &&`` is kept as ``cwd``.
    """
    if not _TEST_HINT.search(command):
        return None
    cwd = ""
    for segment in segments(command):
        raw = shell_words(segment)
        words = strip_wrappers(raw)
        if not words:
            continue
        head = posixpath.basename(words[0])
        if head == "cd" and len(words) >= 2:
            cwd = words[1]
            continue
        runner: str | None = None
        rest: list[str] = []
        if head in ("pytest", "py.test"):
            runner, rest = "pytest", words[1:]
        elif re.fullmatch(r"python[\d.]*", head) and len(words) >= 3 and words[1] == "-m" and words[2] == "pytest":
            runner, rest = "pytest", words[3:]
        elif re.fullmatch(r"python[\d.]*", head) and words[1:3] == ["-m", "unittest"]:
            runner = "unittest"
        elif re.fullmatch(r"python[\d.]*", head) and len(words) >= 2 and re.search(r"test\w*\.py$", words[1]):
            runner = "python"  # python test.py: a unittest module run as a script (replay/testcommand.py)
        elif raw[:1] == ["hatch"] and raw[1:2] in (["run"], ["test"]):
            runner = "hatch"
        elif head in ("tox", "nox"):
            runner = head
        elif head in ("npm", "yarn", "pnpm", "bun") and len(words) >= 2 and (
            words[1] in ("test", "t") or (words[1] == "run" and len(words) >= 3 and words[2].startswith("test"))
        ):
            runner = head
        elif head in ("npx", "pnpx", "bunx") and len(words) >= 2 and words[1] in ("jest", "vitest", "mocha"):
            runner = words[1]
        elif head in ("jest", "vitest", "mocha", "rspec"):
            runner = head
        elif head == "node" and "--test" in words:
            runner = "node"
        elif head in ("go", "cargo", "mvn", "gradle", "./gradlew", "dotnet", "mix", "swift", "deno", "dart",
                      "flutter") and len(words) >= 2 \
                and words[1] == "test":
            runner = head.lstrip("./")
        elif head == "make" and len(words) >= 2 and words[1] in ("test", "tests", "check"):
            runner = "make"
        elif head == "bundle" and words[1:3] == ["exec", "rspec"]:
            runner = "rspec"
        if runner is not None:
            paths = _pytest_paths(rest) if runner == "pytest" else ()
            return TestCommand(command=command.strip(), runner=runner, paths=paths, cwd=cwd)
    return None


def check_command_problem(command: str | None) -> str | None:
    """Why ``command`` cannot be a check command (``--check-command``), or None when it can."""
    if command is None:
        return None
    parsed = parse_test_command(command)
    if parsed is None:
        return f"{command!r} does not run a test suite (expected e.g. 'pytest tests' or 'python -m pytest')"
    if not parsed.is_pytest and parsed.runner not in ("npm", "yarn", "pnpm", "node", "vitest", "jest", *WRAPPED):
        return (f"{command!r} runs {parsed.runner}; this version checks with pytest, python -m unittest, node "
                "--test, vitest or jest (e.g. 'pytest tests' or 'npm test')")
    return None


_RM = re.compile(r"^(?:git\s+)?rm\s+(?:-[a-zA-Z]+\s+)*(.+)$")


def removed_paths(command: str) -> list[str]:
    """Paths a simple ``rm`` / ``git rm`` command deletes (no globs, no variables); other commands give []."""
    out: list[str] = []
    for segment in segments(command):
        m = _RM.match(segment)
        if not m:
            continue
        for word in shell_words(m.group(1)):
            if word.startswith("-") or any(ch in word for ch in "*?$`{"):
                continue
            out.append(word)
    return out

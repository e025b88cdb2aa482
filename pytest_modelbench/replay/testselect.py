"""Which files a Python check runs: what the session's test command selects, as pytest or unittest would.

One rule for the whole harness: the transcript rebuild uses it to decide which of the session's writes are tests (the
hidden check) and which folders are restored from the start, and the workspace uses it again, on the pristine start,
to list what the check collects. The order is pytest's own: the paths the command names (files, folders, node ids
such as ``test.py::TestX::test_y``; a named file is collected whatever its name), else the project's ``testpaths``,
else the folder the command ran in; folders are walked with the project's ``python_files`` (pytest's defaults
``test_*.py`` / ``*_test.py`` without a configuration) and ``norecursedirs``. A unittest run walks with its
discovery pattern (``test*.py`` by default) into packages only, as ``python -m unittest discover`` does.

The configuration is read from the start's ``pytest.toml``, ``pytest.ini``, ``pyproject.toml``
(``[tool.pytest.ini_options]`` or ``[tool.pytest]``), ``tox.ini`` (``[pytest]``) or ``setup.cfg`` (``[tool:pytest]``),
in the folder the tests run from or above, first found wins (pytest's order). ``python_classes`` and
``python_functions`` are read too; pytest applies them itself inside the files, from the same restored files.

Pure module: no pytest.
"""

from __future__ import annotations

import configparser
import fnmatch
import posixpath
import re
import tomllib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

# Reads a file of the start by its path relative to the start (None when it is not there).
Reader = Callable[[str], "str | None"]

DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")
DEFAULT_NORECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
UNITTEST_PATTERN = "test*.py"
# pytest's configuration files in its order of precedence (the first one found with a pytest section wins).
CONFIG_FILES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_MODULE_NAME = re.compile(r"[_a-z]\w*\.py$", re.IGNORECASE)  # what unittest discovery imports


@dataclass(frozen=True)
class PytestConfig:
    """The parts of a project's pytest configuration that decide which tests run (pytest's defaults without one)."""

    file: str = ""  # the configuration file, relative to the start; "" when none was found
    testpaths: tuple[str, ...] = ()
    python_files: tuple[str, ...] = DEFAULT_PYTHON_FILES
    python_classes: tuple[str, ...] = ("Test",)
    python_functions: tuple[str, ...] = ("test",)
    norecursedirs: tuple[str, ...] = DEFAULT_NORECURSE

    @property
    def folder(self) -> str:
        """The folder of the configuration file (pytest's rootdir), "" for the start's root."""
        return posixpath.dirname(self.file)


@dataclass(frozen=True)
class TestRun:
    """What a test command runs, relative to the start: ``style`` pytest or unittest (run under pytest, which
    collects unittest cases), ``args`` (files, folders, node ids; empty = what pytest picks from ``cwd``)."""

    __test__ = False

    style: str = "pytest"
    args: tuple[str, ...] = ()
    cwd: str = ""
    pattern: str = ""  # unittest discovery pattern
    command: str = ""  # the test command itself, after wrappers
    via: tuple[str, ...] = ()  # the wrappers resolved on the way, outermost first (``make test``, ``tox -e py``)
    reason: str = ""  # why the command cannot be run as a check ("" when it can)
    # pytest's selection options the command gave, passed on to the check: -k/-m expressions, --deselect node ids
    # and --ignore paths (relative to the start), as (option, value) pairs flattened.
    options: tuple[str, ...] = ()

    @property
    def ignored(self) -> tuple[str, ...]:
        """The ``--ignore`` paths: folder walks skip them (pytest does not apply them to named paths)."""
        return tuple(self.options[i + 1] for i in range(0, len(self.options) - 1, 2)
                     if self.options[i] == "--ignore")


@dataclass(frozen=True)
class Selection:
    """The tests a run selects: ``named`` (files and node ids the command names) and ``found`` (test files found by
    walking folders)."""

    named: tuple[str, ...] = ()
    found: tuple[str, ...] = ()

    @property
    def args(self) -> list[str]:
        """What pytest is given: every named entry, then every found file not already named."""
        named_files = {file_of(n) for n in self.named}
        return [*self.named, *(f for f in self.found if f not in named_files)]

    @property
    def files(self) -> set[str]:
        return {file_of(a) for a in self.args}


def config_folder(args: Iterable[str], cwd: str = "") -> str:
    """Where pytest starts looking for its configuration: the common folder of its arguments (else ``cwd``)."""
    dirs = [posixpath.dirname(file_of(a)) if a.endswith(".py") or "::" in a else file_of(a) for a in args]
    norm = [posixpath.normpath(d or ".") for d in dirs or [cwd]]
    return "" if "." in norm else posixpath.commonpath(norm)


def file_of(arg: str) -> str:
    """The file of a pytest argument (``test.py::TestX::test_y`` -> ``test.py``), normalised."""
    return posixpath.normpath(arg.split("::", 1)[0])


# -- configuration -------------------------------------------------------------------------------------------------


def read_pytest_config(read: Reader, folder: str = "") -> PytestConfig:
    """The pytest configuration governing ``folder`` (relative to the start): the first configuration file with a
    pytest section in ``folder`` or above, as pytest locates it. An unreadable file counts as none (pytest itself
    then stops with an error the check reports)."""
    parts = [p for p in posixpath.normpath(folder or ".").split("/") if p not in (".", "")]
    for depth in range(len(parts), -1, -1):
        here = "/".join(parts[:depth])
        for name in CONFIG_FILES:
            rel = f"{here}/{name}" if here else name
            text = read(rel)
            if text is None:
                continue
            values = _pytest_section(name, text)
            if values is not None:
                return _config(rel, values)
    return PytestConfig()


def _pytest_section(name: str, text: str) -> dict[str, object] | None:
    try:
        if name.endswith(".toml"):
            data = tomllib.loads(text)
            if name != "pyproject.toml":
                return _dict(data.get("pytest")) or {}  # pytest.toml is the configuration even when empty
            tool = _dict(_dict(data.get("tool")).get("pytest"))
            if not tool:
                return None
            return _dict(tool.get("ini_options")) or {k: v for k, v in tool.items() if k != "ini_options"}
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(text)
    except (tomllib.TOMLDecodeError, configparser.Error):
        return None
    section = "tool:pytest" if name == "setup.cfg" else "pytest"
    if parser.has_section(section):
        return dict(parser.items(section))
    return {} if name.endswith("pytest.ini") else None  # pytest.ini is the configuration even without [pytest]


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _config(file: str, values: dict[str, object]) -> PytestConfig:
    def words(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = values.get(key)
        if value is None:
            return default
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return tuple(str(value).split())

    return PytestConfig(file, words("testpaths", ()), words("python_files", DEFAULT_PYTHON_FILES),
                        words("python_classes", ("Test",)), words("python_functions", ("test",)),
                        words("norecursedirs", DEFAULT_NORECURSE))


# -- selection -----------------------------------------------------------------------------------------------------


def default_args(run: TestRun, config: PytestConfig) -> tuple[str, ...]:
    """What a run without paths collects: the project's ``testpaths`` when it runs from the configuration's folder
    (pytest uses them only there), else the folder it ran in."""
    cwd = posixpath.normpath(run.cwd or ".")
    if run.style == "pytest" and config.testpaths and cwd == posixpath.normpath(config.folder or "."):
        return tuple(posixpath.normpath(posixpath.join(config.folder, t)) for t in config.testpaths)
    return (cwd,)


def select_tests(files: Collection[str], run: TestRun, config: PytestConfig) -> Selection:
    """The tests ``run`` selects among ``files`` (paths relative to the start, the start's and the check's)."""
    universe = {posixpath.normpath(f) for f in files}
    named: list[str] = []
    found: list[str] = []
    for arg in run.args or default_args(run, config):
        path, _, node = arg.partition("::")
        path = posixpath.normpath(path)
        if path in universe:
            entry = f"{path}::{node}" if node else path
            if entry not in named:
                named.append(entry)
            continue
        matches = [path] if not any(ch in path for ch in "*?[") else _glob_dirs(universe, path)
        for folder in matches:
            found += [f for f in walk_tests(universe, folder, run, config) if f not in found
                      and not any(f == i or f.startswith(i.rstrip("/") + "/") for i in run.ignored)]
    return Selection(tuple(named), tuple(sorted(found)))


def _glob_dirs(universe: Iterable[str], pattern: str) -> list[str]:
    """Folders matching a ``testpaths`` glob (pytest expands them)."""
    dirs = {d for f in universe for d in _parents(f)}
    return sorted(d for d in dirs if fnmatch.fnmatchcase(d, pattern))


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def walk_tests(universe: Collection[str], folder: str, run: TestRun, config: PytestConfig) -> list[str]:
    """The test files under ``folder``: by ``python_files`` and ``norecursedirs`` (pytest), or by the discovery
    pattern, into packages only (unittest)."""
    root = "" if folder in (".", "") else folder
    out = []
    for rel in sorted(universe):
        if root and not rel.startswith(root + "/"):
            continue
        inner = rel[len(root) + 1:] if root else rel
        dirs = inner.split("/")[:-1]
        if run.style == "unittest":
            packages = [f"{root}/{'/'.join(dirs[:i + 1])}".lstrip("/") + "/__init__.py" for i in range(len(dirs))]
            if all(p in universe for p in packages) and _unittest_name(rel, run.pattern or UNITTEST_PATTERN):
                out.append(rel)
        elif not any(_skipped_dir(d, config) for d in dirs) and not _in_venv(universe, root, dirs) \
                and is_pytest_file(rel, config):
            out.append(rel)
    return out


def _skipped_dir(name: str, config: PytestConfig) -> bool:
    return name == "__pycache__" or any(fnmatch.fnmatchcase(name, p) for p in config.norecursedirs)


def _in_venv(universe: Collection[str], root: str, dirs: list[str]) -> bool:
    # pytest does not recurse into virtual environments (a folder holding pyvenv.cfg).
    return any("/".join(filter(None, [root, *dirs[:i + 1], "pyvenv.cfg"])) in universe for i in range(len(dirs)))


def is_pytest_file(rel: str, config: PytestConfig) -> bool:
    """Whether pytest collects ``rel`` when it walks a folder (``python_files``; patterns with a ``/`` match the
    path's end, others the file name)."""
    name = posixpath.basename(rel)
    if not name.endswith(".py") or name in ("conftest.py", "__init__.py"):
        return False
    for pattern in config.python_files:
        if "/" in pattern:
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, "*/" + pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _unittest_name(rel: str, pattern: str) -> bool:
    name = posixpath.basename(rel)
    return bool(_MODULE_NAME.fullmatch(name)) and fnmatch.fnmatch(name, pattern) and name != "__init__.py"


def check_paths(universe: Collection[str], selection: Selection, is_test: Callable[[str], bool]) -> list[str]:
    """The check's paths: everything under them is restored from the start before the check runs, so they hold
    tests, not the code under test. Named entries are kept as given; a found file's folder is kept whole when it
    holds no other Python modules than tests, ``__init__`` and ``conftest``, else the file is named alone."""
    code_dirs = {posixpath.dirname(f) for f in universe if f.endswith(".py") and not is_test(f)
                 and posixpath.basename(f) not in ("__init__.py", "conftest.py")}
    out: list[str] = list(selection.named)
    named_files = {file_of(n) for n in selection.named}
    for f in selection.found:
        if f in named_files:
            continue
        folder = posixpath.dirname(f)
        target = folder if folder and folder not in code_dirs else f
        if target not in out:
            out.append(target)
    return out

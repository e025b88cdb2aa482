"""What a start declares it needs: the dependency declarations of its ``pyproject.toml`` (dependencies, test extras,
dependency groups), ``requirements*.txt`` and ``setup.py`` / ``setup.cfg`` (``install_requires``, test extras,
``tests_require``: read as literals, never run), turned into what to install. ``envs.py`` builds environments from
them. Pure module: no pytest.
"""

from __future__ import annotations

import ast
import configparser
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pytest_modelbench.errors import UserError

TEST_EXTRAS = ("test", "tests", "testing")
TEST_GROUPS = ("test", "tests", "testing", "dev")
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt", "requirements_dev.txt",
                     "requirements_test.txt", "requirements-tests.txt", "dev-requirements.txt",
                     "test-requirements.txt", "requirements/test.txt", "requirements/dev.txt",
                     "requirements/tests.txt")
DECLARATION_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "uv.lock", *REQUIREMENT_FILES)


class EnvError(UserError):
    """The session's environment cannot be found or built; the message says which declaration and why."""


@dataclass(frozen=True)
class Declarations:
    """The start's dependency declarations: file name -> bytes, and what to install from them."""

    files: dict[str, bytes] = field(default_factory=dict)
    requirements: tuple[str, ...] = ()  # requirement strings from pyproject.toml
    requirement_files: tuple[str, ...] = ()  # requirements*.txt, relative to the start
    install_project: bool = False  # setup.py / setup.cfg / dynamic dependencies: install the start itself

    @property
    def empty(self) -> bool:
        return not (self.requirements or self.requirement_files or self.install_project)

    @property
    def names(self) -> str:
        return ", ".join(sorted(self.files)) or "no declaration file"


def read_declarations(start: Path) -> Declarations:
    """What the start at ``start`` declares. A broken ``pyproject.toml`` is an :class:`EnvError` naming it."""
    files = {name: (start / name).read_bytes() for name in DECLARATION_FILES if (start / name).is_file()}
    requirements: list[str] = []
    install_project = False
    if "pyproject.toml" in files:
        try:
            data = tomllib.loads(files["pyproject.toml"].decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise EnvError(f"environment: {start / 'pyproject.toml'}: not valid TOML ({exc})") from None
        project = data.get("project") if isinstance(data.get("project"), dict) else None
        if project is not None:
            if "dependencies" in (project.get("dynamic") or ()):
                install_project = True
            requirements += [str(r) for r in project.get("dependencies") or ()]
            extras = project.get("optional-dependencies") or {}
            for name in TEST_EXTRAS:
                requirements += [str(r) for r in extras.get(name) or ()]
        groups = data.get("dependency-groups") or {}
        for name in TEST_GROUPS:
            requirements += _group(groups, name, set())
        legacy = project is None and ("setup.py" in files or "setup.cfg" in files)
    else:
        legacy = "setup.py" in files or "setup.cfg" in files
    if legacy:
        declared = setup_requirements(files)
        if declared is None:
            install_project = True
        else:
            requirements += declared
    req_files = tuple(name for name in REQUIREMENT_FILES if name in files)
    # A project that lists nothing but pytest needs nothing the harness does not have.
    wanted = tuple(r for r in dict.fromkeys(requirements) if _dist_name(r) not in ("pytest", "coverage"))
    return Declarations(files, wanted, req_files, install_project)


# The keywords of setup() that ``pip install -e .[test]`` installs from: the requirements, the test extras and the
# (deprecated, still common) tests_require.
SETUP_KEYWORDS = ("install_requires", "extras_require", "tests_require")
LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError)


def setup_requirements(files: dict[str, bytes]) -> list[str] | None:
    """What ``pip install -e .[test]`` installs for a setup.py / setup.cfg project (``install_requires``, the test
    extras of ``extras_require``, ``tests_require``), read without running setup.py; None when a value is computed
    (a function call, ``file:``, ``**kwargs``): then the start itself is installed, which runs it."""
    out: list[str] = []
    if "setup.cfg" in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(files["setup.cfg"].decode("utf-8", errors="replace"))
        except configparser.Error:
            return None
        values = [parser.get("options", "install_requires", fallback=""),
                  parser.get("options", "tests_require", fallback="")]
        values += [parser.get("options.extras_require", name, fallback="") for name in TEST_EXTRAS]
        if any(v.strip().startswith(("file:", "attr:")) for v in values):
            return None
        out += [line.strip() for v in values for line in v.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    if "setup.py" in files:
        keywords = _setup_keywords(files["setup.py"])
        if keywords is None:
            return None
        out += [str(r) for r in _listed(keywords.get("install_requires")) + _listed(keywords.get("tests_require"))]
        extras = keywords.get("extras_require")
        if extras is not None and not isinstance(extras, dict):
            return None
        for name in TEST_EXTRAS:
            out += [str(r) for r in _listed((extras or {}).get(name))]
    return out


def _listed(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()]
    return list(value) if isinstance(value, list | tuple) else [value]


def _setup_keywords(source: bytes) -> dict[str, object] | None:
    """The literal values of setup()'s requirement keywords (also through a module-level name), or None when one is
    computed or setup() is not called plainly."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except LITERAL_ERRORS:
                pass
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and (getattr(n.func, "id", None) == "setup" or getattr(n.func, "attr", None) == "setup")]
    if len(calls) != 1:
        return None
    out: dict[str, object] = {}
    for kw in calls[0].keywords:
        if kw.arg is None:
            return None  # setup(**options): not readable without running it
        if kw.arg not in SETUP_KEYWORDS:
            continue
        if isinstance(kw.value, ast.Name):
            if kw.value.id not in names:
                return None
            out[kw.arg] = names[kw.value.id]
            continue
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except LITERAL_ERRORS:
            return None
    return out


def _group(groups: dict[str, object], name: str, seen: set[str]) -> list[str]:
    out: list[str] = []
    if name in seen:
        return out
    seen.add(name)
    for item in groups.get(name) or ():  # type: ignore[attr-defined]
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            out += _group(groups, item["include-group"], seen)
    return out


def _dist_name(requirement: str) -> str:
    name = requirement.strip()
    for stop in "[<>=!~;@ (":
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-")

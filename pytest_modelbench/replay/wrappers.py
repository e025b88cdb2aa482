"""The command lines a test wrapper runs, read from the start's own files: ``hatch run <script>`` / ``hatch test``
(``[tool.hatch.envs.*.scripts]`` in pyproject.toml, ``[envs.*.scripts]`` in hatch.toml), ``tox [-e env] [-- args]``
(the env's ``commands`` in tox.ini or pyproject.toml's ``legacy_tox_ini``) and ``make <target>`` (the target's
recipe with its variables expanded, the targets it makes, then its prerequisites).

Each reader gives a :class:`Wrapped`: the lines, in the order they run, and the folder they run in; the caller
(:mod:`testcommand`) looks for the test command among them. Only the plain parts are read (no make functions or
conditionals, no tox factor sections beyond the env's name): what cannot be read says so.

Pure module: no pytest.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

from pytest_modelbench.replay.testselect import Reader

# Turns a path given in a command into one relative to the start (None: outside it), from the folder it ran in.
Relative = Callable[[str, str], "str | None"]


@dataclass(frozen=True)
class Wrapped:
    """What a wrapper runs: ``lines`` in ``cwd``; ``runs`` describes them when none is a test command; ``reason``
    is said instead when the wrapper's own files do not explain it."""

    lines: tuple[str, ...] = ()
    cwd: str = "."
    runs: str = ""
    reason: str = ""


def _at(cwd: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, name))


# -- hatch ---------------------------------------------------------------------------------------------------------

HATCH_TEST_OPTS = ("--cover", "-c", "--randomize", "-r", "--all", "-a", "--parallel", "-p", "--retries", "--")


def hatch(args: list[str], read: Reader, cwd: str, rel: Relative) -> Wrapped | None:
    """``hatch [-e ENV] run [ENV:]SCRIPT ARGS`` / ``hatch test ARGS``; None for other hatch commands."""
    env = "default"
    while args and args[0].startswith("-"):
        if args[0] in ("-e", "--env") and len(args) > 1:
            env, args = args[1], args[2:]
        else:
            env = args[0].split("=", 1)[1] if args[0].startswith("--env=") else env
            args = args[1:]
    if args[:1] == ["test"]:
        # hatch's built-in test command runs pytest (in its hatch-test environment) with what follows its options.
        rest = [a for a in args[1:] if a not in HATCH_TEST_OPTS]
        return Wrapped((f"pytest {shlex.join(rest)}".strip(),), cwd)
    if args[:1] != ["run"]:
        return None
    args = args[1:]
    while args and args[0].startswith("-"):  # hatch run's own options come before the script
        args = args[1:]
    if not args:
        return None
    name, rest = args[0], args[1:]
    if ":" in name:
        env, name = name.split(":", 1)
    scripts = hatch_scripts(read, cwd, env)
    if name not in scripts:  # hatch run pytest …: a plain command in the environment
        return Wrapped((shlex.join(args),), cwd, reason=(
            f"no script {name!r} for the {env} environment in [tool.hatch.envs.{env}.scripts] of pyproject.toml "
            f"or [envs.{env}.scripts] of hatch.toml"))
    return Wrapped(tuple(_script_lines(scripts, name, rest, set())), cwd,
                   runs=f"the hatch script {name!r} runs {scripts[name]!r}")


def _script_lines(scripts: dict[str, list[str]], name: str, rest: list[str], seen: set[str]) -> list[str]:
    seen.add(name)
    out: list[str] = []
    for line in scripts[name]:
        line = _hatch_fields(line, rest)
        first = line.split(None, 1)
        if first and first[0] in scripts and first[0] not in seen:  # a script may call another by its name
            out += _script_lines(scripts, first[0], shlex.split(first[1]) if len(first) > 1 else [], seen)
        else:
            out.append(line)
    return out


def hatch_scripts(read: Reader, cwd: str, env: str) -> dict[str, list[str]]:
    """The scripts of hatch environment ``env``, with those of ``default`` (which every environment inherits)."""
    places = []
    for name, prefix in (("pyproject.toml", ("tool", "hatch", "envs")), ("hatch.toml", ("envs",))):
        data = _toml(read(_at(cwd, name)))
        for key in prefix:
            data = _table(data, key)
        places.append(data)
    scripts: dict[str, list[str]] = {}
    for wanted in dict.fromkeys(("default", env)):
        for envs in places:
            for key, value in _table(_table(envs, wanted), "scripts").items():
                scripts[key] = [value] if isinstance(value, str) else \
                    [str(v) for v in value] if isinstance(value, list) else []
    return scripts


def _hatch_fields(line: str, args: list[str]) -> str:
    """Hatch's ``{args}`` / ``{args:default}``, ``{env:NAME:default}`` and ``{root}`` fields."""
    joined = shlex.join(args)
    line = re.sub(r"\{args(?::([^}]*))?\}", lambda m: joined if args else (m.group(1) or ""), line)
    line = re.sub(r"\{env:[^:}]+(?::([^}]*))?\}", lambda m: m.group(1) or "", line)
    return line.replace("{root}", ".")


# -- tox -----------------------------------------------------------------------------------------------------------


def tox(args: list[str], read: Reader, cwd: str, rel: Relative) -> Wrapped:
    """``tox [run] [-e ENV[,ENV]] [-- POSARGS]``: the commands of the first ``py…`` env asked for (else the first of
    ``envlist``), its ``[testenv:ENV]`` section or ``[testenv]``."""
    envs, posargs = _tox_args(args[1:] if args[:1] and args[0] in ("run", "r", "run-parallel", "p") else args)
    parser, where = _tox_config(read, cwd)
    if parser is None:
        return Wrapped(reason=where)
    if not envs:
        listed = parser.get("tox", "envlist", fallback="") or parser.get("tox", "env_list", fallback="")
        envs = [e.strip() for e in re.split(r"[,\n]", _first_braces(listed)) if e.strip()]
    env = next((e for e in envs if e.startswith("py")), envs[0] if envs else "py")
    section = f"testenv:{env}" if parser.has_option(f"testenv:{env}", "commands") else "testenv"
    commands = parser.get(section, "commands", fallback="")
    if not commands.strip():
        return Wrapped(reason=f"{where} has no commands for the {env} environment")
    change = parser.get(section, "changedir", fallback="") or parser.get("testenv", "changedir", fallback="")
    run_cwd = (rel(change.replace("{toxinidir}", "."), cwd) or cwd) if change else cwd
    back = posixpath.relpath(cwd, run_cwd) if run_cwd != cwd else "."  # {toxinidir} seen from run_cwd
    factors = set(env.split("-"))
    lines = [_tox_fields(ln, posargs, back) for ln in (_factor_line(line, factors) for line in _joined(commands))
             if ln]
    return Wrapped(tuple(lines), run_cwd, runs=f"the {env} environment's commands in {where} run {lines[:3]!r}")


def _tox_config(read: Reader, cwd: str) -> tuple[configparser.ConfigParser | None, str]:
    """tox's configuration and the file it is in, or None and why it cannot be read."""
    ini, where = read(_at(cwd, "tox.ini")), "tox.ini"
    if ini is None:
        value = _table(_table(_toml(read(_at(cwd, "pyproject.toml"))), "tool"), "tox").get("legacy_tox_ini")
        ini, where = (value if isinstance(value, str) else None), "pyproject.toml's [tool.tox] legacy_tox_ini"
    if ini is None:
        return None, "no tox.ini (or legacy_tox_ini in pyproject.toml) to read its commands from"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(ini)
    except configparser.Error as exc:
        return None, f"{where} cannot be read ({str(exc).splitlines()[0]})"
    return parser, where


def _tox_args(args: list[str]) -> tuple[list[str], list[str] | None]:
    envs: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return envs, args[i + 1:]
        if a in ("-e", "--env", "-f", "--factor") and i + 1 < len(args):
            envs += args[i + 1].split(",")
            i += 2
            continue
        if a.startswith("-e") and len(a) > 2:
            envs += a[2:].split(",")
        i += 1
    return envs, None


def _first_braces(text: str) -> str:
    """``py{39,310}-x`` -> ``py39-x``: the first of tox's generative names."""
    return re.sub(r"\{([^{}]*)\}", lambda m: m.group(1).split(",")[0].strip(), text)


def _joined(commands: str) -> list[str]:
    lines: list[str] = []
    for raw in commands.splitlines():
        line = raw.strip()
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + line
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def _factor_line(line: str, factors: set[str]) -> str:
    """A tox command line with its factor condition (``py311: pytest``) applied: the command, or "" when the
    condition does not hold for the environment."""
    m = re.match(r"^([\w!.,-]+):\s+(.*)$", line)
    if not m:
        return line
    wanted = m.group(1).split(",")
    if any((w[1:] not in factors) if w.startswith("!") else all(p in factors for p in w.split("-")) for w in wanted):
        return m.group(2)
    return ""


def _tox_fields(line: str, posargs: list[str] | None, back: str) -> str:
    given = shlex.join(posargs) if posargs else ""
    line = re.sub(r"\{posargs(?::([^}]*))?\}", lambda m: given if posargs else (m.group(1) or ""), line)
    line = re.sub(r"\{env:[^:}]+(?::([^}]*))?\}", lambda m: m.group(1) or "", line)
    line = line.replace("{envpython}", "python").replace("{envbindir}/", "").replace("{toxinidir}", back)
    return line.replace("[]", given)


# -- make ----------------------------------------------------------------------------------------------------------

_ASSIGN = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][\w.-]*)\s*(\?=|:::=|::=|:=|\+=|!=|=)\s*(.*)$")
_RULE = re.compile(r"^([^\t#=:][^=:]*?)\s*::?(?!=)\s*([^;]*?)\s*(?:;\s*(.*))?$")
_SUBMAKE = re.compile(r"^(?:make|gmake)\s+(?:-\S+\s+)*([\w.-]+)\s*$")
Rules = dict[str, tuple[list[str], list[str]]]


def make(args: list[str], read: Reader, cwd: str, rel: Relative) -> Wrapped:
    """``make [-C DIR] [-f FILE] [VAR=value] [TARGET]``: the target's recipe lines (``$(MAKE) other`` of the same
    Makefile expanded in place), then its prerequisites' lines."""
    folder, file, targets, overrides = _make_args(args, cwd, rel)
    names = [file] if file else ["GNUmakefile", "makefile", "Makefile"]
    text, name = next(((t, n) for n in names if (t := read(_at(folder, n))) is not None), (None, names[-1]))
    if text is None:
        place = f" in {folder}" if folder not in ("", ".") else ""
        return Wrapped(reason=f"no {name}{place} to read the target's recipe from")
    variables, rules, first = makefile(text)
    variables.update(overrides)
    target = targets[0] if targets else first
    if target not in rules:
        return Wrapped(reason=f"{name} has no {target or 'default'} target")
    lines = _target_lines(rules, variables, target, set())
    shown = "; ".join(lines)[:200]
    return Wrapped(tuple(lines), folder, runs=f"the {target} target of {name} runs {shown or 'nothing'!r}")


def _make_args(args: list[str], cwd: str, rel: Relative) -> tuple[str, str, list[str], dict[str, str]]:
    """make's folder (``-C``), Makefile (``-f``), targets and ``VAR=value`` overrides."""
    folder, file, targets, overrides = cwd, "", [], {}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-C", "--directory", "-f", "--file", "--makefile") and i + 1 < len(args):
            if a in ("-C", "--directory"):
                folder = rel(args[i + 1], folder) or folder
            else:
                file = args[i + 1]
            i += 2
            continue
        if a.startswith("-C") and len(a) > 2:
            folder = rel(a[2:], folder) or folder
        elif "=" in a and not a.startswith("-"):
            key, value = a.split("=", 1)
            overrides[key] = value
        elif not a.startswith("-"):
            targets.append(a)
        i += 1
    return folder, file, targets, overrides


def _target_lines(rules: Rules, variables: dict[str, str], target: str, seen: set[str]) -> list[str]:
    seen.add(target)
    recipe, prereqs = rules[target]
    out: list[str] = []
    for line in recipe:
        line = expand(line, variables).lstrip("@-+ \t")
        m = _SUBMAKE.match(line)
        if m and m.group(1) in rules and m.group(1) not in seen:  # $(MAKE) other-target of this Makefile
            out += _target_lines(rules, variables, m.group(1), seen)
        else:
            out.append(line)
    for dep in prereqs:
        if dep in rules and dep not in seen:
            out += _target_lines(rules, variables, dep, seen)
    return out


def makefile(text: str) -> tuple[dict[str, str], Rules, str]:
    """Variables, rules (target -> (recipe lines, prerequisites)) and the default goal of a Makefile (the plain
    parts: no functions, no conditionals evaluated)."""
    variables: dict[str, str] = {}
    rules: Rules = {}
    first = ""
    current: list[list[str]] = []
    lines: list[str] = []
    for raw in text.splitlines():
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + raw.strip()
        else:
            lines.append(raw)
    for line in lines:
        if line.startswith("\t"):
            for recipe in current:
                if line.strip() and not line.strip().startswith("#"):
                    recipe.append(line.strip())
            continue
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        assign = _ASSIGN.match(stripped)
        rule = None if assign else _RULE.match(stripped)
        current = []
        if assign:
            name, op, value = assign.groups()
            if op == "+=":
                variables[name] = f"{variables.get(name, '')} {value}".strip()
            elif op != "?=" or name not in variables:
                variables[name] = value
        elif rule:
            recipe_of: list[str] = [rule.group(3).strip()] if rule.group(3) else []
            current = [recipe_of]
            for target in rule.group(1).split():
                rules[target] = (recipe_of, rule.group(2).split())
                if not first and not target.startswith("."):
                    first = target
    return variables, rules, first


def expand(line: str, variables: dict[str, str], depth: int = 0) -> str:
    """``$(NAME)`` / ``${NAME}`` replaced by the Makefile's values (``$(MAKE)`` is make; unknown names are empty, as
    in make); ``$$`` is ``$``."""
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name == "MAKE":
            return variables.get(name, "make")
        raw = variables.get(name, "")
        return expand(raw, variables, depth + 1) if depth < 10 else raw

    line = line.replace("$$", "\0")
    line = re.sub(r"\$\(([A-Za-z_][\w.-]*)\)|\$\{([A-Za-z_][\w.-]*)\}", value, line)
    return line.replace("\0", "$")


# -- TOML ----------------------------------------------------------------------------------------------------------


def _toml(text: str | None) -> dict[str, object]:
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}

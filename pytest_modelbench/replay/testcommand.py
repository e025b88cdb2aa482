"""What a session's Python test command runs, read through the wrappers users put around it.

``pytest`` (also through ``python -m``, ``uv run``, ``poetry run``, ``pdm run``, ``coverage run -m``), ``python -m
unittest`` (discovery with its ``-s``/``-p``/``-t`` arguments, dotted names, file paths) and ``python test.py`` for a
unittest module are read directly. ``hatch run <script>`` / ``hatch test`` (the scripts of ``[tool.hatch.envs.*]``
in pyproject.toml or hatch.toml), ``tox [-e env]`` (the env's ``commands`` in tox.ini or pyproject.toml's
``legacy_tox_ini``) and ``make <target>`` (the target's recipe, its variables expanded) are resolved to the test
command they wrap, from the start's own files. A wrapper that cannot be read gives a reason naming it and what to
do. The result is a :class:`~pytest_modelbench.replay.testselect.TestRun` for :mod:`testselect`.

Pure module: no pytest.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import replace

from pytest_modelbench.replay.testselect import Reader, TestRun

MAX_DEPTH = 6  # wrappers inside wrappers (make -> tox -> pytest); deeper is a loop or not worth following
NO_CHECK = "no check in its test command"
SUPPORTED = "pytest, python -m unittest or a unittest module run with python"
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"python[\d.]*")
_GENERIC = {"timeout", "time", "nice", "env", "sudo", "exec", "command", "xvfb-run"}
_RUN_WRAPPERS = {"uv", "poetry", "pdm", "pipenv", "rye"}
_UV_VALUE_OPTS = {"--with", "--extra", "--group", "-p", "--python", "--package", "--env-file", "--with-requirements",
                  "--index", "--directory", "--project", "--with-editable", "--no-extra", "--only-group"}
_PYTEST_VALUE_OPTS = {"-k", "-m", "-p", "-o", "-c", "-n", "--maxfail", "--tb", "--rootdir", "--junitxml",
                      "--cov", "--cov-report", "--durations", "--deselect", "--ignore", "--ignore-glob",
                      "--log-level", "--timeout", "-W", "--confcutdir", "--basetemp", "--dist", "-r",
                      "--cov-config", "--cov-fail-under", "--numprocesses", "--import-mode", "--capture",
                      "--override-ini", "--log-cli-level", "--count", "--reruns", "--random-order-seed"}
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
        for segment in (s.strip() for s in re.split(r"&&|\|\||;|\n|\|", line)):
            words = _strip(_words(segment))
            if not words:
                continue
            head = posixpath.basename(words[0])
            if head == "cd" and len(words) >= 2:
                where = self.rel(words[1], cwd)
                cwd = where if where is not None else cwd
                continue
            found = self.words(words, head, segment, cwd, via, depth)
            if found is not None:
                return found
        return None

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
        if head == "hatch":
            return self.hatch(words, segment, cwd, via, depth)
        if head == "tox":
            return self.tox(words, segment, cwd, via, depth)
        if head in ("make", "gmake"):
            return self.make(words, segment, cwd, via, depth)
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
        paths = _positionals(args, _PYTEST_VALUE_OPTS)
        named = self._args(paths, cwd)
        if paths and not named:
            return TestRun(command=segment, via=via, reason=f"{segment!r} names only paths outside the project")
        return TestRun("pytest", named, cwd, command=segment, via=via)

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

    def _inner(self, lines: list[str], cwd: str, via: tuple[str, ...], depth: int,
               subst: Callable[[str], str] = lambda s: s) -> TestRun | None:
        for line in lines:
            found = self.command(subst(line), cwd, via, depth + 1)
            if found is not None:
                return found
        return None

    def _cannot(self, segment: str, via: tuple[str, ...], why: str) -> TestRun:
        return TestRun(command=segment, via=via, reason=f"{segment!r}: {why}; give the test command it runs with "
                                                        "--check-command")

    def hatch(self, words: list[str], segment: str, cwd: str, via: tuple[str, ...], depth: int) -> TestRun | None:
        args = words[1:]
        env = "default"
        while args and args[0].startswith("-"):
            if args[0] in ("-e", "--env") and len(args) > 1:
                env, args = args[1], args[2:]
            else:
                env = args[0].split("=", 1)[1] if args[0].startswith("--env=") else env
                args = args[1:]
        via = (*via, segment)
        if args[:1] == ["test"]:
            # hatch's built-in test command runs pytest in its hatch-test environment, with the arguments after
            # its own options.
            rest = [a for a in args[1:] if a not in ("--cover", "-c", "--randomize", "-r", "--all", "-a",
                                                     "--parallel", "-p", "--retries", "--")]
            return self.pytest(rest, f"pytest {shlex.join(rest)}".strip(), cwd, via)
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
        scripts, where = self.hatch_scripts(cwd, env)
        if name not in scripts:
            found = self.command(shlex.join(args), cwd, via, depth + 1)  # hatch run pytest …: a plain command
            if found is not None:
                return found
            return self._cannot(segment, via[:-1], f"no script {name!r} for the {env} environment in {where}")
        found = self.hatch_script(scripts, name, rest, cwd, via, depth, set())
        if found is not None:
            return found
        return self._cannot(segment, via[:-1], f"the hatch script {name!r} runs {scripts[name]!r}, no test command "
                                               f"this version checks with ({SUPPORTED})")

    def hatch_script(self, scripts: dict[str, list[str]], name: str, rest: list[str], cwd: str,
                     via: tuple[str, ...], depth: int, seen: set[str]) -> TestRun | None:
        seen.add(name)
        for line in scripts[name]:
            line = _hatch_args(line, rest)
            first = line.split(None, 1)
            if first and first[0] in scripts and first[0] not in seen:  # a script may call another by name
                found = self.hatch_script(scripts, first[0], shlex.split(first[1]) if len(first) > 1 else [],
                                          cwd, via, depth + 1, seen)
            else:
                found = self.command(line, cwd, via, depth + 1)
            if found is not None:
                return found
        return None

    def hatch_scripts(self, cwd: str, env: str) -> tuple[dict[str, list[str]], str]:
        """The scripts of hatch environment ``env`` (with those of ``default``, which every environment inherits)."""
        places = []
        for name, prefix in (("pyproject.toml", ("tool", "hatch", "envs")), ("hatch.toml", ("envs",))):
            data = _toml(self.read(posixpath.normpath(posixpath.join(cwd, name))))
            for key in prefix:
                data = _table(data, key)
            places.append((name, data))
        scripts: dict[str, list[str]] = {}
        for wanted in dict.fromkeys(("default", env)):
            for _, envs in places:
                for key, value in _table(_table(envs, wanted), "scripts").items():
                    scripts[key] = [value] if isinstance(value, str) else \
                        [str(v) for v in value] if isinstance(value, list) else []
        where = f"[tool.hatch.envs.{env}.scripts] of pyproject.toml or [envs.{env}.scripts] of hatch.toml"
        return scripts, where

    def tox(self, words: list[str], segment: str, cwd: str, via: tuple[str, ...], depth: int) -> TestRun | None:
        args = words[1:]
        if args[:1] and args[0] in ("run", "r", "run-parallel", "p"):
            args = args[1:]
        envs: list[str] = []
        posargs: list[str] | None = None
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--":
                posargs = args[i + 1:]
                break
            if a in ("-e", "--env", "-f", "--factor") and i + 1 < len(args):
                envs += args[i + 1].split(",")
                i += 2
                continue
            if a.startswith("-e") and len(a) > 2:
                envs += a[2:].split(",")
            i += 1
        via = (*via, segment)
        ini = self.read(posixpath.normpath(posixpath.join(cwd, "tox.ini")))
        where = "tox.ini"
        if ini is None:
            legacy = _toml(self.read(posixpath.normpath(posixpath.join(cwd, "pyproject.toml"))))
            value = _table(_table(legacy, "tool"), "tox").get("legacy_tox_ini")
            ini = value if isinstance(value, str) else None
            where = "pyproject.toml's [tool.tox] legacy_tox_ini"
        if ini is None:
            return self._cannot(segment, via[:-1], "no tox.ini (or legacy_tox_ini in pyproject.toml) to read its "
                                                   "commands from")
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(ini)
        except configparser.Error as exc:
            return self._cannot(segment, via[:-1], f"{where} cannot be read ({str(exc).splitlines()[0]})")
        if not envs:
            listed = parser.get("tox", "envlist", fallback="") or parser.get("tox", "env_list", fallback="")
            envs = [e.strip() for e in re.split(r"[,\n]", _first_braces(listed)) if e.strip()]
        env = next((e for e in envs if e.startswith("py")), envs[0] if envs else "py")
        section = f"testenv:{env}" if parser.has_option(f"testenv:{env}", "commands") else "testenv"
        commands = parser.get(section, "commands", fallback="")
        if not commands.strip():
            return self._cannot(segment, via[:-1], f"{where} has no commands for the {env} environment")
        change = parser.get(section, "changedir", fallback="") or parser.get("testenv", "changedir", fallback="")
        run_cwd = cwd
        if change:
            where_to = self.rel(change.replace("{toxinidir}", "."), cwd)
            run_cwd = where_to if where_to is not None else cwd
        back = posixpath.relpath(cwd, run_cwd) if run_cwd != cwd else "."
        factors = set(env.split("-"))
        lines = [ln for ln in (_factor_line(line, factors) for line in _joined(commands)) if ln]
        found = self._inner(lines, run_cwd, via, depth, lambda s: _tox_subst(s, posargs, back))
        if found is not None:
            return found
        return self._cannot(segment, via[:-1], f"the {env} environment's commands in {where} run no test command "
                                               f"this version checks with ({SUPPORTED})")

    def make(self, words: list[str], segment: str, cwd: str, via: tuple[str, ...], depth: int) -> TestRun | None:
        args = words[1:]
        folder, file, targets, overrides = cwd, "", [], {}
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-C", "--directory", "-f", "--file", "--makefile") and i + 1 < len(args):
                if a in ("-C", "--directory"):
                    folder = self.rel(args[i + 1], folder) or folder
                else:
                    file = args[i + 1]
                i += 2
                continue
            if a.startswith("-C") and len(a) > 2:
                folder = self.rel(a[2:], folder) or folder
            elif "=" in a and not a.startswith("-"):
                key, value = a.split("=", 1)
                overrides[key] = value
            elif not a.startswith("-"):
                targets.append(a)
            i += 1
        via = (*via, segment)
        names = [file] if file else ["GNUmakefile", "makefile", "Makefile"]
        text, name = next(((t, n) for n in names
                           if (t := self.read(posixpath.normpath(posixpath.join(folder, n)))) is not None),
                          (None, names[-1]))
        if text is None:
            place = f" in {folder}" if folder not in ("", ".") else ""
            return self._cannot(segment, via[:-1], f"no {name}{place} to read the target's recipe from")
        variables, rules, first = _makefile(text)
        variables.update(overrides)
        target = targets[0] if targets else first
        if target not in rules:
            return self._cannot(segment, via[:-1], f"{name} has no {target or 'default'} target")
        return self.make_target(rules, variables, target, name, segment, folder, via, depth, set())

    def make_target(self, rules: dict[str, tuple[list[str], list[str]]], variables: dict[str, str], target: str,
                    name: str, segment: str, folder: str, via: tuple[str, ...], depth: int,
                    seen: set[str]) -> TestRun:
        seen.add(target)
        recipe, prereqs = rules[target]
        for line in recipe:
            line = _expand(line, variables).lstrip("@-+ \t")
            m = re.match(r"^(?:make|gmake)\s+(?:-\S+\s+)*([\w.-]+)\s*$", line)
            if m and m.group(1) in rules and m.group(1) not in seen:  # $(MAKE) other-target: this Makefile
                found = self.make_target(rules, variables, m.group(1), name, segment, folder, via, depth + 1, seen)
                if not found.reason:
                    return found
                continue
            inner = self.command(line, folder, via, depth + 1)
            if inner is not None:
                return inner
        for dep in prereqs:
            if dep in rules and dep not in seen:
                found = self.make_target(rules, variables, dep, name, segment, folder, via, depth + 1, seen)
                if not found.reason:
                    return found
        shown = "; ".join(_expand(line, variables).lstrip("@-+ \t") for line in recipe)[:200]
        return self._cannot(segment, via[:-1], f"the {target} target of {name} runs {shown or 'nothing'!r}, no test "
                                               f"command this version checks with ({SUPPORTED})")


# -- helpers -------------------------------------------------------------------------------------------------------


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, posix=True)
    except ValueError:
        return segment.split()


def _strip(words: list[str]) -> list[str]:
    """Drop environment assignments and wrappers that only start the command (``timeout 60``, ``uv run --extra
    test``, ``poetry run``)."""
    while words:
        head = posixpath.basename(words[0])
        if _ENV_ASSIGN.match(words[0]):
            words = words[1:]
        elif head in _GENERIC:
            words = words[1:]
            if head == "timeout" and words and re.fullmatch(r"[\d.]+[smh]?", words[0]):
                words = words[1:]
        elif head in _RUN_WRAPPERS and words[1:2] == ["run"]:
            words = words[2:]
            while words and words[0].startswith("-"):
                words = words[2:] if words[0] in _UV_VALUE_OPTS else words[1:]
        else:
            break
    return words


def _positionals(args: list[str], value_opts: set[str]) -> list[str]:
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


def _hatch_args(line: str, args: list[str]) -> str:
    """Hatch's ``{args}`` / ``{args:default}`` and ``{env:NAME:default}`` / ``{root}`` fields."""
    joined = shlex.join(args)
    line = re.sub(r"\{args(?::([^}]*))?\}", lambda m: joined if args else (m.group(1) or ""), line)
    line = re.sub(r"\{env:[^:}]+(?::([^}]*))?\}", lambda m: m.group(1) or "", line)
    return line.replace("{root}", ".")


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


def _tox_subst(line: str, posargs: list[str] | None, back: str) -> str:
    given = shlex.join(posargs) if posargs else ""
    line = re.sub(r"\{posargs(?::([^}]*))?\}", lambda m: given if posargs else (m.group(1) or ""), line)
    line = re.sub(r"\{env:[^:}]+(?::([^}]*))?\}", lambda m: m.group(1) or "", line)
    line = line.replace("{envpython}", "python").replace("{envbindir}/", "").replace("{toxinidir}", back)
    return line.replace("[]", given)


_ASSIGN = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][\w.-]*)\s*(\?=|:::=|::=|:=|\+=|!=|=)\s*(.*)$")
_RULE = re.compile(r"^([^\t#=:][^=:]*?)\s*::?(?!=)\s*([^;]*?)\s*(?:;\s*(.*))?$")


def _makefile(text: str) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]], str]:
    """Variables, rules (target -> (recipe lines, prerequisites)) and the default goal of a Makefile (the plain
    parts: no functions, no conditionals evaluated)."""
    variables: dict[str, str] = {}
    rules: dict[str, tuple[list[str], list[str]]] = {}
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
        if assign:
            name, op, value = assign.groups()
            if op == "+=":
                variables[name] = f"{variables.get(name, '')} {value}".strip()
            elif op != "?=" or name not in variables:
                variables[name] = value
            current = []
            continue
        rule = _RULE.match(stripped)
        if rule:
            targets = rule.group(1).split()
            lines_of: list[str] = []
            current = [lines_of]
            for target in targets:
                rules[target] = (lines_of, rule.group(2).split())
                if not first and not target.startswith("."):
                    first = target
            if rule.group(3):
                lines_of.append(rule.group(3).strip())
            continue
        current = []
    return variables, rules, first


def _expand(line: str, variables: dict[str, str], depth: int = 0) -> str:
    """``$(NAME)`` / ``${NAME}`` replaced by the Makefile's values (``$(MAKE)`` is make; unknown names are empty, as
    in make); ``$$`` is ``$``."""
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name == "MAKE":
            return variables.get(name, "make")
        raw = variables.get(name, "")
        return _expand(raw, variables, depth + 1) if depth < 10 else raw

    line = line.replace("$$", "\0")
    line = re.sub(r"\$\(([A-Za-z_][\w.-]*)\)|\$\{([A-Za-z_][\w.-]*)\}", value, line)
    return line.replace("\0", "$")

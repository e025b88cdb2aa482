"""The Python environment a pytest check runs with: the project's own, one built from its declarations, or ours.

``--modelbench-env auto`` (default) picks, per session:

1. the repository's own virtual environment (``.venv/`` or ``venv/``) in the folder the session worked in or in the
   start folder of a case file, used read-only, when its interpreter runs here;
2. otherwise, when the start declares dependencies (``pyproject.toml`` dependencies, test extras and dependency
   groups; ``requirements*.txt``; ``setup.py`` / ``setup.cfg`` ``install_requires``, test extras and
   ``tests_require``, read as ``pip install -e .[test]`` would install them, or by installing the start itself when
   they are computed), an environment built from those declarations into a
   content-addressed cache ``<store folder>/envs/<hash>`` (hash of the declaration files, the Python version and the
   installer), built once per declaration on this machine and reused by every session, candidate, repeat and run;
3. otherwise the harness's own interpreter (what every check used before).

``harness`` always takes 3; a path takes that interpreter for every session. The check needs pytest (and coverage
when the rubric measures it): when the chosen environment lacks them, a read-only *overlay* folder with the harness's
own copies is put on ``PYTHONPATH`` for the check, so the environment itself is never changed. Building runs with
the user's trust (like ``pip install`` on their own machine, with their pip/uv configuration); model-written code
never takes part in it, and inside the Runner the environment is mounted read-only.

Pure module: no pytest.
"""

from __future__ import annotations

import compileall
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.replay.declarations import TEST_EXTRAS, Declarations, EnvError, read_declarations

ENV_MODES = ("auto", "harness")
VENV_NAMES = (".venv", "venv")
# What a pytest check needs from an environment (with their own dependencies, read from the harness's metadata).
CHECK_DISTS = ("pytest",)
COVERAGE_DISTS = ("coverage",)
BUILD_TIMEOUT = 900.0
HARNESS_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
PROBE = ("import json, sys\n"
         "from importlib.metadata import distribution, PackageNotFoundError\n"
         "def has(name):\n"
         "    try:\n"
         "        distribution(name)\n"
         "        return True\n"
         "    except PackageNotFoundError:\n"
         "        return False\n"
         "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'prefix': sys.prefix, "
         "'base_prefix': sys.base_prefix, 'dists': {d: has(d) for d in sys.argv[1:]}}))")


@dataclass(frozen=True)
class CheckEnv:
    """How to run a pytest check: the interpreter, folders it needs read-only, and overlay entries for PYTHONPATH."""

    python: str
    kind: str = "harness"  # harness | project | built | given
    label: str = "the harness's interpreter"
    mounts: tuple[str, ...] = ()
    pythonpath: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "label": self.label, "python": self.python}


def installer() -> str:
    """``uv`` when it is on PATH (much faster), else ``pip`` (the harness's own)."""
    return "uv" if shutil.which("uv") else "pip"


def env_key(decl: Declarations, python_version: str, tool: str) -> str:
    h = hashlib.sha256(f"{python_version}\0{tool}\0".encode())
    for name in sorted(decl.files):
        h.update(name.encode() + b"\0" + decl.files[name] + b"\0")
    return h.hexdigest()[:16]


def closure(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` and every distribution they require here (markers evaluated, extras left out), as installed."""
    from packaging.requirements import Requirement

    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in out:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        out.append(key)
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return tuple(sorted(out))


def probe(python: str, dists: tuple[str, ...] = ()) -> dict[str, object] | None:
    """What ``python`` is (version, prefixes, which of ``dists`` it has), or None when it does not run."""
    try:
        res = subprocess.run([python, "-I", "-c", PROBE, *dists], capture_output=True, timeout=30,
                             env=_plain_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    try:
        return json.loads(res.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA"))}
    return env


def find_project_venv(folders: tuple[Path, ...]) -> Path | None:
    """The first ``.venv``/``venv`` (a folder with ``pyvenv.cfg``) in ``folders`` whose interpreter exists."""
    for folder in folders:
        for name in VENV_NAMES:
            venv = folder / name
            if (venv / "pyvenv.cfg").is_file() and (venv / "bin" / "python").exists():
                return venv
    return None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its folder): one process at a time, across xdist workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EnvResolver:
    """Finds or builds the environment of each session, once per declaration; safe across xdist workers.

    ``progress`` receives one line before a build starts (the controller prints it). Results are memoised per
    process; the cache on disk is shared by every process and run.
    """

    def __init__(self, mode: str, cache_root: Path, progress: Callable[[str], None] | None = None,
                 coverage: bool = False) -> None:
        self.mode = mode
        self.cache_root = cache_root
        self.progress = progress
        self.coverage = coverage
        self._memo: dict[tuple[str, ...], CheckEnv] = {}

    def resolve(self, start: Path, project_dirs: tuple[Path, ...] = ()) -> CheckEnv:
        """The environment for a check of the start at ``start`` (the session's pristine start folder)."""
        if self.mode == "harness":
            return CheckEnv(sys.executable)
        if self.mode != "auto":
            return self._given(Path(self.mode))
        venv = find_project_venv(project_dirs)
        if venv is not None:
            key = ("venv", str(venv))
            if key not in self._memo:
                self._memo[key] = self._from_python(str(venv / "bin" / "python"), "project",
                                                    f"the project's environment {venv}", (str(venv),))
            return self._memo[key]
        decl = read_declarations(start)
        if decl.empty:
            return CheckEnv(sys.executable)
        version = HARNESS_PYTHON
        tool = installer()
        digest = env_key(decl, version, tool)
        key = ("built", digest)
        if key not in self._memo:
            folder = self.build(start, decl, digest, tool)
            self._memo[key] = self._from_python(str(folder / "bin" / "python"), "built",
                                                f"built from {decl.names} ({_short(folder)})", (str(folder),))
        return self._memo[key]

    def _given(self, python: Path) -> CheckEnv:
        key = ("given", str(python))
        if key not in self._memo:
            self._memo[key] = self._from_python(str(python), "given", f"--modelbench-env {python}", ())
        return self._memo[key]

    def _from_python(self, python: str, kind: str, label: str, mounts: tuple[str, ...]) -> CheckEnv:
        wanted = closure(CHECK_DISTS + (COVERAGE_DISTS if self.coverage else ()))
        info = probe(python, wanted)
        if info is None:
            raise EnvError(f"environment: {label}: its interpreter {python} does not run here")
        prefixes = {str(info["prefix"]), str(info["base_prefix"]), os.path.dirname(os.path.realpath(python))}
        prefixes |= {os.path.realpath(p) for p in prefixes}
        found = info["dists"]
        assert isinstance(found, dict)
        missing = tuple(dist for dist in wanted if not found.get(dist))
        overlay: tuple[str, ...] = ()
        if missing:
            if info["version"] != HARNESS_PYTHON:
                raise EnvError(
                    f"environment: {label}: Python {info['version']} lacks {', '.join(missing)} and the harness runs "
                    f"Python {HARNESS_PYTHON}, so it cannot lend its own; install them in "
                    "that environment or use --modelbench-env harness")
            overlay = (str(self.overlay(missing)),)
        return CheckEnv(python, kind, label, tuple(sorted(prefixes | set(mounts) | set(overlay))), overlay)

    def overlay(self, dists: tuple[str, ...]) -> Path:
        """A folder with the harness's own copies of ``dists`` (pytest and what it needs, coverage), built once."""
        versions = [f"{d}-{metadata.version(d)}" for d in sorted(dists)] + [f"bytecode-{sys.implementation.cache_tag}"]
        folder = self.cache_root / ("overlay-" + hashlib.sha256("\0".join(versions).encode()).hexdigest()[:12])
        with file_lock(folder.with_suffix(".lock")):
            if (folder / ".complete").is_file():
                return folder
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for dist in dists:
                d = metadata.distribution(dist)
                for entry in d.files or ():
                    src = Path(str(d.locate_file(entry)))
                    parts = Path(entry).parts
                    if not src.is_file() or ".." in parts or "__pycache__" in parts or parts[0] == "bin":
                        continue
                    dest = folder / entry
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest)
            # Compiled once here: the check mounts the overlay read-only, so without bytecode every check would
            # compile pytest again (seconds per item). Same interpreter version as the check (see _from_python).
            compileall.compile_dir(str(folder), quiet=2, workers=1)
            (folder / ".complete").write_text("\n".join(versions) + "\n")
        return folder

    def build(self, start: Path, decl: Declarations, digest: str, tool: str) -> Path:
        """Build (or reuse) ``<cache>/<digest>``; an :class:`EnvError` with the installer's last lines on failure."""
        folder = self.cache_root / digest
        with file_lock(folder.with_suffix(".lock")):
            if (folder / ".complete").is_file():
                return folder
            shutil.rmtree(folder, ignore_errors=True)
            if self.progress is not None:
                self.progress(f"modelbench: building the environment for {decl.names} with {tool} into {folder} "
                              "(once per declaration; later runs reuse it)")
            try:
                _install(start, decl, folder, tool)
            except EnvError:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            (folder / ".complete").write_text(json.dumps({"declarations": sorted(decl.files), "tool": tool}))
        return folder


def _short(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


def _run(argv: list[str], cwd: Path, what: str, decl: Declarations) -> None:
    try:
        res = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=BUILD_TIMEOUT, env=_plain_env())
    except subprocess.TimeoutExpired:
        raise EnvError(f"environment: {decl.names}: {what} did not finish in {BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise EnvError(f"environment: {decl.names}: {what} could not start: {exc}") from None
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).decode(errors="replace").strip().splitlines()
        tail = " | ".join(line.strip() for line in lines[-4:] if line.strip())
        raise EnvError(f"environment: {decl.names}: {what} failed (exit {res.returncode}): {tail}")


def _install(start: Path, decl: Declarations, folder: Path, tool: str) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    if tool == "uv":
        _run(["uv", "venv", "--quiet", "--python", base, str(folder)], start, "uv venv", decl)
        # uv leaves bytecode to the first import, which a read-only environment never gets to write: compile now.
        pip = ["uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", str(folder / "bin" / "python")]
    else:
        _run([base, "-m", "venv", "--without-pip", str(folder)], start, "python -m venv", decl)
        pip = [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install",
               "--quiet", "--disable-pip-version-check"]
    # The installer reads the declarations from a private copy of the start (a build may write into its folder).
    copy = folder.parent / f"{folder.name}.src"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(start, copy, ignore=shutil.ignore_patterns(".git", *VENV_NAMES, "node_modules", "__pycache__"))
    try:
        args: list[str] = []
        for name in decl.requirement_files:
            args += ["-r", name]
        args += list(decl.requirements)
        if decl.install_project:
            args.append(f".[{','.join(TEST_EXTRAS)}]")
        if args:
            _run(pip + args, copy, f"{tool} install", decl)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def env_mode_problem(value: str) -> str | None:
    """Why ``value`` cannot be a ``--modelbench-env`` value, or None."""
    if value in ENV_MODES:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        return (f"--modelbench-env {value}: expected auto, harness or the path of a Python interpreter "
                "(no such file)")
    if path.is_dir():
        return f"--modelbench-env {value}: expected the path of a Python interpreter, got a folder"
    return None


__all__ = ["CheckEnv", "EnvError", "EnvResolver", "ModelbenchError", "read_declarations"]

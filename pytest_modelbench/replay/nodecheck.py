"""JavaScript/TypeScript checks: ``node --test``, vitest and jest, judged from a result file the harness owns.

The session's test command (``npm test`` and friends resolved through ``package.json`` scripts when the session was
built) is turned into the runner's own command with a reporter that writes outside the workspace: node's junit
reporter, vitest's junit reporter with ``--outputFile``, jest's ``--json --outputFile``. The verdict comes from that
file plus the exit code, never from stdout. ``node_modules`` is built once per ``package.json`` + lockfile into the
same content-addressed cache as Python environments (``npm ci``, else ``npm install``), with the user's trust, and
linked read-only into the workspace.

Pure module: no pytest.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from pytest_modelbench.records import Session, TestCounts
from pytest_modelbench.replay.envs import BUILD_TIMEOUT, EnvError, file_lock
from pytest_modelbench.runners import Mount, Runner, RunRequest, RunResult

NODE_RUNNERS = ("node-test", "vitest", "jest")
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# Files that decide how a JavaScript check behaves: restored from the start before the check, removed when new.
CONFIG_PATTERNS = ("package.json", "package-lock.json", "npm-shrinkwrap.json", "vitest.config.*", "vite.config.*",
                   "jest.config.*", "babel.config.*", ".babelrc", "tsconfig.json", ".mocharc*", "vitest.workspace.*")
TEST_PATTERNS = ("*.test.js", "*.test.mjs", "*.test.cjs", "*.test.ts", "*.test.mts", "*.test.jsx", "*.test.tsx",
                 "*.spec.js", "*.spec.mjs", "*.spec.cjs", "*.spec.ts", "*.spec.tsx", "*.spec.jsx", "*-test.js",
                 "*_test.js", "test.js", "test.mjs", "test.cjs")
TEST_DIRS = ("test", "tests", "__tests__")


def node_runner(command: str, package_json: dict[str, object] | None) -> tuple[str | None, str]:
    """``(runner, reason)``: which node test runner ``command`` amounts to, or None with a reason naming it.

    ``npm test`` / ``npm run test`` / ``pnpm test`` / ``yarn test`` are resolved through ``package.json``'s
    ``scripts.test``; then ``node --test``, ``vitest [run]`` and ``jest`` (also through ``npx``) are recognised.
    """
    words = shlex.split(command) if command else []
    if words and posixpath.basename(words[0]) in ("npm", "pnpm", "yarn", "bun"):
        rest = words[1:]
        if rest[:1] in (["test"], ["t"]) or rest[:2] == ["run", "test"]:
            scripts = (package_json or {}).get("scripts") if isinstance(package_json, dict) else None
            script = scripts.get("test") if isinstance(scripts, dict) else None
            if not isinstance(script, str) or not script.strip():
                return None, f"{command!r}: package.json has no scripts.test to run"
            runner, _ = node_runner(script, None)
            if runner is None:
                return None, f"{command!r} runs {script!r}: not a test runner this version supports " \
                             "(node --test, vitest, jest)"
            return runner, ""
        return None, f"{command!r}: not a test command this version supports (npm test, node --test, vitest, jest)"
    if words and posixpath.basename(words[0]) == "npx":
        words = words[1:]
    if not words:
        return None, "no test command"
    head = posixpath.basename(words[0])
    if head == "node" and "--test" in words:
        return "node-test", ""
    if head == "vitest":
        return "vitest", ""
    if head == "jest":
        return "jest", ""
    return None, f"{command!r}: not a test runner this version supports (node --test, vitest, jest)"


def is_js_test_file(rel: str) -> bool:
    name = posixpath.basename(rel)
    if any(fnmatch.fnmatch(name, p) for p in TEST_PATTERNS):
        return True
    parts = rel.split("/")[:-1]
    return name.endswith((".js", ".mjs", ".cjs", ".ts")) and any(d in TEST_DIRS for d in parts)


def _is_config(rel: str) -> bool:
    return "/" not in rel and any(fnmatch.fnmatch(rel, p) for p in CONFIG_PATTERNS)


def prepare_node_check(session: Session, workspace: Path, pristine: Path) -> None:
    """Restore test files and config from the start, drop new ones, and write the hidden check files."""
    from pytest_modelbench.replay.workspace import clear_path, walk_files, walk_files_of, write_fileset

    start = walk_files(pristine)
    for rel, path in walk_files(workspace, symlinks=True).items():
        if (is_js_test_file(rel) or _is_config(rel)) and rel not in start:
            path.unlink()
    for rel, src in start.items():
        if is_js_test_file(rel) or _is_config(rel):
            dest = clear_path(workspace, rel)
            if dest.is_symlink() or dest.is_file():
                dest.unlink()
            elif dest.is_dir():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    for rel in walk_files_of(session.check.files):
        clear_path(workspace, rel)
    write_fileset(session.check.files, workspace)


def node_modules(pristine: Path, cache_root: Path) -> Path | None:
    """The start's ``node_modules`` built once into ``<cache>/node-<hash>``, or None when it declares nothing."""
    pkg = pristine / "package.json"
    if not pkg.is_file():
        return None
    try:
        data = json.loads(pkg.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvError(f"environment: {pkg}: not valid JSON ({exc})") from None
    if not (data.get("dependencies") or data.get("devDependencies")):
        return None
    lock = next((pristine / n for n in LOCKFILES if (pristine / n).is_file()), None)
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    h = hashlib.sha256(f"{version}\0".encode() + pkg.read_bytes() + b"\0" + (lock.read_bytes() if lock else b""))
    folder = cache_root / f"node-{h.hexdigest()[:16]}"
    with file_lock(folder.with_suffix(".lock")):
        if (folder / ".complete").is_file():
            return folder / "node_modules"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copyfile(pkg, folder / "package.json")
        if lock is not None:
            shutil.copyfile(lock, folder / lock.name)
        argv = ["npm", "ci", "--no-audit", "--no-fund"] if lock else ["npm", "install", "--no-audit", "--no-fund"]
        names = "package.json" + (f" + {lock.name}" if lock else "")
        try:
            res = subprocess.run(argv, cwd=folder, capture_output=True, timeout=BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise EnvError(f"environment: {names}: {' '.join(argv[:2])} could not run: {exc}") from None
        if res.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            lines = (res.stderr or res.stdout).decode(errors="replace").strip().splitlines()
            raise EnvError(f"environment: {names}: {' '.join(argv[:2])} failed (exit {res.returncode}): "
                           + " | ".join(line.strip() for line in lines[-4:] if line.strip()))
        (folder / ".complete").write_text(" ".join(argv))
    return folder / "node_modules"


def node_argv(runner: str, result: Path, paths: tuple[str, ...]) -> list[str]:
    """The command for ``runner`` with a reporter that writes ``result`` (outside the workspace)."""
    if runner == "node-test":
        return ["node", "--test", "--test-reporter=junit", f"--test-reporter-destination={result}", *paths]
    if runner == "vitest":
        # Worker counts are given: without /proc (the local runner under Landlock) node sees no CPUs, and vitest
        # would wait for a pool of none.
        return ["node_modules/.bin/vitest", "run", "--reporter=junit", f"--outputFile={result}", "--minWorkers=1",
                "--maxWorkers=2", *paths]
    return ["node_modules/.bin/jest", "--ci", "--json", f"--outputFile={result}", *paths]


def read_jest(path: Path, run: RunResult) -> TestCounts:
    """Counts from jest's ``--json`` result file (the exit code must agree, as for JUnit)."""
    if run.timed_out:
        return TestCounts(0, 0, 0, 0, None, timed_out=True, result_file_found=path.exists(),
                          detail="killed at the check timeout")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TestCounts(0, 0, 0, 0, run.exit_code, result_file_found=False,
                          detail=f"no result file (exit code {run.exit_code}): the check did not finish")
    except (ValueError, UnicodeDecodeError) as exc:
        return TestCounts(0, 0, 0, 0, run.exit_code, result_file_found=False, detail=f"unreadable result file: {exc}")
    suites_failed = int(data.get("numRuntimeErrorTestSuites") or 0)
    return TestCounts(int(data.get("numPassedTests") or 0), int(data.get("numFailedTests") or 0), suites_failed,
                      int(data.get("numPendingTests") or 0) + int(data.get("numTodoTests") or 0), run.exit_code)


def run_node_check(session: Session, workspace: Path, pristine: Path, runner: Runner, scratch: Path | None,
                   cache_root: Path,
                   read_junit: Callable[[Path, RunResult], TestCounts]) -> tuple[TestCounts, RunResult]:
    """Prepare ``workspace`` and run the session's node check in ``runner``; ``read_junit`` reads JUnit XML (the
    pytest check's reader, passed in so this module stays below replay/check.py)."""

    kind = session.check.command[0] if session.check.command else "node-test"
    if kind not in NODE_RUNNERS:
        why = session.check.command[2] if len(session.check.command) > 2 else f"{kind}: not a supported test runner"
        return TestCounts(0, 0, 0, 0, None, result_file_found=False, detail=why), RunResult(None, False, 0.0)
    if kind == "vitest" and runner.name == "local":
        from pytest_modelbench.runners.local import landlock_abi

        if landlock_abi() > 0:  # seen here: vitest writes its result, then never exits under the confinement
            return TestCounts(0, 0, 0, 0, None, result_file_found=False,
                              detail="vitest does not finish under the local runner's Landlock confinement: "
                                     "use --runner bwrap"), RunResult(None, False, 0.0)
    prepare_node_check(session, workspace, pristine)
    modules = node_modules(pristine, cache_root)
    mounts: list[Mount] = []
    link = workspace / "node_modules"
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    if modules is not None:
        link.symlink_to(modules)  # read-only: the folder it points to is mounted read-only
        mounts.append(Mount(modules.parent, False))
    with tempfile.TemporaryDirectory(prefix="modelbench-result-", dir=scratch) as tmp:
        result = Path(tmp) / ("jest.json" if kind == "jest" else "junit.xml")
        argv = node_argv(kind, result, tuple(session.check.paths))
        run = runner.run(RunRequest(tuple(argv), workspace, session.check.timeout,
                                    mounts=(Mount(Path(tmp), True), *mounts)))
        counts = read_jest(result, run) if kind == "jest" else read_junit(result, run)
    return counts, run

"""Run a session's check in a Runner and read the verdict from a harness-owned result file.

Never from stdout: a model can print "5 passed". pytest checks write JUnit XML to a folder outside the workspace;
function checks use the harness's own runner script. The exit code must agree as well.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pytest_modelbench.records import Session, TestCounts
from pytest_modelbench.replay.envs import CheckEnv, EnvResolver
from pytest_modelbench.replay.workspace import prepare_check
from pytest_modelbench.runners import Mount, Runner, RunRequest, RunResult, kill_group


@dataclass(frozen=True)
class CheckRun:
    counts: TestCounts
    run: RunResult | None
    # Lines the check executed, per workspace-relative file (only when coverage was asked for), else None.
    executed: dict[str, list[int]] | None = None


def run_check(
    session: Session, workspace: Path, pristine: Path, runner: Runner, scratch: Path | None = None,
    coverage: bool = False, env: CheckEnv | None = None,
) -> CheckRun:
    """Prepare ``workspace`` for a pytest check (pristine tests and config, hidden files) and run it."""
    files = prepare_check(session, workspace, pristine)
    with tempfile.TemporaryDirectory(prefix="modelbench-result-", dir=scratch) as tmp:
        return _pytest_check(session, workspace, files, Path(tmp), runner, coverage, env or CheckEnv(sys.executable))


def _pytest_check(session: Session, workspace: Path, files: list[str], result_dir: Path, runner: Runner,
                  coverage: bool, env: CheckEnv) -> CheckRun:
    if not files:
        counts = TestCounts(0, 0, 0, 0, None, result_file_found=False, detail="the check has no test files")
        return CheckRun(counts, None)
    junit = result_dir / "junit.xml"
    inside = Path("/workspace") if runner.name == "bwrap" else workspace
    data_file = result_dir / "coverage.data"
    rcfile = result_dir / "coveragerc"
    argv = [env.python, "-m"]
    if coverage:
        # coverage.py runs inside the sandbox with the check, following Python subprocesses too (checks that run
        # pytest on the candidate's tests); its data files live in the harness's folder.
        rcfile.write_text(f"[run]\ndata_file = {data_file}\nsource = {inside}\nparallel = true\n"
                          "patch = subprocess\n", encoding="utf-8")
        argv += ["coverage", "run", f"--rcfile={rcfile}", "-m"]
    argv += ["pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit2", f"--junitxml={junit}"]
    for plugin in session.check.plugins:
        argv += ["-p", plugin]
    argv += files
    # The project's code comes from the workspace (and its src/ folder) before anything installed in the
    # environment; the overlay lends pytest/coverage to an environment without them.
    pythonpath = [*env.pythonpath, *([str(inside / "src")] if (workspace / "src").is_dir() else [])]
    extra_env = {"PATH": f"{Path(env.python).parent}:/usr/local/bin:/usr/bin:/bin"}
    if pythonpath:
        extra_env["PYTHONPATH"] = ":".join(pythonpath)
    mounts = (Mount(result_dir, True), *(Mount(Path(m), False) for m in env.mounts))
    run = runner.run(RunRequest(tuple(argv), workspace, session.check.timeout, mounts=mounts, env=extra_env))
    executed = read_coverage(result_dir, rcfile, inside) if coverage else None
    return CheckRun(read_junit(junit, run), run, executed)


def read_coverage(result_dir: Path, rcfile: Path, root: Path) -> dict[str, list[int]] | None:
    """Executed lines per workspace-relative file from coverage.py's data files (combined and read here, never
    run); None when the check left none."""
    if not any(p.name.startswith("coverage.data") for p in result_dir.iterdir()):
        return None
    from coverage import Coverage

    try:
        cov = Coverage(config_file=str(rcfile))
        cov.combine([str(result_dir)], keep=True)
        data = cov.get_data()
    except Exception:  # data files the candidate's code damaged are no data
        return None
    out: dict[str, list[int]] = {}
    for name in data.measured_files():
        try:
            rel = Path(name).relative_to(root).as_posix()
        except ValueError:
            continue
        out[rel] = sorted(data.lines(name) or [])
    return out


def read_junit(path: Path, run: RunResult) -> TestCounts:
    """Count testcases in the JUnit XML; a missing or broken file means the run did not finish honestly."""
    if run.timed_out:
        return TestCounts(0, 0, 0, 0, None, timed_out=True, result_file_found=path.exists(),
                          detail="killed at the check timeout")
    if not path.exists():
        last = next((line.strip() for line in reversed(run.stderr_tail.splitlines()) if line.strip()), "")
        return TestCounts(0, 0, 0, 0, run.exit_code, result_file_found=False,
                          detail=f"no result file (exit code {run.exit_code}): the check did not finish"
                                 + (f"; its last error line: {last[:300]}" if last else ""))
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return TestCounts(0, 0, 0, 0, run.exit_code, result_file_found=False, detail=f"unreadable result file: {exc}")
    passed = failed = errors = skipped = 0
    cases: dict[str, str] = {}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "error" in tags:
            errors += 1
            state = "error"
        elif "failure" in tags:
            failed += 1
            state = "failed"
        elif "skipped" in tags:
            skipped += 1
            state = "skipped"
        else:
            passed += 1
            state = "passed"
        # A test that errors in teardown after passing is reported twice under one id: the worse result stands.
        test_id = f"{case.get('classname') or ''}::{case.get('name') or ''}"
        if cases.get(test_id) in (None, "passed", "skipped"):
            cases[test_id] = state
    # Collection errors appear as testsuite-level errors without a testcase of their own in some versions.
    suite_errors = sum(int(s.get("errors", 0) or 0) for s in root.iter("testsuite"))
    errors = max(errors, suite_errors)
    return TestCounts(passed, failed, errors, skipped, run.exit_code, detail=_missing_module(root),
                      cases=tuple(sorted(cases.items())))


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _missing_module(root: ET.Element) -> str:
    """``ModuleNotFoundError: No module named 'x'`` when a test failed on an import: the environment lacks it."""
    for element in root.iter():
        if element.tag in ("failure", "error"):
            m = _NO_MODULE.search(f"{element.get('message', '')}\n{element.text or ''}")
            if m:
                return f"ModuleNotFoundError: No module named '{m.group(1)}' (the environment lacks it)"
    return ""


class FunctionChecker:
    """Judges function-completion solutions through one long-lived harness process per pytest process.

    Starting a sandbox costs ~20-35 ms, more than most HumanEval checks, so the harness server
    (``harness/fn_server.py``) starts once inside the Runner and forks a child per job. If it dies or hangs it is
    killed and started again for the next job.
    """

    def __init__(self, runner: Runner, scratch: Path | None = None) -> None:
        self.runner = runner
        self.scratch = scratch
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._next_id = 0
        self.last_lines: list[int] | None = None

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.close()
        self._dir = Path(tempfile.mkdtemp(prefix="modelbench-fn-", dir=self.scratch))
        harness, scratch = self._dir / "harness", self._dir / "scratch"
        harness.mkdir()
        scratch.mkdir()
        script = Path(str(resources.files("pytest_modelbench.harness").joinpath("fn_server.py")))
        shutil.copyfile(script, harness / "fn_server.py")
        argv = [sys.executable, "-I", "-S", str(harness / "fn_server.py")]
        if self.runner.name == "bwrap":
            argv.append("--clean-tmp")
        self._proc = self.runner.start(RunRequest(tuple(argv), scratch, 0, mounts=(Mount(harness, False),)))
        return self._proc

    def check(self, session: Session, solution: str | None, trace: bool = False) -> TestCounts:
        if solution is None:
            return TestCounts(0, 1, 0, 0, None, detail=f"{session.check.solution_file} is missing")
        proc = self._ensure()
        assert proc.stdin is not None and proc.stdout is not None
        self._next_id += 1
        job = {"id": self._next_id, "solution": solution, "test": session.check.test_code,
               "entry_point": session.check.entry_point, "timeout": session.check.timeout, "trace": trace}
        try:
            proc.stdin.write((json.dumps(job) + "\n").encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], session.check.timeout + 10)
            line = proc.stdout.readline() if ready else b""
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            detail = "the judge process stopped answering" if proc.poll() is None else "the judge process died"
            self.close()
            return TestCounts(0, 0, 0, 0, None, timed_out=True, result_file_found=False, detail=detail)
        try:
            data = json.loads(line)
            if data.get("id") != job["id"]:
                raise ValueError(f"reply for job {data.get('id')}, expected {job['id']}")
        except ValueError as exc:
            self.close()
            return TestCounts(0, 0, 0, 0, None, result_file_found=False, detail=f"unreadable judge reply: {exc}")
        self.last_lines = data.get("lines")
        return TestCounts(int(data["passed"]), int(data["failed"]), 0, 0, data.get("exit_code"),
                          timed_out=bool(data.get("timed_out")), detail=str(data.get("detail", ""))[:500])

    def close(self) -> None:
        if self._proc is not None:
            # End of input first: the judge exits and the local runner's guard then reaps whatever it left behind.
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            kill_group(self._proc.pid)
            self._proc.wait()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class Checker:
    """Runs a session's check with one Runner; owns the function judge of this process."""

    def __init__(self, runner: Runner, scratch: Path, envs: EnvResolver | None = None) -> None:
        self.runner = runner
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.functions = FunctionChecker(runner, scratch)
        self.envs = envs

    def env_for(self, session: Session, pristine: Path) -> CheckEnv:
        """The environment a pytest check of ``session`` runs with (an EnvError when it cannot be had)."""
        if self.envs is None or session.check.kind != "pytest":
            return CheckEnv(sys.executable)
        dirs = tuple(Path(d) for d in (session.project, session.workspace.directory) if d)
        return self.envs.resolve(pristine, dirs)

    def run(self, session: Session, workspace: Path, pristine: Path, coverage: bool = False) -> CheckRun:
        if session.check.kind == "function":
            # Only the solution file is read: nothing in the workspace can change how it is judged.
            solution = workspace / session.check.solution_file
            text = solution.read_text(encoding="utf-8", errors="replace") if solution.is_file() else None
            self.functions.last_lines = None
            counts = self.functions.check(session, text, trace=coverage)
            lines = self.functions.last_lines
            executed = {session.check.solution_file: lines} if coverage and lines is not None else None
            return CheckRun(counts, None, executed)
        if session.check.kind == "node":
            from pytest_modelbench.replay.nodecheck import run_node_check

            cache = self.envs.cache_root if self.envs is not None else self.scratch / "envs"
            counts, run = run_node_check(session, workspace, pristine, self.runner, self.scratch, cache)
            return CheckRun(counts, run)
        return run_check(session, workspace, pristine, self.runner, self.scratch, coverage,
                         self.env_for(session, pristine))

    def close(self) -> None:
        self.functions.close()

"""Run a session's check in a Runner and read the verdict from a harness-owned result file.

Never from stdout: a model can print "5 passed". pytest checks write JUnit XML to a folder outside the workspace;
function checks use the harness's own runner script. The exit code must agree as well.

Both kinds carry a sentinel the harness owns (a twin check whose true result is "failed") and a per-run nonce, so a
result the code under test forged is caught and recorded as ``tampered`` (docs/verdicts.md).
"""

from __future__ import annotations

import json
import re
import secrets
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
from pytest_modelbench.replay.workspace import check_run, prepare_check
from pytest_modelbench.runners import Mount, Runner, RunRequest, RunResult, kill_group

NOTHING = "modelbench_collects_no_plain_tests"  # a python_classes/python_functions prefix no name starts with


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
    if session.check.command[:1] == ("unsupported",):  # a wrapper that could not be read: its reason, no run
        reason = session.check.command[2] if len(session.check.command) > 2 else "no test command to run"
        return CheckRun(TestCounts(0, 0, 0, 0, None, result_file_found=False, detail=reason), None)
    files = prepare_check(session, workspace, pristine)
    with tempfile.TemporaryDirectory(prefix="modelbench-result-", dir=scratch) as tmp:
        return _pytest_check(session, workspace, files, Path(tmp), runner, coverage, env or CheckEnv(sys.executable))


@dataclass(frozen=True)
class Sentinel:
    """The twin test the harness adds to a pytest check (``harness/modelbench_verdict.py``): its name ends with
    ``_<token>`` and its failure message carries ``nonce``; both are new for every check run."""

    token: str
    nonce: str

    @classmethod
    def new(cls) -> Sentinel:
        return cls(secrets.token_hex(4), secrets.token_hex(16))

    @property
    def env(self) -> dict[str, str]:
        return {"MODELBENCH_SENTINEL": f"{self.token}:{self.nonce}"}


def _pytest_check(session: Session, workspace: Path, files: list[str], tmp: Path, runner: Runner,
                  coverage: bool, env: CheckEnv) -> CheckRun:
    if not files:
        counts = TestCounts(0, 0, 0, 0, None, result_file_found=False, detail="the check has no test files")
        return CheckRun(counts, None)
    result_dir, plugin_dir = tmp / "result", tmp / "harness"
    result_dir.mkdir()
    plugin_dir.mkdir()
    plugin = Path(str(resources.files("pytest_modelbench.harness").joinpath("modelbench_verdict.py")))
    shutil.copyfile(plugin, plugin_dir / "modelbench_verdict.py")
    sentinel = Sentinel.new()
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
    argv += ["pytest", "-q", "-p", "no:cacheprovider", "-p", "modelbench_verdict", "-o", "junit_family=xunit2",
             f"--junitxml={junit}"]
    for name in session.check.plugins:
        argv += ["-p", name]
    selected = check_run(session)
    if selected.style == "unittest":
        # What unittest runs: TestCase classes only (pytest collects them whatever python_classes says), not the
        # plain test_* functions and Test* classes pytest alone would add. The sentinel still takes its twin.
        argv += ["-o", f"python_classes={NOTHING}", "-o", f"python_functions={NOTHING}"]
    # The session's own -k / -m / --deselect (--ignore already shaped the file list). The sentinel is added after
    # this deselection, as a twin of a test that stays.
    options = selected.options
    for name, value in zip(options[::2], options[1::2], strict=False):
        if name != "--ignore":
            argv += [f"{name}={value}"] if name.startswith("--") else [name, value]
    argv += files
    # The project's code comes from the workspace (and its src/ folder) before anything installed in the
    # environment; the overlay lends pytest/coverage to an environment without them. The harness's verdict plugin
    # (the sentinel) comes last: its folder holds nothing else.
    pythonpath = [*env.pythonpath, *([str(inside / "src")] if (workspace / "src").is_dir() else []), str(plugin_dir)]
    extra_env = {**sentinel.env, "PATH": f"{Path(env.python).parent}:/usr/local/bin:/usr/bin:/bin",
                 "PYTHONPATH": ":".join(pythonpath)}
    mounts = (Mount(result_dir, True), Mount(plugin_dir, False), *(Mount(Path(m), False) for m in env.mounts))
    run = runner.run(RunRequest(tuple(argv), workspace, session.check.timeout, mounts=mounts, env=extra_env))
    executed = read_coverage(result_dir, rcfile, inside) if coverage else None
    return CheckRun(read_junit(junit, run, sentinel), run, executed)


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


def _state(case: ET.Element) -> str:
    tags = {child.tag for child in case}
    for state in ("error", "failure", "skipped"):
        if state in tags:
            return state
    return "passed"


def forgery(cases: list[ET.Element], sentinel: Sentinel, exit_code: int | None) -> str:
    """What betrays a forged JUnit report (what the harness expected, what it got), or "" when nothing does.

    An honest run always holds the sentinel, failed with its nonce (or errored, when a fixture of the session's
    errors for every test, or skipped by a module-wide mark), and pytest exits 1. Nothing but the sentinel and the
    exit code is taken as evidence: a run whose own tests fail or error, or whose collection fails, is a failure,
    not a forgery."""
    twins = [c for c in cases if str(c.get("name", "")).endswith(f"_{sentinel.token}")]
    others = [_state(c) for c in cases if c not in twins]
    if len(twins) > 1:
        return f"expected one sentinel test (*_{sentinel.token}), got {len(twins)}"
    if not twins:
        if others and all(s in ("passed", "skipped") for s in others):
            return (f"expected a failed sentinel test (*_{sentinel.token}) next to {len(others)} test(s), got a "
                    "report without it")
        return ""
    twin, state = twins[0], _state(twins[0])
    name = f"{twin.get('classname', '')}::{twin.get('name', '')}"
    if state == "passed":
        return f"expected the sentinel test {name} to fail, got passed"
    if state == "failure":
        failure = twin.find("failure")
        text = "" if failure is None else f"{failure.get('message', '')} {failure.text or ''}"
        if sentinel.nonce not in text:
            return f"expected the sentinel's own failure (its nonce), got {text.strip()[:120]!r}"
    if exit_code == 0:
        return f"expected pytest to exit 1 (the sentinel test {name} failed), got exit code 0"
    return ""


def read_junit(path: Path, run: RunResult, sentinel: Sentinel | None = None) -> TestCounts:
    """Count testcases in the JUnit XML; a missing or broken file means the run did not finish honestly.

    With a ``sentinel``, its twin test is left out of the counts and checked instead (:func:`forgery`): the honest
    exit code is then 1, and the one recorded is the one pytest would have given without the sentinel."""
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
    cases = list(root.iter("testcase"))
    exit_code = run.exit_code
    twin_errors = 0
    if sentinel is not None:
        tampered = forgery(cases, sentinel, run.exit_code)
        twins = [c for c in cases if str(c.get("name", "")).endswith(f"_{sentinel.token}")]
        real = [c for c in cases if c not in twins]
        if tampered:
            return TestCounts(0, max(1, len(real)), 0, 0, run.exit_code, detail=f"tampered: {tampered}",
                              tampered=tampered)
        cases = real
        twin_errors = sum(1 for c in twins if _state(c) == "error")
        if twins and run.exit_code == 1 and all(_state(c) in ("passed", "skipped") for c in real):
            exit_code = 0  # pytest's exit 1 came from the sentinel alone
    counts = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
    per_test: dict[str, str] = {}
    for case in cases:
        state = _state(case)
        counts[state] += 1
        # A test that errors in teardown after passing is reported twice under one id: the worse result stands.
        test_id = f"{case.get('classname') or ''}::{case.get('name') or ''}"
        if per_test.get(test_id) in (None, "passed", "skipped"):
            per_test[test_id] = "failed" if state == "failure" else state
    # Collection errors appear as testsuite-level errors without a testcase of their own in some versions.
    suite_errors = sum(int(s.get("errors", 0) or 0) for s in root.iter("testsuite")) - twin_errors
    errors = max(counts["error"], suite_errors)
    return TestCounts(counts["passed"], counts["failure"], errors, counts["skipped"], exit_code,
                      detail=_missing_module(root), cases=tuple(sorted(per_test.items())))


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _missing_module(root: ET.Element) -> str:
    """``ModuleNotFoundError: No module named 'x'`` when a test failed on an import (a dependency the environment
    lacks, or a module the replay was to write)."""
    for element in root.iter():
        if element.tag in ("failure", "error"):
            m = _NO_MODULE.search(f"{element.get('message', '')}\n{element.text or ''}")
            if m:
                return f"ModuleNotFoundError: No module named '{m.group(1)}'"
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
        self.last_cleaned: int | None = None  # entries the judge's cleanup looked at after the last job

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
        self.last_cleaned = data.get("cleaned")
        return TestCounts(int(data["passed"]), int(data["failed"]), 0, 0, data.get("exit_code"),
                          timed_out=bool(data.get("timed_out")), detail=str(data.get("detail", ""))[:500],
                          tampered=str(data.get("tampered") or "")[:500])

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
            counts, run = run_node_check(session, workspace, pristine, self.runner, self.scratch, cache,
                                         lambda path, result: read_junit(path, result))
            return CheckRun(counts, run)
        return run_check(session, workspace, pristine, self.runner, self.scratch, coverage,
                         self.env_for(session, pristine))

    def close(self) -> None:
        self.functions.close()

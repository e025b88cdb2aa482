"""How often the CI gate cries wolf, and how often it catches a real drop: the gate as configured, on simulated runs.

What is simulated
-----------------
Noisy models whose quality is fixed: each answer of a model is right with its probability (0.8 for the model that
may drop; 0.5, 0.6, 0.7 and 0.9 for the other four when there are five). Two kinds of noise:

* ``flaky``: every answer is drawn afresh, the same probability for every session (the loopback model of issue 19:
  the worst case, nothing about a session carries over from one run to the next);
* ``consistent``: each session has its own probability, drawn once from a Beta distribution with the model's mean
  (a third of the variance between sessions, the rest from run to run), as real models behave on easy and hard
  tasks.

A scored item's combined score is ``0.7 * solved + 0.3 * static``, the static part fixed per session and model plus
a little run-to-run jitter. A store history of 9 unchanged runs precedes the run judged (the default trend window
of 10 runs), and that run is compared with the previous one (``--modelbench-baseline latest``).

* false alarms: nothing changes; a run counts when the gate reports any regression for any model;
* power: the 0.8 model's expected combined score (the gate's main metric, on which the tolerance is set) drops by
  5, 10, 15 or 20 points in the run judged: its solve probability drops by ``d / 0.7`` (7, 14, 21 and 29 points of
  solve rate), in every session in proportion; the other models are unchanged. A run counts when that model is
  reported.

It calls the real gate (``analysis.regression.compare_runs`` and ``analysis.gate.trend_regressions``, as
``analysis.gate.evaluate`` does after reading the store) with the default options from ``run/options.py``.

Usage::

    python bench/gate_calibration.py [--runs N] [--seed S] [--noise flaky,consistent]

Each rate is printed with its number of simulated runs and a 95% Wilson interval. Exits 1 when a target is missed
(on the point estimates): false alarms <= 5% of runs with 5 unchanged models at 30 sessions (flaky noise), and a
15-point drop caught in >= 80% of runs at 100 sessions (1 and 5 models, each noise).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_modelbench.analysis.gate import trend_regressions  # noqa: E402
from pytest_modelbench.analysis.regression import compare_runs  # noqa: E402
from pytest_modelbench.analysis.stats import wilson_interval  # noqa: E402
from pytest_modelbench.run.options import Settings  # noqa: E402

DROPS = (5, 10, 15, 20)
QUALITY = 0.8
OTHERS = (0.5, 0.6, 0.7, 0.9)
HISTORY = 9
SOLVED_WEIGHT = 0.7  # combined = 0.7 * solved + 0.3 * static
CONSISTENT_KAPPA = 2.0  # Beta(p*k, (1-p)*k): between-session variance p(1-p)/(k+1), a third of p(1-p) at k = 2


@dataclass(frozen=True)
class GateOptions:
    tolerance: float
    solve_tolerance: float
    trend_window: int
    trend_threshold: float


def configured() -> GateOptions:
    """The gate's defaults, read from the options' resolved record (what a run without gate flags uses)."""
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    return GateOptions(**{f.name: defaults[f.name] for f in dataclasses.fields(GateOptions)})


def _model(index: int, models: int) -> tuple[str, float]:
    return (f"m/{index}", QUALITY) if index == 0 else (f"m/{index}", OTHERS[(index - 1) % len(OTHERS)])


class World:
    """One simulated benchmark: sessions x models with fixed qualities, and a generator for runs of it."""

    def __init__(self, rng: random.Random, sessions: int, models: int, noise: str, repeats: int) -> None:
        self.rng = rng
        self.sessions = [f"cases/s{i:03d}" for i in range(sessions)]
        self.models = [_model(i, models) for i in range(models)]
        self.repeats = repeats
        self.prob: dict[tuple[str, str], float] = {}
        self.static: dict[tuple[str, str], float] = {}
        for model, p in self.models:
            for s in self.sessions:
                q = p if noise == "flaky" else rng.betavariate(p * CONSISTENT_KAPPA, (1 - p) * CONSISTENT_KAPPA)
                self.prob[model, s] = q
                self.static[model, s] = rng.uniform(0.4, 1.0)

    def run(self, drop: float = 0.0) -> list[dict[str, Any]]:
        """One run's outcomes as store rows; the first model's expected combined score lowered by ``drop``: its
        solve probabilities scaled per session so their mean drops by exactly ``drop / SOLVED_WEIGHT``."""
        rows = []
        for model, p in self.models:
            for s in self.sessions:
                q = self.prob[model, s]
                if drop and model == self.models[0][0]:
                    q = q * (p - drop / SOLVED_WEIGHT) / p
                for r in range(self.repeats):
                    solved = self.rng.random() < q
                    static = min(1.0, max(0.0, self.static[model, s] + self.rng.gauss(0, 0.03)))
                    rows.append({"source_session_id": s, "candidate_model": model, "repeat_index": r,
                                 "status": "complete", "solved": int(solved),
                                 "combined_score": round(SOLVED_WEIGHT * solved + (1 - SOLVED_WEIGHT) * static, 4)})
        return rows


def gate(history: Sequence[list[dict[str, Any]]], current: list[dict[str, Any]], settings: GateOptions,
         seed: int) -> tuple[set[str], set[str]]:
    """The models the paired gate and the trend gate report for ``current`` (baseline: the last run of
    ``history``)."""
    found = compare_runs(history[-1], current, tolerance=settings.tolerance, seed=seed,
                         solve_tolerance=settings.solve_tolerance)
    trend, _ = trend_regressions(history[-(settings.trend_window - 1):], current, settings.trend_window,
                                 settings.trend_threshold)
    return {r.model for r in found}, {r.model for r in trend}


def rate(hits: int, n: int) -> str:
    lo, hi = wilson_interval(hits, n) or (0.0, 0.0)
    return f"{100 * hits / n:5.1f}% [{100 * lo:4.1f}, {100 * hi:5.1f}]"


def scenario(noise: str, sessions: int, models: int, runs: int, seed: int, settings: GateOptions,
             repeats: int = 1) -> dict[str, tuple[int, int]]:
    """False alarms and detections over ``runs`` simulated worlds (common random numbers across drop sizes)."""
    rng = random.Random(f"{seed}/{noise}/{sessions}/{models}/{repeats}")
    counts = {"false alarm": 0, "paired": 0, "trend": 0, **{f"drop {d}": 0 for d in DROPS}}
    for i in range(runs):
        world = World(rng, sessions, models, noise, repeats)
        history = [world.run() for _ in range(HISTORY)]
        state = rng.getstate()
        paired, trend = gate(history, world.run(), settings, i)
        counts["false alarm"] += bool(paired | trend)
        counts["paired"] += bool(paired)
        counts["trend"] += bool(trend)
        for d in DROPS:
            rng.setstate(state)  # the same draws as the unchanged run, lowered: only the drop differs
            paired, trend = gate(history, world.run(d / 100), settings, i)
            counts[f"drop {d}"] += world.models[0][0] in paired | trend
    return {k: (v, runs) for k, v in counts.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="simulated runs per scenario (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", default="flaky,consistent", help="flaky, consistent or both (default)")
    parser.add_argument("--repeats-row", action="store_true",
                        help="also 30 and 100 sessions x 1 model with --repeats 3 (flaky noise)")
    args = parser.parse_args(argv)
    settings = configured()
    print(f"gate as configured: tolerance {settings.tolerance}, solve tolerance {settings.solve_tolerance}, "
          f"trend window {settings.trend_window}, threshold {settings.trend_threshold} points/run; "
          f"{HISTORY} unchanged runs before the run judged; seed {args.seed}")
    print("rates: % of simulated runs [95% Wilson interval]; solve probabilities 0.8 (the model that drops) and "
          f"{', '.join(map(str, OTHERS))}; drops in points of the combined score (x {1 / SOLVED_WEIGHT:.2f} in solve "
          "rate)\n")
    header = ["noise", "sessions", "models", "repeats", "runs", "false alarms / run", "paired", "trend",
              *[f"caught: drop {d}" for d in DROPS]]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    cases = [(noise, n, m, 1) for noise in args.noise.split(",") for n in (30, 100) for m in (1, 5)]
    if args.repeats_row:
        cases += [("flaky", n, 1, 3) for n in (30, 100)]
    results = {}
    started = time.perf_counter()
    for noise, n, m, k in cases:
        res = scenario(noise, n, m, args.runs, args.seed, settings, k)
        results[noise, n, m, k] = res
        print("| " + " | ".join([noise, str(n), str(m), str(k), str(args.runs), rate(*res["false alarm"]),
                                 rate(*res["paired"]), rate(*res["trend"]),
                                 *[rate(*res[f"drop {d}"]) for d in DROPS]]) + " |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")
    failed = []
    fa = results.get(("flaky", 30, 5, 1))
    if fa and fa["false alarm"][0] / fa["false alarm"][1] > 0.05:
        failed.append("false alarms > 5% with 5 unchanged models at 30 sessions (flaky)")
    for noise in args.noise.split(","):
        for m in (1, 5):
            power = results.get((noise, 100, m, 1))
            if power and power["drop 15"][0] / power["drop 15"][1] < 0.80:
                failed.append(f"a 15-point drop caught in < 80% of runs at 100 sessions, {m} model(s) ({noise})")
    for f in failed:
        print(f"target missed: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

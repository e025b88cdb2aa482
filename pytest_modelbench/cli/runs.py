"""``modelbench list``, ``compare`` and ``merge``: the runs in the store, one against another, shards joined into one.

``compare`` uses the regression gate's functions (analysis/gate.py, analysis/regression.py), so its verdict is the
one ``pytest --modelbench-baseline`` would give; ``merge`` recomputes the joined run's aggregates with the functions a
run uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_modelbench.cli.common import add_store_option, open_store
from pytest_modelbench.errors import UserError
from pytest_modelbench.store import DEFAULT_STORE


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``list``, ``compare`` and ``merge``."""
    p = sub.add_parser("list", help="list the runs in the store, newest first")
    add_store_option(p)
    p.add_argument("--limit", type=int, default=50, metavar="N")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("compare", help="paired comparison of run B against run A; exit status 1 on regression")
    p.add_argument("a", metavar="A", help="baseline: run id, run name or JSON artifact path")
    p.add_argument("b", metavar="B", help="current: run id, run name or JSON artifact path")
    add_store_option(p)
    p.add_argument("--tolerance", type=float, default=0.05, metavar="X",
                   help="drop in mean combined tolerated (default 0.05)")
    p.add_argument("--solve-tolerance", type=float, default=0.05, metavar="X",
                   help="drop in solve rate tolerated (default 0.05)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed recorded with the verdict (default 0)")
    p.add_argument("--json", action="store_true", help="print the table and regressions as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("merge", help="join the JSON artifacts of shards 1..N (--modelbench-shard K/N) into one run",
                       description="Join the JSON artifacts of all shards of a run (pytest --modelbench-shard K/N) "
                                   "into one artifact with a new run id, and insert that run into the store. The "
                                   "shards must share rubric, models and sample; every item must appear once.")
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="the shards' JSON artifacts")
    p.add_argument("-o", "--output", required=True, metavar="OUT.json", help="where to write the merged artifact")
    p.add_argument("--name", metavar="NAME", help="name of the merged run (default: the shards' name)")
    add_store_option(p, f"insert the merged run into this store (default {DEFAULT_STORE}; created when missing)")
    p.add_argument("--no-store", action="store_true", help="only write the artifact")
    p.set_defaults(func=cmd_merge)


# -- list and compare -------------------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    """The store's runs, newest first."""
    import json
    from datetime import UTC, datetime

    from tabulate import tabulate

    store = open_store(args.store)
    try:
        runs = store.runs(args.limit)
    finally:
        store.close()
    rows = [{"id": r["id"], "name": r["name"], "status": r["status"], "rubric_version": r["rubric_version"],
             "created": datetime.fromtimestamp(r["created_ts"], UTC).isoformat(timespec="seconds"),
             "models": json.loads(r["candidate_models_json"]),
             "sessions": len(json.loads(r["source_session_ids_json"])),
             "total_cost_usd": r["total_cost_usd"]} for r in runs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(tabulate([[r["id"], r["name"] or "—", r["status"], r["rubric_version"], r["created"], ", ".join(r["models"]),
                     r["sessions"]] for r in rows],
                   headers=["run", "name", "status", "rubric", "created", "models", "sessions"], tablefmt="github"))
    print(f"{len(rows)} run(s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """The paired table of run B against run A; exit status 1 when B regresses."""
    import json

    from tabulate import tabulate

    from pytest_modelbench.analysis.gate import GateError, baseline_outcomes, resolve_baseline
    from pytest_modelbench.analysis.regression import paired_rows, regressions_of

    store = open_store(args.store)
    try:
        sides = []
        for spec in (args.a, args.b):
            try:
                run = resolve_baseline(store, spec, -1, Path.cwd()) if spec != "latest" else None
            except GateError as exc:
                raise UserError(str(exc).replace("--modelbench-baseline ", "")) from None
            if run is None:
                raise UserError(f"{spec}: compare needs a run id, a run name or an artifact path")
            sides.append((run, baseline_outcomes(store, run)))
    finally:
        store.close()
    (a, a_out), (b, b_out) = sides
    rows = paired_rows(a_out, b_out, seed=args.seed)
    found = regressions_of(rows, args.tolerance, args.seed, solve_tolerance=args.solve_tolerance)
    if args.json:
        print(json.dumps({"a": a.run_id, "b": b.run_id, "rows": [r.__dict__ for r in rows],
                          "regressions": [r.to_dict() for r in found]}, indent=2))
        return 1 if found else 0
    if a.rubric_version != b.rubric_version:
        print(f"warning: rubric version {a.rubric_version} vs {b.rubric_version}: scores may not be comparable")

    def f(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    print(f"A = {a.label}; B = {b.label}")
    print(tabulate([[r.model, r.pairs, f(r.baseline), f(r.current), "—" if r.delta is None else f"{r.delta:+.3f}",
                     "—" if r.ci is None else f"[{r.ci[0]:+.3f}, {r.ci[1]:+.3f}]",
                     f(r.baseline_solve_rate), f(r.current_solve_rate), f"{r.losses}/{r.gains}", f"{r.p:.4g}"]
                    for r in rows],
                   headers=["model", "pairs", "combined A", "combined B", "delta", "95% CI", "solved A", "solved B",
                            "lost/gained", "McNemar p"], tablefmt="github"))
    for r in found:
        print(f"regression: {r.describe()}")
    if not found:
        print("no regression")
    return 1 if found else 0


# -- merge -----------------------------------------------------------------------------------------------------------

def cmd_merge(args: argparse.Namespace) -> int:
    """Join shard artifacts into one run: write its artifact and (unless ``--no-store``) insert it into the store."""
    from tabulate import tabulate

    from pytest_modelbench.analysis.leaderboard import model_rows
    from pytest_modelbench.records import Outcome
    from pytest_modelbench.report.runs import read_artifact_file
    from pytest_modelbench.report.terminal import leaderboard_table
    from pytest_modelbench.sampling.shards import merge_artifacts, total_cost
    from pytest_modelbench.store.artifact import new_run_id, write_artifact

    # An unreadable artifact (RunNotFound) and shards that do not belong together (MergeError) are UserErrors.
    shards = [(spec, read_artifact_file(Path(spec), spec)) for spec in args.artifacts]
    run_id = new_run_id()
    merged = merge_artifacts(shards, run_id, args.name)
    out = Path(args.output)
    try:
        write_artifact(merged, out)
    except OSError as exc:
        raise UserError(f"-o {args.output}: cannot write ({exc.strerror or exc})") from None
    records = [Outcome.from_dict(o) for o in merged["outcomes"]]
    if not args.no_store:
        from pytest_modelbench.store.sqlite import Store

        run = merged["run"]
        keys = [s["key"] for s in merged["sessions"]]
        store = Store(Path(args.store))
        try:
            store.create_run(run_id, run["name"], run["config"]["rubric"]["version"], run["config"]["models"], keys,
                             run["config"])
            for outcome in records:
                store.write_outcome(run_id, outcome)
            store.finish_run(run_id, "complete", total_cost(records), keys)
        finally:
            store.close()
    headers, body = leaderboard_table(model_rows(records, merged["run"]["config"]["models"]))
    print(tabulate(body, headers=headers, tablefmt="github"))
    print(f"merged {len(shards)} shard(s) into run {run_id}: {len(records)} outcome(s), "
          f"{len(merged['sessions'])} session(s)")
    for warning in merged["warnings"]:
        print(f"warning: {warning}")
    print(f"artifact: {out}")
    if not args.no_store:
        print(f"store: {args.store}")
    return 0


__all__ = ["cmd_compare", "cmd_list", "cmd_merge", "register"]

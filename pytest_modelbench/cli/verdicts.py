"""``modelbench recommend``, ``modelbench trend`` and ``modelbench show``: verdicts read back from the store.

Every number comes from the same functions the pytest run uses (analysis/leaderboard.py, analysis/recommend.py,
analysis/regression.py, gate.py), so the CLI, the terminal summary and the artifact agree.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pytest_modelbench.cli.common import add_store_option, load_run, open_store
from pytest_modelbench.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``recommend``, ``trend`` and ``show``."""
    from pytest_modelbench.records import INTENTS

    p = sub.add_parser("recommend", help="which model to use per intent (or for one task), from the store's history")
    p.add_argument("--task-pattern", metavar="P",
                   help=f"an intent ({', '.join(INTENTS)}) or a task description (classified by the intent rules)")
    p.add_argument("--intent", metavar="I", choices=INTENTS, help="the intent to answer for (overrides the pattern)")
    p.add_argument("--json", action="store_true", help="print JSON (what recommend_model_for_task returns)")
    add_store_option(p)
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("trend", help="slope of each model's combined score over the last runs; exit 1 on a fall")
    p.add_argument("--model", action="append", metavar="M", help="only this model (repeatable)")
    p.add_argument("--window", type=int, default=10, metavar="N", help="runs in each slope (default 10)")
    p.add_argument("--threshold", type=float, default=-0.5, metavar="PP",
                   help="fail below this slope, in points per run (default -0.5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_store_option(p)
    p.set_defaults(func=cmd_trend)

    p = sub.add_parser("show", help="the leaderboard of a stored run (id, name, latest, or artifact path)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--outcome", metavar="KEY",
                   help="open one replay instead: '<source>/<session>[<model>]' as pytest names the item (prompt, "
                        "the model's messages and tool calls, diff, check, rubric, tokens, cost, time)")
    add_store_option(p)
    p.set_defaults(func=cmd_show)


# -- recommend ---------------------------------------------------------------------------------------------------


def cmd_recommend(args: argparse.Namespace) -> int:
    """The recommended model per intent (or for one task) from the store's history."""
    from pytest_modelbench.analysis.recommend import answer, from_store, intent_for_task

    if args.task_pattern is not None or args.intent is not None:
        try:
            intent, how = intent_for_task(args.task_pattern, args.intent)
        except ValueError as exc:
            raise UserError(f"--{str(exc).replace('_', '-')}") from None
        intents: list[str] | None = [intent]
    else:
        intents, how = None, ""
    store = open_store(args.store)
    try:
        recs, info = from_store(store, intents=intents)
    finally:
        store.close()
    if args.json:
        if intents is not None:
            print(json.dumps(answer(recs[0], args.task_pattern, how, info), indent=2))
        else:
            print(json.dumps({"history": info, "recommendations": [r.to_dict() for r in recs]}, indent=2))
        return 0
    if not info["runs"]:
        print(f"no scored run in {args.store}: insufficient evidence for any intent")
        return 0
    print(f"from {len(info['runs'])} run(s) with rubric version {info['rubric_version']} "
          f"(each session x model x repeat counted once, from its latest run):")
    if not recs:
        print("  no scored replay yet")
    for r in recs:
        print(f"  {r.text()}")
    return 0


# -- trend -------------------------------------------------------------------------------------------------------


def cmd_trend(args: argparse.Namespace) -> int:
    """Each model's slope over the last runs; exit status 1 when one falls faster than the threshold."""
    from tabulate import tabulate

    from pytest_modelbench.analysis.gate import history_runs, trend_panel, trend_series
    from pytest_modelbench.analysis.regression import MIN_TREND_RUNS, trend, trend_rows
    from pytest_modelbench.analysis.stats import slope

    if args.window < 2:
        raise UserError(f"--window: must be >= 2, got {args.window}")
    store = open_store(args.store)
    try:
        runs = history_runs(store, None, args.window)[::-1]  # oldest first
    finally:
        store.close()
    series, warnings = trend_series([rows for _, rows in runs])
    if args.model:
        unknown = [m for m in args.model if m not in series]
        if unknown and runs:
            raise UserError(f"--model {unknown[0]}: not scored in the last {len(runs)} run(s) "
                           f"(scored: {', '.join(series) or 'none'})")
        series = {m: v for m, v in series.items() if m in args.model}
    panel, _ = trend_panel([rows for _, rows in runs])
    panel = {m: v for m, v in panel.items() if m in series}
    found = trend(panel, window=args.window, threshold=args.threshold)
    evidence = {r.model: r for r in trend_rows(panel, args.window)}
    failing = {r.model for r in found}
    models: list[dict[str, Any]] = []
    for model, values in sorted(series.items()):
        s = slope(values)
        row = evidence.get(model)
        # The plain slope of the run means is information; the verdict rests on the per-session slopes.
        models.append({"model": model, "runs": len(values), "series": values,
                       "slope_pp_per_run": None if s is None else round(100 * s, 6),
                       "session_slope_pp_per_run": row.session_slope_pp if row else None,
                       "upper_pp_per_run": row.upper_pp if row else None,
                       "sessions": row.sessions if row else 0,
                       "regression": model in failing})
    if args.json:
        print(json.dumps({"runs": [r for r, _ in runs], "window": args.window, "threshold": args.threshold,
                          "models": models, "regressions": [r.to_dict() for r in found], "warnings": warnings},
                         indent=2))
        return 1 if found else 0
    for w in warnings:
        print(f"warning: {w}")
    print(f"{len(runs)} run(s), oldest first: {', '.join(r for r, _ in runs) or 'none'}")

    def verdict(m: dict[str, Any]) -> str:
        if m["regression"]:
            return "REGRESSION"
        return "too few runs" if m["runs"] < MIN_TREND_RUNS else "ok"

    def per_session(m: dict[str, Any]) -> str:
        if m["session_slope_pp_per_run"] is None or m["upper_pp_per_run"] is None:
            return "—"
        return f"{m['session_slope_pp_per_run']:+.2f} (≤ {m['upper_pp_per_run']:+.2f}, {m['sessions']} sessions)"

    print(tabulate([[m["model"], m["runs"], f"{m['series'][0]:.3f}", f"{m['series'][-1]:.3f}",
                     "—" if m["slope_pp_per_run"] is None else f"{m['slope_pp_per_run']:+.2f}", per_session(m),
                     verdict(m)]
                    for m in models],
                   headers=["model", "runs", "first", "last", "points/run", "per session (95% upper)",
                            f"verdict (< {args.threshold})"],
                   tablefmt="github", disable_numparse=True))
    for r in found:
        print(f"regression: {r.describe()}")
    return 1 if found else 0


# -- show --------------------------------------------------------------------------------------------------------


def _load_run(spec: str, store_path: str) -> tuple[dict[str, Any], list[Any]]:
    """(run info, outcomes) of RUN as ``modelbench report|export`` find it (report/runs.py): an artifact path,
    ``latest``, a run id or a run name; a stored run without its artifact is rebuilt from the store."""
    from pytest_modelbench.records import Outcome

    try:
        doc = load_run(spec, store_path, trend_runs=0)  # an unknown run is a UserError (RunNotFound)
        run = doc.artifact["run"]
        info = {"id": run["id"], "name": run.get("name"), "status": run.get("status"),
                "rubric_version": ((run.get("config") or {}).get("rubric") or {}).get("version"),
                "models": [c["model"] for c in doc.artifact.get("candidates", [])], "source": doc.origin}
        return info, [Outcome.from_dict(o) for o in doc.artifact["outcomes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{spec}: not a readable modelbench JSON artifact ({exc})") from None


def cmd_show(args: argparse.Namespace) -> int:
    """The leaderboard, per-intent table and recommendations of a stored run."""
    from dataclasses import asdict

    from tabulate import tabulate

    from pytest_modelbench.analysis.leaderboard import intent_rows, invalid_sessions, model_rows
    from pytest_modelbench.analysis.recommend import recommend
    from pytest_modelbench.report.terminal import intent_table, leaderboard_table, recommendation_lines, repeat_lines

    if args.outcome:
        return show_outcome(args)
    info, outcomes = _load_run(args.run, args.store)
    rows = model_rows(outcomes, info["models"])
    intents = intent_rows(outcomes)
    recs = recommend(outcomes, run_id=info["id"])
    if args.json:
        print(json.dumps({"run": info, "per_model": [r.to_dict() for r in rows],
                          "per_intent": [asdict(r) for r in intents], "invalid_sessions": invalid_sessions(outcomes),
                          "recommendations": [r.to_dict() for r in recs]}, indent=2))
        return 0
    print(f"modelbench leaderboard — run {info['id']}" + (f" ({info['name']})" if info["name"] else "")
          + f"; status {info['status']}; rubric v{info['rubric_version']}")
    headers, body = leaderboard_table(rows)
    print(tabulate(body, headers=headers, tablefmt="github"))
    if intents:
        print("\nper intent:")
        headers, body = intent_table(intents)
        print(tabulate(body, headers=headers, tablefmt="github"))
    if recs:
        print(f"\nrecommendation per intent (floor: {recs[0].floor} scored replays per model):")
        print("\n".join(recommendation_lines(recs)))
    repeats = repeat_lines(rows)
    if repeats:
        print("\n" + "\n".join(repeats))
    return 0


def show_outcome(args: argparse.Namespace) -> int:
    """``modelbench show RUN --outcome KEY``: one replay, as the HTML report's opened outcome shows it."""
    from pytest_modelbench.models.redact import redact_obj
    from pytest_modelbench.report.outcome import find_outcome, outcome_key, outcome_text

    doc = load_run(args.run, args.store)
    outcomes = doc.artifact.get("outcomes") or []
    found = find_outcome(outcomes, args.outcome)
    if found is None:
        keys = sorted(outcome_key(o) for o in outcomes)
        near = [k for k in keys if args.outcome.split("[")[0] in k][:10] or keys[:10]
        raise UserError(f"--outcome {args.outcome}: no such outcome in run {doc.artifact['run']['id']} "
                        f"(keys look like {', '.join(near)}{' ...' if len(keys) > len(near) else ''})")
    found = redact_obj(found)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print(outcome_text(found))
    return 0


__all__ = ["cmd_recommend", "cmd_show", "cmd_trend", "register", "show_outcome"]

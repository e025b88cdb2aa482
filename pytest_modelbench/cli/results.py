"""``modelbench report RUN -o FILE`` (the HTML report) and ``modelbench export RUN --format csv|json|md``.

RUN is ``latest`` (the newest run of the store), a run id, a run name (its newest complete run) or the path of a
JSON artifact. A run of the store is read from its artifact next to the store when there is one, else rebuilt from
the store. Numbers come from the artifact's aggregates (``analysis/leaderboard.py``), never recomputed here.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from pytest_modelbench.cli.common import add_store_option, emit, load_run

FORMATS = ("csv", "json", "md")
RUN_HELP = "latest, a run id, a run name, or the path of a JSON artifact"

# The outcome fields of the CSV, in order; then one column per rubric component ("component:<name>").
CSV_FIELDS = ("run_id", "session", "source", "session_id", "model", "repeat_index", "intent", "status", "solved",
              "static_score", "llm_score", "combined_score", "cost_usd", "duration_seconds", "num_turns",
              "skip_reason", "fork_session_id")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the HTML report of a stored run (one self-contained file)",
                       description="Write the HTML report of a run: leaderboard, heatmap, cost vs quality with the "
                                   "Pareto frontier, trend, recommendations, sessions. Nothing in it is fetched.")
    p.add_argument("run", metavar="RUN", help=RUN_HELP)
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write the HTML ('-': stdout)")
    add_store_option(p)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("export", help="a stored run as CSV (one row per outcome), JSON (the artifact) or markdown",
                       description="Export a run: csv has a header and one row per outcome; json is the artifact; "
                                   "md is the leaderboard and the regressions.")
    p.add_argument("run", metavar="RUN", help=RUN_HELP)
    p.add_argument("--format", choices=FORMATS, required=True, help="csv, json or md")
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write to FILE instead of stdout")
    add_store_option(p)
    p.set_defaults(func=cmd_export)


def _shared(doc: Any) -> Any:
    """Reports and exports are made to be shared: redacted here, whatever wrote the artifact or the store."""
    import dataclasses

    from pytest_modelbench.models.redact import redact_obj

    return dataclasses.replace(doc, artifact=redact_obj(doc.artifact))


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of RUN."""
    from pytest_modelbench import __version__
    from pytest_modelbench.report.html import render_html

    doc = _shared(load_run(args.run, args.store))
    text = render_html(doc.artifact, doc.history, generator=f"pytest-modelbench {__version__}")
    emit(text, args.output, f"the HTML report of run {doc.artifact['run']['id']} (from {doc.origin})")
    return 0


def outcomes_csv(artifact: Mapping[str, Any]) -> str:
    """A header and one row per outcome; components as ``component:<name>`` columns (empty: missing)."""
    import csv
    import io

    outcomes = artifact.get("outcomes") or []
    names = sorted({c["name"] for o in outcomes for c in o.get("components") or []})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_FIELDS, *(f"component:{n}" for n in names)])
    run_id = (artifact.get("run") or {}).get("id", "")
    for o in outcomes:
        values = {"run_id": run_id, "session": f"{o['source']}/{o['session_id']}", **o}
        components = {c["name"]: c.get("value") for c in o.get("components") or []}
        writer.writerow([_csv_value(values.get(f)) for f in CSV_FIELDS]
                        + [_csv_value(components.get(n)) for n in names])
    return buf.getvalue()


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format(v, ".12g")  # 0.000207, not 0.00020700000000000002
    return str(v)


def cmd_export(args: argparse.Namespace) -> int:
    """RUN as CSV (one row per outcome), JSON (the artifact) or markdown (leaderboard and regressions)."""
    import json

    doc = _shared(load_run(args.run, args.store))
    if args.format == "csv":
        text = outcomes_csv(doc.artifact)
    elif args.format == "json":
        text = json.dumps(doc.artifact, indent=2) + "\n"
    else:
        from pytest_modelbench.report.markdown import summary_markdown

        text = summary_markdown(doc.artifact)
    emit(text, args.output, f"run {doc.artifact['run']['id']} as {args.format} (from {doc.origin})")
    return 0


__all__ = ["CSV_FIELDS", "cmd_export", "cmd_report", "outcomes_csv", "register"]

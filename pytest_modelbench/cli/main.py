"""The ``modelbench`` command line: read and act on the benchmark history (``modelbench <command> --help``).

The core commands (``sessions``, ``import``, ``list``, ``compare``) live here; the others in
:mod:`pytest_modelbench.cli.groups`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_modelbench import __version__
from pytest_modelbench.errors import UserError

DEFAULT_STORE = ".modelbench/modelbench.db"


class CliError(UserError):
    """A user-caused problem: printed as one line, exit status 2."""


def _load(specs: Sequence[str], root: Path, store: Path | None = None, check_command: str | None = None):
    from pytest_modelbench.sources import SourceError, builtin_source
    from pytest_modelbench.sources.transcripts.common import TranscriptSource

    out = []
    for spec in specs:
        try:
            source = builtin_source(spec, root)
            if source is None:
                raise CliError(f"--sessions {spec}: not a known source (demo, humaneval) nor an existing path")
            if isinstance(source, TranscriptSource):
                source.configure(store=store, check_command=check_command)
            out.append((source, list(source.sessions())))
        except SourceError as exc:
            raise CliError(str(exc)) from None
    return out


def _row(source, session, entry=None) -> dict:
    """One session as ``modelbench sessions --json`` prints it."""
    if entry is None:
        o = session.original
        return {"id": session.id, "key": session.key, "source": session.source, "intent": session.intent,
                "size_band": session.size_band, "language": session.language, "model": o.model,
                "replayable": True, "reason": "", "workspace": "case", "partial": False,
                "check_command": session.check.kind, "outcome": None, "turns": o.turns, "tokens": o.tokens,
                "cost_usd": o.cost_usd, "cost_estimated": False, "started": None, "prompt": session.prompt[:200],
                "origin": session.origin}
    ok, reason = entry.replayable(source.check_command)
    return {"id": entry.session_id, "key": entry.key, "source": entry.source, "intent": entry.intent,
            "size_band": entry.size_band, "language": entry.language, "model": entry.model, "replayable": ok,
            "reason": reason, "workspace": entry.workspace_method, "partial": entry.workspace_partial,
            "check_command": source.check_command or entry.check_command, "outcome": entry.outcome,
            "turns": entry.calls, "tokens": entry.tokens.to_dict(), "cost_usd": entry.cost_usd,
            "cost_estimated": entry.cost_estimated, "started": entry.started, "prompt": entry.prompt[:200],
            "origin": entry.path}


def _check_command(value: str | None) -> str | None:
    from pytest_modelbench.sources.transcripts.common import check_command_problem

    problem = check_command_problem(value)
    if problem:
        raise CliError(f"--check-command: {problem}")
    return value.strip() if value else None


def cmd_sessions(args: argparse.Namespace) -> int:
    import json

    from tabulate import tabulate

    from pytest_modelbench.sampling.sample import stratified_sample, stratum_counts
    from pytest_modelbench.sources.transcripts.common import TranscriptSource

    rows: list[dict] = []
    check = _check_command(args.check_command)
    for source, sessions in _load(args.sessions or ["demo"], Path.cwd(), Path(args.store), check):
        if args.intent:
            sessions = [s for s in sessions if s.intent in args.intent]
        entries = {e.key: e for e in source.entries()} if isinstance(source, TranscriptSource) else {}
        if args.all:
            if entries:
                rows += [_row(source, None, e) for e in entries.values()
                         if not args.intent or e.intent in args.intent]
            else:
                rows += [_row(source, s) for s in sorted(sessions, key=lambda s: s.key)]
            continue
        size = args.sample_size if args.sample_size is not None else source.default_sample_size
        sample = stratified_sample(sessions, size, args.sample_seed)
        rows += [_row(source, s, entries.get(s.key)) for s in sample]
        if args.strata and not args.json:
            for label, n in stratum_counts(sample).items():
                print(f"{source.name}: {label}: {n}")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = []
    for r in rows:
        first = " ".join(r["prompt"].split())
        line = [r["key"], r["intent"], r["size_band"], r["check_command"] or "—",
                first[:60] + ("…" if len(first) > 60 else "")]
        if args.all:
            line.insert(3, "yes" if r["replayable"] else f"no: {r['reason']}"[:70])
        table.append(line)
    headers = ["session", "intent", "size", "check", "prompt"]
    if args.all:
        headers.insert(3, "replayable")
    print(tabulate(table, headers=headers, tablefmt="github"))
    replayable = sum(1 for r in rows if r["replayable"])
    print(f"{len(rows)} session(s)" + (f", {replayable} replayable" if args.all else ""))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import json

    from pytest_modelbench.sources.transcripts import claude_code, codex
    from pytest_modelbench.sources.transcripts.index import HistoryIndex

    paths: list[Path] = []
    for spec in args.paths:
        if spec in ("claude-code", "codex"):
            module = claude_code if spec == "claude-code" else codex
            roots = module.default_roots()
            if not roots:
                raise CliError(f"{spec}: no transcript folder found (looked in {module.ROOTS_HELP})")
            paths += roots
            continue
        path = Path(spec).expanduser()
        if not path.exists():
            raise CliError(f"{spec}: no such file or folder")
        paths.append(path)
    with HistoryIndex(Path(args.store)) as index:
        report = index.import_paths(paths, rebuild=args.rebuild)
        entries = index.sessions(under=paths)
    counts: dict[str, dict[str, int]] = {"intent": {}, "model": {}, "replayable": {}}
    for e in entries:
        ok, reason = e.replayable(_check_command(args.check_command))
        for table, value in (("intent", e.intent), ("model", e.model or "unknown"),
                             ("replayable", "yes" if ok else f"no: {reason}")):
            counts[table][value] = counts[table].get(value, 0) + 1
    broken: dict[str, dict[str, Any]] = {f.path: {"broken_lines": f.broken, "examples": f.samples}
                                         for f in report.files if f.broken}
    summary: dict[str, Any] = {
        "files": {s: report.count(s) for s in ("new", "grown", "rewritten", "unchanged", "skipped")},
        "bytes_read": report.bytes_read, "seconds": round(report.seconds, 3),
        "sessions_updated": report.sessions_updated, "sessions": len(entries),
        "by_intent": dict(sorted(counts["intent"].items())), "by_model": dict(sorted(counts["model"].items())),
        "by_replayability": dict(sorted(counts["replayable"].items())), "broken_lines": broken,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    files = summary["files"]
    print(f"read {sum(files.values())} file(s): " + ", ".join(f"{n} {s}" for s, n in files.items())
          + f"; {report.bytes_read / 1e6:.1f} MB in {report.seconds:.2f} s; "
          f"{report.sessions_updated} session(s) updated, {len(entries)} in the index under these paths")
    for broken_path, info in broken.items():
        first = info["examples"][0] if info["examples"] else None
        print(f"  {broken_path}: {info['broken_lines']} broken line(s) skipped"
              + (f" (line {first[0]}: {first[1]})" if first else ""))
    for title, key in (("intent", "by_intent"), ("model", "by_model"), ("replayable", "by_replayability")):
        print(f"by {title}:")
        for value, n in sorted(summary[key].items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:6d}  {value}")
    return 0


def _open_store(path: str):
    from pytest_modelbench.store.sqlite import Store

    if not Path(path).is_file():
        raise CliError(f"--store {path}: no such store (run pytest --modelbench first)")
    return Store(Path(path))


def cmd_list(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from tabulate import tabulate

    store = _open_store(args.store)
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

    store = _open_store(args.store)
    try:
        sides = []
        for spec in (args.a, args.b):
            try:
                run = resolve_baseline(store, spec, -1, Path.cwd()) if spec != "latest" else None
            except GateError as exc:
                raise CliError(str(exc).replace("--modelbench-baseline ", "")) from None
            if run is None:
                raise CliError(f"{spec}: compare needs a run id, a run name or an artifact path")
            sides.append((run, baseline_outcomes(store, run)))
    finally:
        store.close()
    (a, a_out), (b, b_out) = sides
    rows = paired_rows(a_out, b_out, seed=args.seed)
    found = regressions_of(rows, args.tolerance, args.seed)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelbench",
        description="Read and act on the pytest-modelbench history: modelbench COMMAND --help for each.")
    parser.add_argument("--version", action="version", version=f"pytest-modelbench {__version__}")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("sessions", help="list the sessions a run would sample (no replay, no model calls)")
    p.add_argument("--sessions", action="append", metavar="SOURCE",
                   help="demo (default), humaneval, claude-code, codex, or a path")
    p.add_argument("--sample-size", type=int, default=None, metavar="N")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S")
    p.add_argument("--intent", action="append", metavar="INTENT")
    p.add_argument("--strata", action="store_true", help="also print the stratum counts")
    p.add_argument("--all", action="store_true",
                   help="every session, replayable or not, with the reason it cannot be replayed (no sampling)")
    p.add_argument("--json", action="store_true", help="print a JSON list (id, source, intent, replayable, reason…)")
    p.add_argument("--check-command", metavar="CMD", help="the pytest command that checks transcript sessions")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.set_defaults(func=cmd_sessions)
    p = sub.add_parser("import", help="index Claude Code / Codex transcripts incrementally into the store")
    p.add_argument("paths", nargs="+", metavar="PATH", help="transcript files or folders; or claude-code, codex")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.add_argument("--rebuild", action="store_true", help="read every file again from the start")
    p.add_argument("--check-command", metavar="CMD", help="count sessions as replayable with this check command")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("list", help="list the runs in the store, newest first")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.add_argument("--limit", type=int, default=50, metavar="N")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("compare", help="paired comparison of run B against run A; exit status 1 on regression")
    p.add_argument("a", metavar="A", help="baseline: run id, run name or JSON artifact path")
    p.add_argument("b", metavar="B", help="current: run id, run name or JSON artifact path")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.add_argument("--tolerance", type=float, default=0.05, metavar="X",
                   help="drop in mean combined tolerated (default 0.05)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the table and regressions as JSON")
    p.set_defaults(func=cmd_compare)
    from pytest_modelbench.cli.groups import register_all
    register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if getattr(args, "sample_size", None) is not None and args.sample_size < 0:
        parser.error("--sample-size: must be >= 0")
    from pytest_modelbench.store.sqlite import StoreError

    try:
        return args.func(args)
    except (CliError, StoreError) as exc:
        print(f"modelbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``modelbench sessions`` and ``modelbench import``: the sessions a run would sample, and the transcript index.

Neither calls a model or replays anything. ``sessions`` samples as a run would (same sources, same seed); ``import``
reads Claude Code / Codex transcripts incrementally into the store's index.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_modelbench.cli.common import add_store_option, check_command, load_sources
from pytest_modelbench.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sessions`` and ``import``."""
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
    add_store_option(p)
    p.set_defaults(func=cmd_sessions)
    p = sub.add_parser("import", help="index Claude Code / Codex transcripts incrementally into the store")
    p.add_argument("paths", nargs="+", metavar="PATH", help="transcript files or folders; or claude-code, codex")
    add_store_option(p)
    p.add_argument("--rebuild", action="store_true", help="read every file again from the start")
    p.add_argument("--check-command", metavar="CMD", help="count sessions as replayable with this check command")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_import)


def session_row(source: Any, session: Any, entry: Any = None) -> dict[str, Any]:
    """One session as ``modelbench sessions --json`` prints it: from the index ``entry`` when there is one."""
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


def cmd_sessions(args: argparse.Namespace) -> int:
    """The sample a run would take (or ``--all`` sessions with why each can or cannot be replayed)."""
    import json

    from tabulate import tabulate

    from pytest_modelbench.sampling.sample import stratified_sample, stratum_counts
    from pytest_modelbench.sources.transcripts.source import TranscriptSource

    rows: list[dict[str, Any]] = []
    check = check_command(args.check_command)
    for source, sessions in load_sources(args.sessions or ["demo"], Path.cwd(), Path(args.store), check):
        if args.intent:
            sessions = [s for s in sessions if s.intent in args.intent]
        entries = {e.key: e for e in source.entries()} if isinstance(source, TranscriptSource) else {}
        if args.all:
            if entries:
                rows += [session_row(source, None, e) for e in entries.values()
                         if not args.intent or e.intent in args.intent]
            else:
                rows += [session_row(source, s) for s in sorted(sessions, key=lambda s: s.key)]
            continue
        size = args.sample_size if args.sample_size is not None else source.default_sample_size
        sample = stratified_sample(sessions, size, args.sample_seed)
        rows += [session_row(source, s, entries.get(s.key)) for s in sample]
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
    """Index transcripts (only what changed since the last import) and print what the index now holds."""
    import json

    from pytest_modelbench.sources.transcripts import claude_code, codex
    from pytest_modelbench.sources.transcripts.index import HistoryIndex

    check = check_command(args.check_command)
    paths: list[Path] = []
    for spec in args.paths:
        if spec in ("claude-code", "codex"):
            module = claude_code if spec == "claude-code" else codex
            roots = module.default_roots()
            if not roots:
                raise UserError(f"{spec}: no transcript folder found (looked in {module.ROOTS_HELP})")
            paths += roots
            continue
        path = Path(spec).expanduser()
        if not path.exists():
            raise UserError(f"{spec}: no such file or folder")
        paths.append(path)
    with HistoryIndex(Path(args.store)) as index:
        report = index.import_paths(paths, rebuild=args.rebuild)
        entries = index.sessions(under=paths)
    counts: dict[str, dict[str, int]] = {"intent": {}, "model": {}, "replayable": {}}
    for e in entries:
        ok, reason = e.replayable(check)
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


__all__ = ["cmd_import", "cmd_sessions", "register", "session_row"]

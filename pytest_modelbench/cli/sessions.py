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


def session_row(source: Any, session: Any, entry: Any = None, features: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """One session as ``modelbench sessions --json`` prints it: from the index ``entry`` (and its ``features``)
    when there is one. ``model_calls`` counts the original session's model calls; ``tokens`` is None when the
    transcript recorded no usage (``tokens_status`` says exact, incomplete or unknown)."""
    if entry is None:
        o = session.original
        return {"id": session.id, "key": session.key, "source": session.source, "intent": session.intent,
                "size_band": session.size_band, "language": session.language, "model": o.model,
                "replayable": True, "reason": "", "workspace": "case", "partial": False,
                "check_command": session.check.kind, "outcome": None, "model_calls": o.turns, "tokens": o.tokens,
                "tokens_status": "exact" if o.tokens is not None else "unknown",
                "cost_usd": o.cost_usd, "cost_estimated": False, "started": None, "prompt": session.prompt[:200],
                # A case file records no transcript: what the original session touched, read and ran is unknown.
                "followups": list(session.turns), "files_touched": None, "files_read": None, "tools": None,
                "origin": session.origin}
    ok, reason = entry.replayable(source.check_command)
    f = features or {}
    unknown = entry.tokens_status == "unknown"
    return {"id": entry.session_id, "key": entry.key, "source": entry.source, "intent": entry.intent,
            "intent_reason": f.get("intent_reason"),
            "size_band": entry.size_band, "language": entry.language, "model": entry.model, "replayable": ok,
            "reason": reason, "workspace": entry.workspace_method, "partial": entry.workspace_partial,
            "check_command": source.check_command or entry.check_command, "outcome": entry.outcome,
            "model_calls": entry.calls, "tokens": None if unknown else entry.tokens.to_dict(),
            "tokens_status": entry.tokens_status, "cost_usd": entry.cost_usd,
            "cost_estimated": entry.cost_estimated, "started": entry.started, "prompt": entry.prompt[:200],
            "followups": list(f.get("followups") or ()), "files_touched": list(f.get("files_touched") or ()),
            "files_read": list(f.get("files_read") or ()), "tools": dict(f.get("tools") or {}),
            "origin": entry.path}


def _cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut at a word and marked with an ellipsis when shortened."""
    text = " ".join(text.split())
    if len(text) <= width:
        return _cell(text)
    head = text[: width - 1]
    if " " in head[width // 2:]:
        head = head[: head.rindex(" ")]
    return _cell(head.rstrip(" ,;:(") + "…")


def _cell(text: str) -> str:
    """A table cell: a ``|`` inside (a piped command) would split the markdown row."""
    return text.replace("|", "\\|")


def cmd_sessions(args: argparse.Namespace) -> int:
    """The sample a run would take (or ``--all`` sessions with why each can or cannot be replayed)."""
    import json
    import sys

    from tabulate import tabulate

    from pytest_modelbench.sampling.sample import stratified_sample, stratum_counts
    from pytest_modelbench.sources.transcripts.source import TranscriptSource

    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    check = check_command(args.check_command)
    for source, sessions in load_sources(args.sessions or ["demo"], Path.cwd(), Path(args.store), check):
        if args.intent:
            sessions = [s for s in sessions if s.intent in args.intent]
        entries = {e.key: e for e in source.entries()} if isinstance(source, TranscriptSource) else {}
        features = source.features() if isinstance(source, TranscriptSource) else {}
        if isinstance(source, TranscriptSource):
            skipped += source.skipped
        if args.all:
            if entries:
                rows += [session_row(source, None, e, features.get(e.key)) for e in entries.values()
                         if not args.intent or e.intent in args.intent]
            else:
                rows += [session_row(source, s) for s in sorted(sessions, key=lambda s: s.key)]
            continue
        size = args.sample_size if args.sample_size is not None else source.default_sample_size
        sample = stratified_sample(sessions, size, args.sample_seed)
        rows += [session_row(source, s, entries.get(s.key), features.get(s.key)) for s in sample]
        if args.strata and not args.json:
            for label, n in stratum_counts(sample).items():
                print(f"{source.name}: {label}: {n}")
    if args.json:
        print(json.dumps(rows, indent=2))
        _print_skipped(skipped, sys.stderr)  # the JSON on stdout stays a list
        return 0
    table = []
    for r in rows:
        line = [r["key"], r["intent"], r["size_band"], _cut(r["check_command"] or "—", 40), _cut(r["prompt"], 61)]
        if args.all:
            line.insert(3, "yes" if r["replayable"] else _cut(f"no: {r['reason']}", 70))
        table.append(line)
    headers = ["session", "intent", "size", "check", "prompt"]
    if args.all:
        headers.insert(3, "replayable")
    print(tabulate(table, headers=headers, tablefmt="github"))
    if args.all:
        from pytest_modelbench.sources.transcripts.common import yield_lines

        print("\n".join(yield_lines([(bool(r["replayable"]), str(r["reason"] or "")) for r in rows])))
    else:
        print(f"{len(rows)} session(s)")
    _print_skipped(skipped, sys.stdout)
    return 0


def _print_skipped(skipped: list[tuple[str, str]], out: Any) -> None:
    """Every file of a transcript folder that was left out, with why (a user can move it or fix it)."""
    if skipped:
        print(f"skipped {len(skipped)} file(s) that are not transcripts:", file=out)
        for path, why in skipped:
            print(f"  {path}: {why}", file=out)


def cmd_import(args: argparse.Namespace) -> int:
    """Index transcripts (only what changed since the last import) and print what the index now holds."""
    import json
    import sys

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
    results = [e.replayable(check) for e in entries]
    for e, (ok, reason) in zip(entries, results, strict=True):
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
        "skipped": [{"path": p, "why": why} for p, why in report.skipped],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    files = summary["files"]
    print(f"read {sum(files.values())} file(s): " + ", ".join(f"{n} {s}" for s, n in files.items())
          + f"; {report.bytes_read / 1e6:.1f} MB in {report.seconds:.2f} s; "
          f"{report.sessions_updated} session(s) updated, {len(entries)} in the index under these paths")
    _print_skipped(report.skipped, sys.stdout)
    for broken_path, info in broken.items():
        first = info["examples"][0] if info["examples"] else None
        print(f"  {broken_path}: {info['broken_lines']} broken line(s) skipped"
              + (f" (line {first[0]}: {first[1]})" if first else ""))
    for title, key in (("intent", "by_intent"), ("model", "by_model"), ("replayable", "by_replayability")):
        print(f"by {title}:")
        for value, n in sorted(summary[key].items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:6d}  {value}")
    from pytest_modelbench.sources.transcripts.common import yield_lines

    for line in yield_lines(results):
        print(line)
    return 0


__all__ = ["cmd_import", "cmd_sessions", "register", "session_row"]

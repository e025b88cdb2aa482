"""The ``modelbench`` command line. This version offers ``--version`` and ``sessions``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


class CliError(Exception):
    """A user-caused problem: printed as one line, exit status 2."""


def _load(specs: Sequence[str], root: Path):
    from .sources import SourceError, builtin_source

    out = []
    for spec in specs:
        try:
            source = builtin_source(spec, root)
            if source is None:
                raise CliError(f"--sessions {spec}: not a known source (demo, humaneval) nor an existing path")
            out.append((source, list(source.sessions())))
        except SourceError as exc:
            raise CliError(str(exc)) from None
    return out


def cmd_sessions(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from .sampling import stratified_sample, stratum_counts

    rows = []
    for source, sessions in _load(args.sessions or ["demo"], Path.cwd()):
        if args.intent:
            sessions = [s for s in sessions if s.intent in args.intent]
        size = args.sample_size if args.sample_size is not None else source.default_sample_size
        sample = stratified_sample(sessions, size, args.sample_seed)
        for s in sample:
            first = " ".join(s.prompt.split())
            rows.append([s.key, s.intent, s.size_band, s.check.kind, first[:70] + ("…" if len(first) > 70 else "")])
        if args.strata:
            for label, n in stratum_counts(sample).items():
                print(f"{source.name}: {label}: {n}")
    print(tabulate(rows, headers=["session", "intent", "size", "check", "prompt"], tablefmt="github"))
    print(f"{len(rows)} session(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pytest-modelbench {__version__}")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("sessions", help="list the sessions a run would sample (no replay, no model calls)")
    p.add_argument("--sessions", action="append", metavar="SOURCE", help="demo (default), humaneval, or a path")
    p.add_argument("--sample-size", type=int, default=None, metavar="N")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S")
    p.add_argument("--intent", action="append", metavar="INTENT")
    p.add_argument("--strata", action="store_true", help="also print the stratum counts")
    p.set_defaults(func=cmd_sessions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if getattr(args, "sample_size", None) is not None and args.sample_size < 0:
        parser.error("--sample-size: must be >= 0")
    try:
        return args.func(args)
    except CliError as exc:
        print(f"modelbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

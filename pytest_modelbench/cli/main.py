"""The ``modelbench`` command line: read and act on the benchmark history (``modelbench <command> --help``).

This module only builds the parser and dispatches. Each command group lives in its own module with a
``register(sub)`` that adds its subcommands (heavy imports inside the command functions, so ``--help`` stays
fast); the helpers they share live in :mod:`pytest_modelbench.cli.common`.

Errors are converted here, in one place: a :class:`~pytest_modelbench.errors.UserError` raised anywhere under a
command becomes ``modelbench: error: <message>`` on stderr and exit status 2. Any other exception is a fault of the
harness and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_modelbench import __version__
from pytest_modelbench.cli import launch, results, runs, serve, sessions, verdicts
from pytest_modelbench.errors import UserError

# In the order ``modelbench --help`` lists them: what a run reads, the runs, verdicts, reports, starting runs, the API.
GROUPS = (sessions, runs, verdicts, results, launch, serve)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, each with ``func`` set to the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="modelbench",
        description="Read and act on the pytest-modelbench history: modelbench COMMAND --help for each.")
    parser.add_argument("--version", action="version", version=f"pytest-modelbench {__version__}")
    sub = parser.add_subparsers(dest="command")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (2 for a problem the user can fix, printed as one line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if getattr(args, "sample_size", None) is not None and args.sample_size < 0:
        parser.error("--sample-size: must be >= 0")
    if getattr(args, "find_store", False) and args.store is None:
        from pytest_modelbench.cli.common import find_store
        from pytest_modelbench.store import DEFAULT_STORE

        # A command that needs an existing store says where it looked (common.store_missing); others create it here.
        found = find_store(Path.cwd()).found
        args.store = str(found or Path.cwd() / DEFAULT_STORE)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

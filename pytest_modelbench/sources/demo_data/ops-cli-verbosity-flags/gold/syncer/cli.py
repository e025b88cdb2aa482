"""Command line entry point: ``syncer [-v | -q] SRC DST``."""
from __future__ import annotations

import argparse
from pathlib import Path

from syncer import __version__
from syncer.core import sync
from syncer.logging_setup import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncer", description="one-way directory sync")
    parser.add_argument("--version", action="version", version=f"syncer {__version__}")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="count", default=0, help="more output (repeatable)")
    noise.add_argument("-q", "--quiet", action="count", default=0, help="only report errors")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose - args.quiet)
    print(f"{sync(args.src, args.dst)} file(s) copied")
    return 0

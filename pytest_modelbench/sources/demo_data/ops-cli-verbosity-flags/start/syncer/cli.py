"""Command line entry point: ``syncer SRC DST``."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from syncer.core import sync


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="syncer", description="one-way directory sync")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    print(f"{sync(args.src, args.dst)} file(s) copied")
    return 0

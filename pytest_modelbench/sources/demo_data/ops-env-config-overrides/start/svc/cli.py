"""``svc-config`` command: print the effective configuration as JSON."""
from __future__ import annotations

import argparse
import json

from svc.config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="svc-config")
    parser.add_argument("--config", help="path to a JSON config file")
    args = parser.parse_args(argv)
    print(json.dumps(load_config(args.config), sort_keys=True))
    return 0

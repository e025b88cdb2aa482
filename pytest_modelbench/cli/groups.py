"""Subcommands of ``modelbench`` beyond the core ones in ``cli/main.py``, one module per area.

Each module listed in :data:`MODULES` exposes ``register(sub)``, which adds its subparsers to the
``argparse`` sub-parser action and sets ``func`` on each. Modules import heavy things inside their command
functions only, so ``modelbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib

MODULES = ("verdicts", "results", "serve")


def register_all(sub: argparse._SubParsersAction) -> None:
    for name in MODULES:
        module = importlib.import_module(f"pytest_modelbench.cli.{name}")
        module.register(sub)

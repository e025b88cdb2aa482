"""Logging configuration for the command line tool."""
from __future__ import annotations

import logging

LOGGER_NAME = "syncer"


def level_for(verbosity: int) -> int:
    """Map ``-q``/``-v`` counts (quiet is negative) to a logging level."""
    if verbosity < 0:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)


def configure_logging(verbosity: int) -> int:
    """Set the ``syncer`` logger's level from *verbosity* and return it.

    A stderr handler is installed on the root logger if none is configured yet.
    """
    level = level_for(verbosity)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger(LOGGER_NAME).setLevel(level)
    return level

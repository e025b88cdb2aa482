"""Renderers over the shared aggregates: terminal, HTML and markdown."""

from __future__ import annotations

CAVEAT = (
    "Caveat: a replay is not the original session. Candidates get the same prompts and starting files, not the same "
    "hidden context, tools or human. Results are evidence about replays."
)

__all__ = ["CAVEAT"]

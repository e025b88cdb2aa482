"""Renderers over the shared aggregates: terminal (and later HTML and markdown)."""

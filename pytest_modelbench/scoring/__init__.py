"""Scoring: one module per rubric component, the rubric loader, and the combination rule (product.md §7)."""

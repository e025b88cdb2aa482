"""Small text utilities."""
from textkit.case import snake_case
from textkit.slug import slugify

__all__ = ["slugify", "snake_case"]

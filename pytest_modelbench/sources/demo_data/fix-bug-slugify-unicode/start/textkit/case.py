"""Identifier case conversion."""
import re

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(name: str) -> str:
    """Convert ``CamelCase`` or ``kebab-case`` identifiers to ``snake_case``."""
    name = _BOUNDARY.sub("_", name)
    return name.replace("-", "_").replace(" ", "_").lower()

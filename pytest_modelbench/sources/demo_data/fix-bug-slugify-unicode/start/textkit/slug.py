"""URL slug generation."""
import re

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, sep: str = "-") -> str:
    """Return a URL-safe slug for *text*."""
    text = text.lower()
    return _NON_WORD.sub(sep, text)

"""URL slug generation."""
import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, sep: str = "-") -> str:
    """Return a URL-safe slug for *text*.

    Accented characters are transliterated to their closest ASCII
    equivalent (``"Crème" -> "creme"``), every run of other characters
    collapses into a single *sep*, and leading/trailing separators are
    stripped.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return _NON_WORD.sub(sep, ascii_text).strip(sep)

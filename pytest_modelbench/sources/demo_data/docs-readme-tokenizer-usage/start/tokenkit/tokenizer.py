"""Split text into word tokens."""
from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Return the word tokens of *text*, optionally lowercased.

    Punctuation is dropped; apostrophes inside words are kept (``don't``).
    """
    tokens = _WORD.findall(text)
    return [t.lower() for t in tokens] if lowercase else tokens


def count_tokens(text: str, lowercase: bool = True) -> dict[str, int]:
    """Count tokens, in order of first appearance."""
    counts: dict[str, int] = {}
    for token in tokenize(text, lowercase):
        counts[token] = counts.get(token, 0) + 1
    return counts

"""What a secret looks like: the tests of a value (entropy, mixed case, code or literal) and the table of key
shapes (prefix, length, alphabet) that :mod:`pytest_modelbench.models.redact` finds secrets with.

The table was written after studying gitleaks' and detect-secrets' rule sets; each entry's anchors are literal bytes
found with one ``bytes.find`` each. Pure module (no pytest), a leaf.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

# -- value tests ------------------------------------------------------------------------------------------------

_CODE_CHARS = frozenset("()[]{}<>$`\\ \t\r\n\"',;|")  # in a bare value: code, not a literal
_QUOTED_BAD = frozenset("`\\ \t\r\n\"'")  # in a string literal, only blanks and quotes end the value
_TEMPLATE = re.compile(r"\{[^{}]*\}|^\$[A-Za-z_]|%[sd(]")  # f"{token}", "$TOKEN", "%s"
IDENT_CHAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::|->)[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBERISH = re.compile(r"[0-9.:+\-_/ ]+[A-Za-z]{0,3}")  # 4096, 1.2.3, 2024-01-02, 10ms, 3.5e
# Placeholder words: a value holding one is documentation, not a secret.
_PLACEHOLDERS = ("redacted", "example", "xxxx", "****", "your_", "your-", "yourkey", "changeme", "change_me",
                 "placeholder", "dummy", "<", "${", "{{", "%(", "...", "\u2026", "_here", "-here", "insert", "replace")
SHAPE_PLACEHOLDERS = ("xxxxx", "*****", "your", "<", "${", "{{", "redacted")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def mixed(value: str) -> bool:
    """A digit and a letter, or upper and lower case: what a random key has and a word does not."""
    digit = any(c.isdigit() for c in value)
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    return (digit and (lower or upper)) or (lower and upper)


def _has_digit_and_letter(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def secret_value(value: str, *, quoted: bool, spaced: bool, conn: bool = False) -> bool:
    """Whether a value assigned to a secret-named setting is itself secret-looking.

    ``quoted``: it was a string literal; ``spaced``: ``name = value`` with blanks around ``=`` (code, where a bare
    word is a variable); ``conn``: one ``Key=Value`` of a ``;``-separated connection string.
    """
    if not 3 <= len(value) <= 1000 or any(c in (_QUOTED_BAD if quoted else _CODE_CHARS) for c in value):
        return False
    if quoted and _TEMPLATE.search(value):
        return False
    low = value.lower()
    if any(p in low for p in _PLACEHOLDERS) or "://" in value or low in ("true", "false", "null", "none"):
        return False
    if conn:
        return not (spaced or (not quoted and IDENT_CHAIN.fullmatch(value) and not any(c.isdigit() for c in value)))
    if len(value) < 8 or value[0] in "./~#@%&-" or _NUMBERISH.fullmatch(value):
        return False
    if IDENT_CHAIN.fullmatch(value):
        # A word: in code it names a variable (thread_key = tool_use_id, token: csrfToken); quoted, it is a string
        # such as 'todos'. Secret only with digits mixed in (abcd1234, hunter2hunter2), never as `x = name`.
        if spaced and not quoted:
            return False
        digits = sum(c.isdigit() for c in value)
        return (digits >= (1 if quoted else 2) and sum(c.isalpha() for c in value) >= 2) or _random_case(value)
    return mixed(value) and entropy(value) >= 2.5


def _random_case(value: str) -> bool:
    """Long, high-entropy and changing case at random (a generated token), unlike camelCase words."""
    if len(value) < 16 or entropy(value) < 3.5:
        return False
    flips = sum(1 for a, b in zip(value, value[1:], strict=False) if a.isupper() != b.isupper())
    return flips >= len(value) / 4


# -- the table of shapes ----------------------------------------------------------------------------------------
# Everything below works on the UTF-8 bytes of the text: every shape is ASCII, bytes.find is several times faster
# than str.find on text holding an emoji (4 bytes a character), and bytes.lower() keeps every offset.


@dataclass(frozen=True)
class Shape:
    """One key shape: the literal anchors it is found by (one bytes.find each: far faster than one regex with
    alternatives), how far before the anchor the key starts, the pattern matched there, and a test of the match."""

    kind: str
    anchors: tuple[bytes, ...]
    pattern: re.Pattern[bytes]
    check: Callable[[str], bool] | None = None
    back: int = 0
    word_start: bool = True


def _tail_mixed(prefix_len: int) -> Callable[[str], bool]:
    return lambda s: mixed(s[prefix_len:])


SHAPES: tuple[Shape, ...] = (
    Shape("private-key", (b"-----BEGIN",), re.compile(
        rb"-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        rb"(?:\s|\\[nrt]|(?:Proc-Type|DEK-Info|Comment|Version):[^\n\\\"']*)*[A-Za-z0-9+/=]{16,}"
        rb"(?:[A-Za-z0-9+/=\s]|\\[nrt])*(?:-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----)?")),
    Shape("anthropic", (b"sk-ant-",), re.compile(rb"sk-ant-[A-Za-z0-9_\-]{20,}"), _tail_mixed(7)),
    Shape("openai", (b"sk-",), re.compile(rb"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
          _tail_mixed(3)),
    Shape("stripe", (b"k_live_", b"k_test_"), re.compile(rb"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), _tail_mixed(8),
          back=1),
    Shape("stripe", (b"whsec_",), re.compile(rb"whsec_[A-Za-z0-9+/=]{24,}"), _tail_mixed(6)),
    Shape("github", (b"gh", b"github_pat_"), re.compile(rb"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"),
          lambda s: mixed(s[4:])),
    Shape("gitlab", (b"gl",), re.compile(rb"gl(?:pat|dt|rt|ptt|cbt|oas|soat)-[A-Za-z0-9_\-]{20,}"),
          lambda s: mixed(s.split("-", 1)[1])),
    Shape("npm", (b"npm_",), re.compile(rb"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])"), _tail_mixed(4)),
    Shape("sendgrid", (b"SG.",), re.compile(rb"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"), _tail_mixed(3)),
    Shape("pypi", (b"pypi-AgE",), re.compile(rb"pypi-AgE[A-Za-z0-9_\-]{40,}")),
    Shape("slack", (b"xox",), re.compile(rb"xox[abposre][.-](?:xox[bp]-)?[A-Za-z0-9\-]{10,}"),
          _has_digit_and_letter),
    Shape("slack", (b"xapp-",), re.compile(rb"xapp-\d-[A-Za-z0-9\-]{10,}")),
    Shape("slack", (b"hooks.slack.com/",), re.compile(
        rb"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,}"), word_start=False),
    Shape("aws", (b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
          re.compile(rb"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])")),
    Shape("google", (b"AIza",), re.compile(rb"AIza[0-9A-Za-z_\-]{35}")),
    Shape("huggingface", (b"hf_",), re.compile(rb"hf_[A-Za-z0-9]{30,}"), _tail_mixed(3)),
    Shape("jwt", (b"eyJ",), re.compile(rb"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
)

"""Redaction of secrets from text: API keys, tokens, private keys and ``*_KEY=`` / ``*_TOKEN=`` / ``*_SECRET=``
assignments. Applied to everything sent to a cloud model and to every stored transcript and artifact. Pure module.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Known key shapes, each found by its literal prefix first (str.find is far faster than one big regex):
# OpenAI/Anthropic (sk-...), GitHub, Slack, AWS access key ids, Google API keys, Hugging Face, JWTs, PEM keys.
_GITHUB = re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}")
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("-----BEGIN", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S)),
    ("sk-", re.compile(r"sk-[A-Za-z0-9_\-]{16,}")),
    ("ghp_", _GITHUB), ("gho_", _GITHUB), ("ghu_", _GITHUB), ("ghs_", _GITHUB), ("ghr_", _GITHUB),
    ("github_pat_", re.compile(r"github_pat_[A-Za-z0-9_]{20,}")),
    ("xox", re.compile(r"xox[abprs]-[A-Za-z0-9\-]{10,}")),
    ("AKIA", re.compile(r"AKIA[0-9A-Z]{16}(?![A-Za-z0-9_])")),
    ("AIza", re.compile(r"AIza[0-9A-Za-z_\-]{30,}")),
    ("hf_", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("eyJ", re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
)
# NAME_KEY=value, export API_TOKEN="value", "client_secret": "value", password: value: the name stays, the value goes.
_SECRET_NAMES = ("_key", "apikey", "_token", "secret", "password", "passwd")
_ASSIGNED_VALUE = re.compile(r"""["']?\s*[:=]\s*["']?([^\s"'`,;]{4,})""")
_BEARER_VALUE = re.compile(r"\s+([A-Za-z0-9._~+/=\-]{8,})")


def _word_start(text: str, i: int) -> bool:
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")


def redact(text: str) -> str:
    """Replace secret-looking spans with ``[REDACTED]``.

    Covers provider key shapes (``sk-…``, ``ghp_…``, ``github_pat_…``, ``AKIA…``, ``AIza…``, ``hf_…``,
    ``xox?-…``, JWTs, PEM private keys), ``Bearer`` tokens and assignments whose name ends in ``_KEY``, ``_TOKEN``,
    ``SECRET``, ``PASSWORD`` (``OPENAI_API_KEY=…``, ``"client_secret": "…"``, ``password: …``): the name is kept,
    the value goes. Everything an importer stores (prompts, commands, file contents) passes through here first.
    """
    if not text:
        return text
    spans: list[tuple[int, int]] = []
    for literal, pattern in _SHAPES:
        i = text.find(literal)
        while i >= 0:
            m = pattern.match(text, i) if _word_start(text, i) else None
            if m:
                spans.append(m.span())
            i = text.find(literal, m.end() if m else i + 1)
    lowered = text.lower()
    if len(lowered) == len(text):  # lower() keeps offsets (true unless rare Unicode expands)
        for name in _SECRET_NAMES:
            i = lowered.find(name)
            while i >= 0:
                m = _ASSIGNED_VALUE.match(text, i + len(name))
                if m and m.group(1) != REDACTED:
                    spans.append(m.span(1))
                i = lowered.find(name, i + 1)
        i = lowered.find("bearer")
        while i >= 0:
            m = _BEARER_VALUE.match(text, i + 6)
            if m and _word_start(text, i):
                spans.append(m.span(1))
            i = lowered.find("bearer", i + 1)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if end <= last:
            continue
        start = max(start, last)
        if start > last or not out:
            out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dict keys are kept)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_obj(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_obj(v) for v in value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    return value

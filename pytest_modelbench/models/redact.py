"""Redaction of secrets from text: API keys, tokens, private keys and ``*_KEY=`` / ``*_TOKEN=`` / ``*_SECRET=``
assignments. Applied to everything sent to a cloud model and to every stored transcript and artifact. Pure module.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private keys, whole block.
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S),
    # Provider key shapes: OpenAI/Anthropic (sk-...), GitHub (ghp_, gho_, ghs_, github_pat_), Slack (xox?-),
    # AWS access key ids, Google API keys, Hugging Face tokens, JWTs.
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
)
# NAME_KEY=value, NAME_TOKEN: value, "api_secret": "value", Authorization: Bearer value ...
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (\b[A-Z0-9_]*(?:_KEY|_TOKEN|_SECRET|_PASSWORD|API_KEY|APIKEY|SECRET_KEY|ACCESS_TOKEN)\b["']?\s*[:=]\s*["']?)
    ([^\s"'`,;]{4,})
    """
)
_BEARER = re.compile(r"(?i)(\bauthorization\s*[:=]\s*[\"']?(?:bearer|token|basic)\s+)([A-Za-z0-9._~+/=\-]{8,})")


def redact(text: str) -> str:
    """Replace every secret-looking span with ``[REDACTED]``."""
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


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

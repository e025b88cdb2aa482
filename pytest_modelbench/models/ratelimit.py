"""Rate limits: how long a provider asks us to wait, and one shared "not before" time per provider.

Pure (no litellm, no pytest). The door (in the broker, one per run) holds one :class:`ProviderGate`, so a 429 seen by
any worker's call makes every caller of that provider wait together instead of each one hammering it.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

# Longest wait taken from a header: a provider that asks for an hour is treated as asking for the retry budget.
MAX_HEADER_WAIT = 3600.0
# The headers that say when to come back, most specific first. litellm exposes the provider's headers on its
# exceptions, sometimes prefixed with ``llm_provider-``.
_RESET_HEADERS = (
    "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "x-ratelimit-reset",
    "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset",
)
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key in (name, f"llm_provider-{name}"):
        value = headers.get(key)
        if value is None:
            # Plain dicts are case-sensitive; httpx.Headers is not.
            value = next((v for k, v in headers.items() if k.lower() == key), None)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def parse_duration(value: str, now: float | None = None) -> float | None:
    """Seconds from a header value: ``12``, ``1.5``, ``6m0s``, ``250ms``, ``1h2m3s``, an HTTP date or an RFC 3339
    time (relative to ``now``, wall clock). None when the value says nothing usable."""
    value = value.strip()
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    m = _DURATION.fullmatch(value)
    if m and any(m.groups()):
        h, mins, s, ms = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mins * 60 + s + ms / 1000
    wall = time.time() if now is None else now
    when: float | None = None
    try:
        when = parsedate_to_datetime(value).timestamp()  # HTTP date (RFC 9110): Retry-After's other form
    except (TypeError, ValueError, IndexError):
        from datetime import datetime

        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()  # Anthropic's reset headers
        except ValueError:
            return None
    return max(0.0, when - wall)


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> tuple[float, str] | None:
    """How long the provider asked us to wait, and which header said so; None when no header says it."""
    if not headers:
        return None
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            return min(max(0.0, float(ms) / 1000), MAX_HEADER_WAIT), "retry-after-ms"
        except ValueError:
            pass
    for name in ("retry-after", *_RESET_HEADERS):
        raw = _header(headers, name)
        if raw is None:
            continue
        seconds = parse_duration(raw, now)
        if seconds is not None:
            return min(seconds, MAX_HEADER_WAIT), name
    return None


def backoff(attempt: int, base: float, cap: float, jitter: float = 0.0) -> float:
    """Exponential backoff for ``attempt`` (1-based), capped; ``jitter`` in [0, 1) adds up to a quarter more."""
    return min(cap, base * (2 ** (attempt - 1))) * (1 + 0.25 * jitter)


class ProviderGate:
    """One "not before" time per provider key, shared by every caller of the door (thread-safe).

    :meth:`hold` pushes the time later (never earlier); :meth:`wait` blocks until it has passed, re-reading it after
    each wake-up, since another caller's 429 may push it later while we wait.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._not_before: dict[str, float] = {}
        self.holds = 0
        self.cancelled = False

    def cancel(self) -> None:
        """Wake every waiter for good (the run was interrupted): :meth:`wait` returns None from now on."""
        with self._changed:
            self.cancelled = True
            self._changed.notify_all()

    def hold(self, key: str, seconds: float) -> float:
        """Nobody calls ``key`` for ``seconds`` from now (or longer, if already held longer); the new time."""
        with self._changed:
            until = max(self._not_before.get(key, 0.0), self._clock() + max(0.0, seconds))
            self._not_before[key] = until
            self.holds += 1
            self._changed.notify_all()
            return until

    def remaining(self, key: str) -> float:
        with self._changed:
            return max(0.0, self._not_before.get(key, 0.0) - self._clock())

    def wait(self, key: str, deadline: float) -> float | None:
        """Sleep until ``key`` may be called; the seconds waited, or None when that would pass ``deadline`` (in
        the gate's clock) -- the caller then gives up instead of sleeping past its budget."""
        started = self._clock()
        with self._changed:
            while True:
                if self.cancelled:
                    return None
                until = self._not_before.get(key, 0.0)
                now = self._clock()
                if until <= now:
                    return now - started
                if until > deadline:
                    return None
                self._changed.wait(timeout=until - now)

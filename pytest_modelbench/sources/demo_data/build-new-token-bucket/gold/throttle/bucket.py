"""Token-bucket rate limiter."""
from __future__ import annotations

from throttle.clock import Clock, MonotonicClock


class TokenBucket:
    """Allow bursts of up to *capacity* operations, refilled at *rate* per second."""

    def __init__(self, rate: float, capacity: int, clock: Clock | None = None) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock: Clock = clock or MonotonicClock()
        self._tokens = float(capacity)
        self._updated = self._clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def available(self) -> float:
        """Tokens currently available."""
        self._refill()
        return self._tokens

    def try_acquire(self, tokens: int = 1) -> bool:
        """Take *tokens* if available and return True; otherwise return False."""
        if tokens <= 0 or tokens > self.capacity:
            raise ValueError(f"tokens must be between 1 and {self.capacity}")
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

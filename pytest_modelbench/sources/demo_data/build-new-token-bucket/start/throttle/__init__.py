"""Rate limiting primitives."""
from throttle.clock import Clock, FakeClock, MonotonicClock

__all__ = ["Clock", "FakeClock", "MonotonicClock"]

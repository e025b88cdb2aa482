"""Rate limiting primitives."""
from throttle.bucket import TokenBucket
from throttle.clock import Clock, FakeClock, MonotonicClock

__all__ = ["Clock", "FakeClock", "MonotonicClock", "TokenBucket"]

import pytest

from throttle import FakeClock


def make(rate=2.0, capacity=5):
    from throttle.bucket import TokenBucket

    clock = FakeClock()
    return TokenBucket(rate, capacity, clock=clock), clock


def test_fake_clock_rejects_going_backwards():
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


def test_starts_full_and_drains():
    bucket, _ = make()
    assert bucket.available == pytest.approx(5)
    assert all(bucket.try_acquire() for _ in range(5))
    assert bucket.try_acquire() is False


def test_refills_at_rate_up_to_capacity():
    bucket, clock = make()
    assert bucket.try_acquire(5)
    clock.advance(1.0)
    assert bucket.available == pytest.approx(2)
    clock.advance(100)
    assert bucket.available == pytest.approx(5)


def test_failed_acquire_consumes_nothing():
    bucket, clock = make()
    assert bucket.try_acquire(4)
    assert bucket.try_acquire(2) is False
    assert bucket.available == pytest.approx(1)
    clock.advance(0.5)
    assert bucket.try_acquire(2)


@pytest.mark.parametrize("tokens", [0, 6])
def test_invalid_token_counts(tokens):
    bucket, _ = make()
    with pytest.raises(ValueError):
        bucket.try_acquire(tokens)


def test_exported_from_package():
    import throttle

    assert throttle.TokenBucket.__module__ == "throttle.bucket"

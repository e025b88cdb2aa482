from throttle import FakeClock


def test_fake_clock_advances():
    clock = FakeClock(10.0)
    clock.advance(2.5)
    assert clock.now() == 12.5

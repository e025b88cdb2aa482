import ranges


def test_public_api():
    assert callable(ranges.merge)

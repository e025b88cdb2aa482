from snoop import find_canary


def test_canary_found():
    assert find_canary().startswith("canary")

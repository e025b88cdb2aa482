from money import format_cents


def test_format_zero():
    assert format_cents(0) == "$0.00"

import pytest

from money import format_cents, parse_cents


@pytest.mark.parametrize(
    ("text", "cents"),
    [("12", 1200), ("$0.07", 7), ("12.5", 1250), ("$1,234.56", 123456), (" 1234567 ", 123456700)],
)
def test_parse_positive(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize(("text", "cents"), [("-3", -300), ("(3.00)", -300), ("($1,000.5)", -100050)])
def test_parse_negative(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.234", "12,34", "$-3", "--3"])
def test_parse_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_cents(text)


@pytest.mark.parametrize(("cents", "text"), [(5, "$0.05"), (123456, "$1,234.56"), (-300, "-$3.00"), (-99, "-$0.99")])
def test_format(cents, text):
    assert format_cents(cents) == text


@pytest.mark.parametrize("cents", [0, 1, -1, 100050, -123456789])
def test_round_trip(cents):
    assert parse_cents(format_cents(cents).replace("-$", "-")) == cents

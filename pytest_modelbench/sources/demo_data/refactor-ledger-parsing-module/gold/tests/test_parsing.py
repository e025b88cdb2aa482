from ledger.parsing import parse_amount


def test_parse_amount():
    assert parse_amount("1,234.5") == 123450
    assert parse_amount("-12") == -1200

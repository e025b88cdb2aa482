import pytest

from inventory import Inventory, OutOfStockError, reorder_report


def make() -> Inventory:
    return Inventory({"apple": 5, "pear": 2, "plum": 9})


def test_low_stock_below_threshold():
    assert make().low_stock(3) == ["pear"]


def test_low_stock_includes_items_at_threshold():
    assert make().low_stock(5) == ["apple", "pear"]


def test_remove_within_stock():
    inv = make()
    inv.remove("plum", 9)
    assert inv.items["plum"] == 0


def test_remove_too_many_raises_and_keeps_stock():
    inv = make()
    with pytest.raises(OutOfStockError):
        inv.remove("pear", 3)
    assert inv.items["pear"] == 2


def test_remove_unknown_sku_raises():
    inv = make()
    with pytest.raises(OutOfStockError):
        inv.remove("kiwi", 1)
    assert "kiwi" not in inv.items


def test_reorder_report():
    assert reorder_report(make(), 2) == "pear: 2"
    assert reorder_report(make(), 1) == "nothing to reorder"

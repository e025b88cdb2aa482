import inspect

import pytest

import shop
from shop import pricing


def test_prices_unchanged():
    assert pricing.member_price(2000) == 1800
    assert pricing.member_price(999) == 899
    assert pricing.coupon_price(1999, 25) == 1499
    assert pricing.coupon_price(500, 100) == 0


@pytest.mark.parametrize(("qty", "expected"), [(9, 900), (10, 950), (50, 4250)])
def test_bulk_tiers_unchanged(qty, expected):
    assert pricing.bulk_price(100, qty) == expected


def test_coupon_still_validates():
    with pytest.raises(ValueError):
        pricing.coupon_price(1000, 120)


def test_apply_discount_helper():
    assert pricing.apply_discount(2000, 10) == 1800
    assert pricing.apply_discount(1999, 25) == 1499
    with pytest.raises(ValueError):
        pricing.apply_discount(1000, -5)


def test_rounding_logic_lives_in_one_place():
    for name in ("member_price", "coupon_price", "bulk_price"):
        assert "round(" not in inspect.getsource(getattr(pricing, name)), name


def test_helper_exported_from_package():
    assert shop.apply_discount is pricing.apply_discount

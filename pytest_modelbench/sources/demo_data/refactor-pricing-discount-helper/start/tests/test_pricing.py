from shop import Cart, coupon_price, member_price


def test_member_price():
    assert member_price(2000) == 1800


def test_coupon_price():
    assert coupon_price(1999, 25) == 1499


def test_cart_total():
    assert Cart([(100, 10), (250, 1)], member=True).total() == 1080

"""Price calculations. All amounts are integer cents."""

MEMBER_PERCENT = 10


def member_price(cents: int) -> int:
    """Price for loyalty members."""
    discount = cents * MEMBER_PERCENT / 100
    discounted = cents - discount
    if discounted < 0:
        discounted = 0
    return int(round(discounted))


def coupon_price(cents: int, percent: float) -> int:
    """Price after a coupon worth *percent* off."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    discount = cents * percent / 100
    discounted = cents - discount
    if discounted < 0:
        discounted = 0
    return int(round(discounted))


def bulk_price(cents: int, quantity: int) -> int:
    """Total for *quantity* units: 5% off from 10 units, 15% off from 50."""
    total = cents * quantity
    percent = 15 if quantity >= 50 else 5 if quantity >= 10 else 0
    discount = total * percent / 100
    discounted = total - discount
    if discounted < 0:
        discounted = 0
    return int(round(discounted))

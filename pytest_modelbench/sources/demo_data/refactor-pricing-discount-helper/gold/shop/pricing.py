"""Price calculations. All amounts are integer cents."""

MEMBER_PERCENT = 10


def apply_discount(cents: int, percent: float) -> int:
    """Return *cents* reduced by *percent* percent, rounded to whole cents.

    Raises:
        ValueError: if *percent* is outside ``0..100``.
    """
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    discounted = max(cents - cents * percent / 100, 0)
    return int(round(discounted))


def member_price(cents: int) -> int:
    """Price for loyalty members."""
    return apply_discount(cents, MEMBER_PERCENT)


def coupon_price(cents: int, percent: float) -> int:
    """Price after a coupon worth *percent* off."""
    return apply_discount(cents, percent)


def bulk_price(cents: int, quantity: int) -> int:
    """Total for *quantity* units: 5% off from 10 units, 15% off from 50."""
    percent = 15 if quantity >= 50 else 5 if quantity >= 10 else 0
    return apply_discount(cents * quantity, percent)

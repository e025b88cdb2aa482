"""Pricing and cart helpers for the shop backend."""
from shop.cart import Cart
from shop.pricing import apply_discount, bulk_price, coupon_price, member_price

__all__ = ["Cart", "apply_discount", "bulk_price", "coupon_price", "member_price"]

"""Pricing and cart helpers for the shop backend."""
from shop.cart import Cart
from shop.pricing import bulk_price, coupon_price, member_price

__all__ = ["Cart", "bulk_price", "coupon_price", "member_price"]

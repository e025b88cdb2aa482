"""Minimal word tokenizer."""
from tokenkit.tokenizer import count_tokens, tokenize

__version__ = "0.3.0"
__all__ = ["count_tokens", "tokenize"]

"""Persistence: the SQLite history (ordered, recorded migrations) and the JSON artifact."""

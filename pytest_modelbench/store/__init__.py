"""Persistence: the SQLite history (ordered, recorded migrations) and the JSON artifact.

This module imports nothing: the option table and the CLI read :data:`DEFAULT_STORE` while ``--modelbench`` is off.
"""

DEFAULT_STORE = ".modelbench/modelbench.db"  # relative to the rootdir (the plugin) or the current folder (the CLI)

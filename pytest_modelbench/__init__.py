"""pytest-modelbench: replay your own coding-agent sessions against candidate models and score every replay.

Public API only; nothing heavy is imported here (the plugin must cost nothing while ``--modelbench`` is off).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

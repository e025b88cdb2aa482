"""One-way directory synchronisation."""
from syncer.core import sync

__version__ = "1.4.0"
__all__ = ["__version__", "sync"]

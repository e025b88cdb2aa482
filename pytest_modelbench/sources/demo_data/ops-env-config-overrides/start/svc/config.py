"""Service configuration: built-in defaults overridden by a JSON file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {"host": "127.0.0.1", "port": 8080, "debug": False, "workers": 2}


class ConfigError(ValueError):
    """Raised for invalid configuration."""


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Return the effective configuration."""
    config = dict(DEFAULTS)
    if path is not None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown keys in {path}: {', '.join(sorted(unknown))}")
        config.update(data)
    return config

"""Service configuration: defaults < JSON file < ``SVC_*`` environment variables."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {"host": "127.0.0.1", "port": 8080, "debug": False, "workers": 2}
ENV_PREFIX = "SVC_"
_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class ConfigError(ValueError):
    """Raised for invalid configuration."""


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Convert env var *name*'s value *raw* to the type of *default*."""
    if isinstance(default, bool):
        if raw.strip().lower() not in _BOOLS:
            raise ConfigError(f"{name}: expected bool, got {raw!r}")
        return _BOOLS[raw.strip().lower()]
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected int, got {raw!r}") from None
    return raw


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the effective configuration.

    Values come from :data:`DEFAULTS`, then the JSON file at *path*, then
    ``SVC_<KEY>`` variables in *env* (default :data:`os.environ`). Unknown
    ``SVC_*`` variables are ignored.
    """
    config = dict(DEFAULTS)
    if path is not None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown keys in {path}: {', '.join(sorted(unknown))}")
        config.update(data)
    env = os.environ if env is None else env
    for key, default in DEFAULTS.items():
        name = ENV_PREFIX + key.upper()
        if name in env:
            config[key] = _coerce(name, env[name], default)
    return config

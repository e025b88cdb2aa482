"""Which provider serves a model, and whether it is local or cloud (product.md §5). Pure: no litellm needed."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

LOCAL_PROVIDERS = frozenset({"ollama", "ollama_chat", "lm_studio", "llamafile", "vllm", "hosted_vllm", "llamacpp"})
KNOWN_PREFIXES = frozenset({
    *LOCAL_PROVIDERS, "openai", "anthropic", "azure", "gemini", "vertex_ai", "bedrock", "mistral", "groq",
    "deepseek", "openrouter", "together_ai", "fireworks_ai", "cohere", "xai", "perplexity", "huggingface",
    "text-completion-openai", "replicate", "cerebras", "sambanova", "nvidia_nim", "databricks", "watsonx",
})
DEFAULT_CONCURRENCY = {"ollama": 1, "ollama_chat": 1}
FALLBACK_CONCURRENCY = 8


REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
# Extras may not replace what the door itself decides (where the call goes, what it carries, how it is retried), nor
# carry credentials: those come from the environment and must never reach an artifact.
RESERVED_EXTRAS = frozenset({
    "model", "messages", "tools", "api_base", "base_url", "api_key", "timeout", "num_retries", "max_retries",
    "stream", "temperature", "top_p", "seed", "max_tokens", "reasoning_effort", "metadata",
    # These would break the budget's worst case (max_tokens x output price, one answer per call).
    "max_completion_tokens", "n", "best_of",
})
_CREDENTIAL_WORDS = ("key", "token", "secret", "password", "credential", "auth")
SETTING_KEYS = ("api_base", "cloud", "price_in", "price_out", "max_tokens", "tools", "temperature", "top_p", "seed",
                "system_prompt", "reasoning_effort", "extra.NAME")


@dataclass(frozen=True)
class ModelSettings:
    """Per-model settings (ini ``modelbench_model_settings``, ``--model-setting``), merged over the global options."""

    api_base: str | None = None
    cloud: bool | None = None  # force the classification; None = decide from provider and api_base
    price_in: float | None = None  # $ per million input tokens
    price_out: float | None = None
    max_tokens: int | None = None
    tools: str = "native"  # native function calling, or "text" for the text tool protocol
    # Generation settings; None = the door's default (temperature 0, the run's seed, no top_p, no system prompt).
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    system_prompt: str | None = None  # the text (an @file is read when the options are resolved)
    reasoning_effort: str | None = None
    extras: tuple[tuple[str, Any], ...] = ()  # provider parameters passed to litellm as they are, sorted by name

    def generation(self) -> dict[str, Any]:
        """The generation settings that were set, as a plain dict (the cache key and the artifact use it)."""
        out: dict[str, Any] = {}
        for name in ("temperature", "top_p", "seed", "max_tokens", "system_prompt", "reasoning_effort"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.extras:
            out["extras"] = dict(self.extras)
        return out


def provider_of(model: str) -> str:
    """litellm's provider prefix (``ollama/x`` -> ``ollama``); bare names (``gpt-4.1``) are OpenAI-style cloud."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in KNOWN_PREFIXES:
        return prefix
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith("gemini"):
        return "gemini"
    return "openai"


def is_loopback(api_base: str | None) -> bool:
    if not api_base:
        return False
    host = urlparse(api_base if "://" in api_base else f"http://{api_base}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(model: str, api_base: str | None, forced: bool | None = None) -> bool:
    """Local = Ollama / LM Studio / llamafile / vLLM-style providers, or any api_base on loopback."""
    if forced is not None:
        return not forced
    return provider_of(model) in LOCAL_PROVIDERS or is_loopback(api_base)


def split_setting_lines(lines: list[str]) -> list[tuple[str, str, str]]:
    """``MODEL key=value key="quoted value" ...`` lines as (model, key, raw value) triples, in order (shell quoting,
    so a system prompt may contain spaces); ValueError naming the line."""
    import shlex

    out: list[tuple[str, str, str]] = []
    for line in lines:
        try:
            parts = shlex.split(line)
        except ValueError as exc:
            raise ValueError(f"{line!r}: {exc} (quote values with spaces: key=\"some text\")") from None
        if not parts:
            continue
        model, pairs = parts[0], parts[1:]
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise ValueError(f"{line!r}: expected key=value, got {pair!r}")
            key = key.strip()
            key = key if key.startswith("extra.") else key.replace("-", "_")
            out.append((model, key, raw))
    return out


def join_setting_lines(triples: list[tuple[str, str, str]]) -> list[str]:
    """The inverse of :func:`split_setting_lines`: one quoted line per setting."""
    import shlex

    return [shlex.join([model, f"{key}={raw}"]) for model, key, raw in triples]


def _number(line: str, key: str, raw: str, low: float | None = None, high: float | None = None) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{line!r}: {key} must be a number, got {raw!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{line!r}: {key} must be between {low} and {high}, got {raw!r}")
    return value


def _setting(line: str, key: str, raw: str) -> tuple[str, Any]:
    """One checked (field, value); ValueError naming the line and the key."""
    if key == "api_base":
        return key, raw
    if key == "cloud":
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"{line!r}: cloud must be true or false, got {raw!r}")
        return key, raw.lower() == "true"
    if key in ("price_in", "price_out"):
        return key, _number(line, key, raw)
    if key == "max_tokens":
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{line!r}: max_tokens must be a positive integer, got {raw!r}")
        return key, int(raw)
    if key == "tools":
        if raw not in ("native", "text"):
            raise ValueError(f"{line!r}: tools must be native or text, got {raw!r}")
        return key, raw
    if key == "temperature":
        return key, _number(line, key, raw, 0.0, 2.0)
    if key == "top_p":
        return key, _number(line, key, raw, 0.0, 1.0)
    if key == "seed":
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"{line!r}: seed must be an integer, got {raw!r}")
        return key, int(raw)
    if key == "system_prompt":
        if raw.startswith("@"):
            raise ValueError(f"{line!r}: system_prompt=@file must be read first (resolve_setting_files)")
        return key, raw
    if key == "reasoning_effort":
        if raw not in REASONING_EFFORTS:
            raise ValueError(f"{line!r}: reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}, got {raw!r}")
        return key, raw
    if key.startswith("extra."):
        name = key.removeprefix("extra.")
        if not name.isidentifier():
            raise ValueError(f"{line!r}: {key!r} is not a parameter name (extra.NAME=VALUE)")
        if any(word in name.lower() for word in _CREDENTIAL_WORDS):
            raise ValueError(f"{line!r}: extra.{name} looks like a credential: credentials come from the "
                             "environment, never from the settings (they would be recorded in the artifact)")
        if name in RESERVED_EXTRAS:
            raise ValueError(f"{line!r}: extra.{name} is set by the door itself"
                             + (f"; use {name}=VALUE" if name in SETTING_KEYS else ""))
        try:
            value: Any = json.loads(raw)  # numbers, booleans, lists and objects as JSON; anything else as text
        except ValueError:
            value = raw
        return key, value
    raise ValueError(f"{line!r}: unknown key {key!r} ({', '.join(SETTING_KEYS)})")


def resolve_setting_files(triples: list[tuple[str, str, str]], root: Path) -> list[tuple[str, str, str]]:
    """``system_prompt=@file`` replaced by the file's text (relative paths from ``root``); ValueError naming it."""
    out = []
    for model, key, raw in triples:
        if key == "system_prompt" and raw.startswith("@"):
            path = Path(raw[1:]).expanduser()
            path = path if path.is_absolute() else root / path
            try:
                raw = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{model} system_prompt=@{raw[1:]}: cannot read {path}: {exc}") from None
        out.append((model, key, raw))
    return out


def parse_model_settings(lines: list[str]) -> dict[str, ModelSettings]:
    """Parse ``MODEL key=value ...`` lines; a later line overrides the same key of the same model. ValueError naming
    the line and key."""
    values: dict[str, dict[str, Any]] = {}
    extras: dict[str, dict[str, Any]] = {}
    for model, key, raw in split_setting_lines(lines):
        line = f"{model} {key}={raw}"
        field_name, value = _setting(line, key, raw)
        if field_name.startswith("extra."):
            extras.setdefault(model, {})[field_name.removeprefix("extra.")] = value
        else:
            values.setdefault(model, {})[field_name] = value
    out: dict[str, ModelSettings] = {}
    for model in {**values, **extras}:
        out[model] = ModelSettings(**values.get(model, {}),
                                   extras=tuple(sorted(extras.get(model, {}).items())))
    return out

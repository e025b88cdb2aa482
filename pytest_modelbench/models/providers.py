"""Which provider serves a model, and whether it is local or cloud (product.md §5). Pure: no litellm needed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ModelSettings:
    """Per-model settings (ini ``modelbench_model_settings``), merged over the global options."""

    api_base: str | None = None
    cloud: bool | None = None  # force the classification; None = decide from provider and api_base
    price_in: float | None = None  # $ per million input tokens
    price_out: float | None = None
    max_tokens: int | None = None
    tools: str = "native"  # native function calling, or "text" for the text tool protocol


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


def parse_model_settings(lines: list[str]) -> dict[str, ModelSettings]:
    """Parse ``MODEL key=value key=value`` lines; raises ValueError naming the line and key."""
    out: dict[str, ModelSettings] = {}
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        model, pairs = parts[0], parts[1:]
        values: dict[str, Any] = {}  # checked key by key below
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise ValueError(f"{line!r}: expected key=value, got {pair!r}")
            key = key.strip().replace("-", "_")
            if key == "api_base":
                values[key] = raw
            elif key == "cloud":
                if raw.lower() not in ("true", "false"):
                    raise ValueError(f"{line!r}: cloud must be true or false, got {raw!r}")
                values[key] = raw.lower() == "true"
            elif key in ("price_in", "price_out"):
                try:
                    values[key] = float(raw)
                except ValueError:
                    raise ValueError(f"{line!r}: {key} must be a number, got {raw!r}") from None
            elif key == "max_tokens":
                if not raw.isdigit() or int(raw) < 1:
                    raise ValueError(f"{line!r}: max_tokens must be a positive integer, got {raw!r}")
                values[key] = int(raw)
            elif key == "tools":
                if raw not in ("native", "text"):
                    raise ValueError(f"{line!r}: tools must be native or text, got {raw!r}")
                values[key] = raw
            else:
                raise ValueError(f"{line!r}: unknown key {key!r} (api_base, cloud, price_in, price_out, "
                                 "max_tokens, tools)")
        out[model] = ModelSettings(**values)
    return out

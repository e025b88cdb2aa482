"""The one function that calls models: :meth:`Door.complete`. The only importer of litellm.

It enforces, in this order: the cloud opt-in, redaction for cloud models, the response cache, the price and the
budget reservation, the per-provider concurrency limit, the per-call timeout and retries with exponential backoff
(429, 5xx, timeouts, connection errors, malformed bodies), then settles the ledger and records the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.models.budget import Ledger
from pytest_modelbench.models.providers import (
    DEFAULT_CONCURRENCY,
    FALLBACK_CONCURRENCY,
    ModelSettings,
    is_local,
    provider_of,
)
from pytest_modelbench.models.redact import redact_obj

MESSAGE_OVERHEAD_TOKENS = 16  # chat formatting tokens per message, generously


@dataclass(frozen=True)
class DoorConfig:
    allow_cloud: bool = False
    budget_cap_usd: float | None = None
    api_base: str | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)  # model -> ($/M in, $/M out)
    model_settings: dict[str, ModelSettings] = field(default_factory=dict)
    max_concurrency: dict[str, int] = field(default_factory=dict)
    cache_dir: Path | None = None
    cache_mode: str = "readwrite"
    timeout: float = 120.0
    max_retries: int = 4
    retry_budget_seconds: float = 90.0
    backoff_base: float = 0.5
    max_tokens: int = 4096
    temperature: float = 0.0
    seed: int = 0

    def settings(self, model: str) -> ModelSettings:
        return self.model_settings.get(model, ModelSettings())

    def api_base_for(self, model: str) -> str | None:
        return self.settings(model).api_base or self.api_base

    def is_local(self, model: str) -> bool:
        return is_local(model, self.api_base_for(model), self.settings(model).cloud)


class Door:
    """Lives in the broker (one per run). Thread-safe: the broker serves each worker request on its own thread."""

    def __init__(self, config: DoorConfig) -> None:
        self.config = config
        self.ledger = Ledger(config.budget_cap_usd)
        self._litellm: Any = None
        self._import_lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._sem_lock = threading.Lock()
        self._fp_lock = threading.Lock()
        self.fingerprints: dict[str, dict[str, Any]] = {}
        self.requests_sent = 0
        # The live status line (run/session.py): calls waiting on a provider, retries sleeping before their next
        # attempt; on_change is called after each change, from the calling thread.
        self.in_flight = 0
        self.retries_waiting = 0
        self.on_change: Callable[[], None] | None = None
        self.cache_hits = 0

    # -- litellm, lazily ----------------------------------------------------------------------------------------

    @property
    def litellm(self) -> Any:
        with self._import_lock:
            if self._litellm is None:
                # Never fetch the price map at run time; set before the first import.
                os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
                import litellm

                litellm.telemetry = False
                litellm.drop_params = True
                litellm.suppress_debug_info = True
                self._litellm = litellm
            return self._litellm

    # -- prices -------------------------------------------------------------------------------------------------

    def price(self, model: str) -> tuple[float, float] | None:
        """$ per token (input, output), or None when unknown. --price and per-model settings win over litellm."""
        s = self.config.settings(model)
        if s.price_in is not None and s.price_out is not None:
            return s.price_in / 1e6, s.price_out / 1e6
        if model in self.config.prices:
            pin, pout = self.config.prices[model]
            return pin / 1e6, pout / 1e6
        entry = self.litellm.model_cost.get(model) or self.litellm.model_cost.get(model.split("/", 1)[-1])
        if entry and entry.get("input_cost_per_token") is not None and entry.get("output_cost_per_token") is not None:
            return float(entry["input_cost_per_token"]), float(entry["output_cost_per_token"])
        if self.config.is_local(model):
            return 0.0, 0.0  # a local model costs no money (its electricity is not priced)
        return None

    # -- the call -----------------------------------------------------------------------------------------------

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        model = request["model"]
        cfg = self.config
        local = cfg.is_local(model)
        if not local and not cfg.allow_cloud:
            return {"ok": False, "kind": "cloud-not-allowed",
                    "error": f"{model} is a cloud model: pass --allow-cloud (with --budget-cap-usd) to use it"}
        messages = request["messages"]
        tools = request.get("tools")
        if not local:
            messages = redact_obj(messages)
            tools = redact_obj(tools)
        settings = cfg.settings(model)
        max_tokens = int(request.get("max_tokens") or settings.max_tokens or cfg.max_tokens)
        api_base = cfg.api_base_for(model)
        # --repeats: repeat k samples with seed + k and is its own cache entry; repeat 0 keeps the key it always had.
        repeat = int(request.get("repeat") or 0)
        seed = cfg.seed + repeat
        payload = {"model": model, "messages": messages, "tools": tools, "temperature": cfg.temperature,
                   "seed": seed, "max_tokens": max_tokens, "api_base": api_base}
        if repeat:
            payload["repeat"] = repeat
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        cached = self._cache_read(key)
        if cached is not None:
            with self._fp_lock:
                self.cache_hits += 1
            self._changed()
            return {**cached, "ok": True, "cached": True, "cost_usd": 0.0, "attempts": 0}
        if self.ledger.exhausted:
            return {"ok": False, "kind": "over-budget", "error": "the budget cap has been reached"}
        price = self.price(model)
        if price is None and cfg.budget_cap_usd is not None:
            return {"ok": False, "kind": "price-unknown",
                    "error": f"no price known for {model}: set --price {model}=IN,OUT to use it under a cap"}
        # Every call goes through the ledger (without a cap it always fits), so spent is known with or without one.
        worst = prompt_token_bound(messages, tools) * price[0] + max_tokens * price[1] if price is not None else 0.0
        ticket = self.ledger.reserve(worst)
        if ticket is None:
            return {"ok": False, "kind": "over-budget",
                    "error": f"the call would need up to ${worst:.6f}, which does not fit under the cap"}
        outcome: dict[str, Any]
        spent: float | None = None
        try:
            with self._semaphore(provider_of(model)):
                self._count("in_flight", 1)
                try:
                    outcome = self._call_with_retries(model, messages, tools, max_tokens, api_base, seed)
                finally:
                    self._count("in_flight", -1)
            if outcome["ok"]:
                usage = outcome["usage"]
                spent = (usage["prompt_tokens"] * price[0] + usage["completion_tokens"] * price[1]
                         if price is not None else None)
                outcome["cost_usd"] = spent
                outcome["cached"] = False
                self._cache_write(key, outcome)
                self._fingerprint(model, outcome.get("provider_model"), local, api_base)
        finally:
            self.ledger.settle(ticket, spent)
        return outcome

    def _semaphore(self, provider: str) -> threading.BoundedSemaphore:
        with self._sem_lock:
            if provider not in self._semaphores:
                limit = self.config.max_concurrency.get(provider) or DEFAULT_CONCURRENCY.get(provider) \
                    or FALLBACK_CONCURRENCY
                self._semaphores[provider] = threading.BoundedSemaphore(limit)
            return self._semaphores[provider]

    def _retryable(self, exc: BaseException) -> bool:
        lit = self.litellm
        fatal = (lit.AuthenticationError, lit.PermissionDeniedError, lit.NotFoundError, lit.BadRequestError,
                 lit.ContextWindowExceededError, lit.ContentPolicyViolationError, lit.UnsupportedParamsError)
        if isinstance(exc, fatal) and not isinstance(exc, lit.InternalServerError):
            # A malformed body sometimes surfaces as a BadRequest-like error with status 200/None: retry those.
            status = getattr(exc, "status_code", None)
            return status in (None, 200)
        return True

    def _call_with_retries(self, model: str, messages: list[dict[str, Any]], tools: Any, max_tokens: int,
                           api_base: str | None, seed: int | None = None) -> dict[str, Any]:
        cfg = self.config
        started = time.monotonic()
        errors: list[str] = []
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "temperature": cfg.temperature,
                                  "seed": cfg.seed if seed is None else seed, "max_tokens": max_tokens,
                                  "timeout": cfg.timeout, "num_retries": 0}
        if tools:
            kwargs["tools"] = tools
        if api_base:
            kwargs["api_base"] = api_base
            if provider_of(model) == "openai" and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "sk-local-placeholder"  # OpenAI-compatible local servers ignore it
        for attempt in range(1, cfg.max_retries + 2):
            with self._fp_lock:
                self.requests_sent += 1
            try:
                response = self.litellm.completion(**kwargs)
                return {"ok": True, **_normalise(response), "attempts": attempt, "errors": errors}
            except Exception as exc:  # every provider error surfaces here; classify, then retry or give up
                errors.append(f"attempt {attempt}: {type(exc).__name__}: {str(exc)[:300]}")
                elapsed = time.monotonic() - started
                delay = cfg.backoff_base * (2 ** (attempt - 1)) * (1 + random.random() * 0.25)
                if not self._retryable(exc) or attempt > cfg.max_retries or \
                        elapsed + delay > cfg.retry_budget_seconds:
                    return {"ok": False, "kind": "error", "error": errors[-1], "errors": errors,
                            "attempts": attempt}
                self._count("retries_waiting", 1)
                try:
                    time.sleep(delay)
                finally:
                    self._count("retries_waiting", -1)
        raise AssertionError("unreachable")

    def _count(self, name: str, delta: int) -> None:
        with self._fp_lock:
            setattr(self, name, getattr(self, name) + delta)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- cache --------------------------------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path | None:
        if self.config.cache_dir is None or self.config.cache_mode == "off":
            return None
        return self.config.cache_dir / key[:2] / f"{key}.json"

    def _cache_read(self, key: str) -> dict[str, Any] | None:
        path = self._cache_path(key)
        if path is None or self.config.cache_mode not in ("read", "readwrite") or not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a broken cache entry is a miss, not a crash
        return {k: data[k] for k in ("message", "usage", "provider_model") if k in data}

    def _cache_write(self, key: str, outcome: dict[str, Any]) -> None:
        path = self._cache_path(key)
        if path is None or self.config.cache_mode not in ("write", "readwrite"):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        data = {k: outcome[k] for k in ("message", "usage", "provider_model")}
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    # -- fingerprints -------------------------------------------------------------------------------------------

    def _fingerprint(self, model: str, provider_model: str | None, local: bool, api_base: str | None) -> None:
        with self._fp_lock:
            fp = self.fingerprints.setdefault(model, {"litellm": _litellm_version(), "provider_models": [],
                                                      "local": local})
            if provider_model and provider_model not in fp["provider_models"]:
                fp["provider_models"].append(provider_model)
            need_digest = provider_of(model) in ("ollama", "ollama_chat") and "ollama_digest" not in fp
        if need_digest:
            digest = _ollama_digest(model, api_base)
            with self._fp_lock:
                fp["ollama_digest"] = digest


def prompt_token_bound(messages: list[dict[str, Any]], tools: Any) -> int:
    """An upper bound on the prompt tokens of any provider: the request's UTF-8 bytes plus formatting overhead.

    Byte-level BPE tokenizers never make a token of less than one byte, so this bounds every tokenizer's count,
    unlike a tokenizer estimate (which differs between providers). Spent can then never pass the cap; the price is
    that calls near the cap are refused a little early.
    """
    body = json.dumps([messages, tools or []], ensure_ascii=False).encode("utf-8")
    return len(body) + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)


def _normalise(response: Any) -> dict[str, Any]:
    choice = response.choices[0]
    msg = choice.message
    tool_calls = []
    for call in getattr(msg, "tool_calls", None) or []:
        fn = call.function
        tool_calls.append({"id": call.id, "name": fn.name, "arguments": fn.arguments})
    usage = getattr(response, "usage", None)
    return {
        "message": {"content": msg.content, "tool_calls": tool_calls},
        "usage": {"prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                  "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0)},
        "provider_model": getattr(response, "model", None),
    }


def _litellm_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return None


def _ollama_digest(model: str, api_base: str | None) -> str | None:
    """The local Ollama's digest for ``model`` (loopback only; None when it cannot be asked)."""
    from pytest_modelbench.models.providers import is_loopback

    base = (api_base or "http://127.0.0.1:11434").rstrip("/")
    if not is_loopback(base):
        return None
    name = model.split("/", 1)[1]
    try:
        with urllib.request.urlopen(f"{base}/api/tags", timeout=2) as resp:  # noqa: S310 - loopback only
            tags = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    for entry in tags.get("models", []):
        if entry.get("name") in (name, f"{name}:latest"):
            return entry.get("digest")
    return None

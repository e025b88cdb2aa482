"""The one function that calls models: :meth:`Door.complete`. The only importer of litellm.

It enforces, in this order: the cloud opt-in, redaction for cloud models, the response cache, the price and the
budget reservation, the per-provider concurrency limit, the per-call timeout and retries (429, 5xx, timeouts,
connection errors, malformed bodies) within a retry budget (``attempts.py``), then settles the ledger and records the
fingerprint. A request whose call the door already made ahead of its item (``ahead.py``) is answered with that call's
outcome instead of a second call.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.models.ahead import Ahead
from pytest_modelbench.models.attempts import call_with_retries
from pytest_modelbench.models.budget import Ledger
from pytest_modelbench.models.providers import (
    DEFAULT_CONCURRENCY,
    FALLBACK_CONCURRENCY,
    ModelSettings,
    is_local,
    provider_of,
)
from pytest_modelbench.models.ratelimit import ProviderGate
from pytest_modelbench.models.redact import redact_obj

MESSAGE_OVERHEAD_TOKENS = 16  # chat formatting tokens per message, generously
# Survive a provider that refuses for a minute or more (Inspect retries without limit, SWE-bench waits up to
# 600 s): up to 20 retries within 10 minutes, backing off from 1 s to at most 60 s between attempts.
DEFAULT_MAX_RETRIES = 20
DEFAULT_RETRY_BUDGET = 600.0


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
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_tokens: int = 4096
    temperature: float = 0.0
    seed: int = 0

    def settings(self, model: str) -> ModelSettings:
        return self.model_settings.get(model, ModelSettings())

    def api_base_for(self, model: str) -> str | None:
        return self.settings(model).api_base or self.api_base

    def is_local(self, model: str) -> bool:
        return is_local(model, self.api_base_for(model), self.settings(model).cloud)


@dataclass(frozen=True)
class PreparedCall:
    """One request as the door sends it (after the system prompt and redaction), with its cache key."""

    model: str
    messages: list[dict[str, Any]]
    tools: Any
    params: dict[str, Any]
    api_base: str | None
    max_tokens: int
    local: bool
    key: str


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
        self.gate = ProviderGate()
        self.cancelled = threading.Event()
        self.ahead = Ahead(self)

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

    def warm(self) -> None:
        """Import litellm and walk its completion path once without a request (``mock_response``: no network, no
        cost, nothing recorded), so the first real call does not also pay litellm's lazy imports (~0.2-0.6 s)."""
        litellm = self.litellm
        try:
            litellm.completion(model="openai/modelbench-warm-up", messages=[{"role": "user", "content": "-"}],
                               mock_response="-", api_key="-", api_base="http://127.0.0.1:9")
        except Exception:  # noqa: BLE001 - a warm-up only; the first real call then pays the lazy imports itself
            pass

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

    def complete(self, request: dict[str, Any], ahead: bool = False) -> dict[str, Any]:
        """One call (or its cached answer, or the outcome of the same call made ahead of its item). ``ahead`` is
        set by :class:`Ahead` for the calls it makes, which must never wait on themselves."""
        call = self.prepare(request)
        if isinstance(call, dict):
            return call
        if not ahead:
            made = self.ahead.claim(call.key)
            if made is not None:
                return made
        return self.make(call)

    def prepare(self, request: dict[str, Any]) -> PreparedCall | dict[str, Any]:
        """What the door sends for ``request`` and its cache key, or the refusal of a cloud model not allowed."""
        model = request["model"]
        cfg = self.config
        local = cfg.is_local(model)
        if not local and not cfg.allow_cloud:
            return {"ok": False, "kind": "cloud-not-allowed",
                    "error": f"{model} is a cloud model: pass --allow-cloud (with --budget-cap-usd) to use it"}
        settings = cfg.settings(model)
        messages = with_system_prompt(request["messages"], settings.system_prompt)
        tools = request.get("tools")
        if not local:
            messages = redact_obj(messages)
            tools = redact_obj(tools)
        max_tokens = int(request.get("max_tokens") or settings.max_tokens or cfg.max_tokens)
        api_base = cfg.api_base_for(model)
        # --repeats: repeat k samples with seed + k and is its own cache entry; repeat 0 keeps the key it always had.
        repeat = int(request.get("repeat") or 0)
        params = self.generation_params(model, repeat, max_tokens)
        payload = {"model": model, "messages": messages, "tools": tools, "api_base": api_base, **params}
        if repeat:
            payload["repeat"] = repeat
        # Settings left at their defaults add nothing, so the keys of earlier runs stay valid; any setting given
        # (temperature, top_p, reasoning effort, extras; the system prompt is in the messages) changes the key.
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        return PreparedCall(model, messages, tools, params, api_base, max_tokens, local, key)

    def make(self, call: PreparedCall) -> dict[str, Any]:
        """Make a prepared call (no claim on calls made ahead: :class:`Ahead` makes its own through here)."""
        cfg, model = self.config, call.model
        cached = self._cache_read(call.key)
        if cached is not None:
            with self._fp_lock:
                self.cache_hits += 1
            self._changed()
            return {**cached, "ok": True, "cached": True, "cost_usd": 0.0, "attempts": 0}
        if self.cancelled.is_set():
            return {"ok": False, "kind": "cancelled", "error": "the run was interrupted before this call was made"}
        if self.ledger.exhausted:
            return {"ok": False, "kind": "over-budget", "error": "the budget cap has been reached"}
        price = self.price(model)
        if price is None and cfg.budget_cap_usd is not None:
            return {"ok": False, "kind": "price-unknown",
                    "error": f"no price known for {model}: set --price {model}=IN,OUT to use it under a cap"}
        # Every call goes through the ledger (without a cap it always fits), so spent is known with or without one.
        worst = (prompt_token_bound(call.messages, call.tools) * price[0] + call.max_tokens * price[1]
                 if price is not None else 0.0)
        ticket = self.ledger.reserve(worst)
        if ticket is None:
            return {"ok": False, "kind": "over-budget",
                    "error": f"the call would need up to ${worst:.6f}, which does not fit under the cap"}
        outcome: dict[str, Any]
        spent: float | None = None
        try:
            with self._semaphore(provider_of(model)):
                self.count("in_flight", 1)
                try:
                    outcome = call_with_retries(self, model, call.messages, call.tools, call.params, call.api_base)
                finally:
                    self.count("in_flight", -1)
            if outcome["ok"]:
                usage = outcome["usage"]
                spent = (usage["prompt_tokens"] * price[0] + usage["completion_tokens"] * price[1]
                         if price is not None else None)
                outcome["cost_usd"] = spent
                outcome["cached"] = False
                self._cache_write(call.key, outcome)
                self._fingerprint(model, outcome.get("provider_model"), call.local, call.api_base)
        finally:
            self.ledger.settle(ticket, spent)
        return outcome

    def cancel(self) -> None:
        """Ctrl-C: no call starts any more, retries stop waiting, calls queued ahead are dropped. Calls already on
        the wire end with their timeout (or with the process); their cost is still settled."""
        self.cancelled.set()
        self.gate.cancel()
        self.ahead.stop()

    def generation_params(self, model: str, repeat: int = 0, max_tokens: int | None = None) -> dict[str, Any]:
        """What litellm is sent besides model, messages and tools: temperature, seed (+ the repeat), max_tokens, and
        top_p, reasoning effort and provider extras when the model's settings give them."""
        cfg = self.config
        s = cfg.settings(model)
        params: dict[str, Any] = {
            "temperature": cfg.temperature if s.temperature is None else s.temperature,
            "seed": (cfg.seed if s.seed is None else s.seed) + repeat,
            "max_tokens": max_tokens or s.max_tokens or cfg.max_tokens,
        }
        if s.top_p is not None:
            params["top_p"] = s.top_p
        if s.reasoning_effort is not None:
            params["reasoning_effort"] = s.reasoning_effort
        params.update(dict(s.extras))
        return params

    def candidate_settings(self, model: str) -> dict[str, Any]:
        """A candidate's generation settings as the artifact records them (the system prompt redacted, and hashed so
        two runs can be compared without reading it)."""
        s = self.config.settings(model)
        out = self.generation_params(model)
        if s.system_prompt is not None:
            out["system_prompt"] = redact_obj(s.system_prompt)
            out["system_prompt_sha256"] = hashlib.sha256(s.system_prompt.encode()).hexdigest()
        out["tools"] = s.tools
        return redact_obj(out)

    def limit(self, provider: str) -> int:
        """Calls in flight allowed to ``provider``, across every worker and the calls made ahead."""
        return self.config.max_concurrency.get(provider) or DEFAULT_CONCURRENCY.get(provider) or FALLBACK_CONCURRENCY

    def _semaphore(self, provider: str) -> threading.BoundedSemaphore:
        with self._sem_lock:
            if provider not in self._semaphores:
                self._semaphores[provider] = threading.BoundedSemaphore(self.limit(provider))
            return self._semaphores[provider]

    def count_request(self) -> None:
        with self._fp_lock:
            self.requests_sent += 1

    def count(self, name: str, delta: int) -> None:
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


def with_system_prompt(messages: list[dict[str, Any]], prompt: str | None) -> list[dict[str, Any]]:
    """The messages with a model's system prompt first: before the mode's own system message (which carries the
    edit format or the tool protocol, so it is kept), or as a new first message."""
    if not prompt:
        return messages
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": f"{prompt}\n\n{messages[0].get('content') or ''}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


def prompt_token_bound(messages: list[dict[str, Any]], tools: Any) -> int:
    """An upper bound on the prompt tokens of any provider: the request's UTF-8 bytes plus formatting overhead.

    Byte-level BPE tokenizers never make a token of less than one byte, so this bounds every tokenizer's count,
    unlike a tokenizer estimate (which differs between providers). Spent can then never pass the cap; the price is
    that calls near the cap are refused a little early.
    """
    body = json.dumps([messages, tools or []], ensure_ascii=False).encode("utf-8")
    return len(body) + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)


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

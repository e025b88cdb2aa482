"""The retry loop of one model call: attempts until one succeeds, a fatal error, the retry count or the retry budget.

Retries wait what the provider asked for (``Retry-After``, ``retry-after-ms`` or a rate-limit reset header) and at
least an exponential backoff; a 429 holds the provider for *every* caller of the door (:class:`ProviderGate`), so
the workers back off together instead of each one hammering a provider that is already refusing. Every attempt is
logged (the evidence keeps them all). A cancelled door (Ctrl-C) makes no further attempt and stops every wait.
"""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING, Any

from pytest_modelbench.models.providers import provider_of
from pytest_modelbench.models.ratelimit import backoff, retry_after

if TYPE_CHECKING:
    from pytest_modelbench.models.door import Door

# Answers that mean "the provider as a whole is refusing for now": every caller of it waits, not only this one.
HOLD_STATUSES = frozenset({429, 503, 529})
CANCELLED = "the run was interrupted: no further attempt was made"


def call_with_retries(door: Door, model: str, messages: list[dict[str, Any]], tools: Any, params: dict[str, Any],
                      api_base: str | None) -> dict[str, Any]:
    """The normalised answer (``ok`` True), or why the call gave up (``ok`` False, with every attempt logged).

    Each log entry says how long the attempt waited for the provider's window first, how long it took, what failed
    and what the provider asked for.
    """
    cfg = door.config
    provider = provider_of(model)
    gate_key = f"{provider} {api_base or ''}".strip()  # one window per provider endpoint
    started = time.monotonic()
    deadline = started + cfg.retry_budget_seconds
    errors: list[str] = []
    log: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {**params, "model": model, "messages": messages, "timeout": cfg.timeout,
                              "num_retries": 0}
    if tools:
        kwargs["tools"] = tools
    if api_base:
        kwargs["api_base"] = api_base
        if provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "sk-local-placeholder"  # OpenAI-compatible local servers ignore it
    attempt = 0
    while True:
        attempt += 1
        waited = door.gate.wait(gate_key, deadline)
        if door.cancelled.is_set():
            errors.append(f"attempt {attempt}: not made: {CANCELLED}")
            return gave_up(errors, log, attempt - 1, kind="cancelled")
        if waited is None:
            left = door.gate.remaining(gate_key)
            errors.append(f"attempt {attempt}: not made: {provider} asked to wait {left:.1f} s more, past the "
                          f"retry budget of {cfg.retry_budget_seconds:g} s (--model-retry-budget)")
            log.append({"attempt": attempt, "outcome": "not-made", "wait_needed_s": round(left, 3)})
            return gave_up(errors, log, attempt - 1)
        entry: dict[str, Any] = {"attempt": attempt, "waited_s": round(waited, 3)}
        sent = time.monotonic()
        door.count_request()
        try:
            response = door.litellm.completion(**kwargs)
        except Exception as exc:  # every provider error surfaces here; classify, then retry or give up
            status = getattr(exc, "status_code", None)
            asked = retry_after(headers_of(exc))
            delay = backoff(attempt, cfg.backoff_base, cfg.backoff_max, random.random())
            if asked is not None:
                delay = max(delay, asked[0])  # never sooner than the provider asked
            entry.update(outcome=type(exc).__name__, status=status, seconds=round(time.monotonic() - sent, 3),
                         error=str(exc)[:300])
            if asked is not None:
                entry.update(asked_wait_s=round(asked[0], 3), header=asked[1])
            log.append(entry)
            text = f"attempt {attempt}: {type(exc).__name__}"
            text += f" (HTTP {status})" if status else ""
            text += f": {str(exc)[:300]}"
            if asked is not None:
                text += f" [{asked[1]}: wait {asked[0]:.1f} s]"
            errors.append(text)
            if not retryable(door.litellm, exc):
                return gave_up(errors, log, attempt, "not retryable")
            if attempt > cfg.max_retries:
                return gave_up(errors, log, attempt, f"{cfg.max_retries} retries (--model-retries)")
            if time.monotonic() + delay > deadline:
                return gave_up(errors, log, attempt, f"the next attempt would start after the retry budget of "
                                                     f"{cfg.retry_budget_seconds:g} s (--model-retry-budget)")
            entry["retry_in_s"] = round(delay, 3)
            door.count("retries_waiting", 1)
            try:
                if status in HOLD_STATUSES or asked is not None:
                    door.gate.hold(gate_key, delay)  # everyone waits for the window, not only this call
                else:
                    door.cancelled.wait(delay)
            finally:
                door.count("retries_waiting", -1)
            continue
        entry.update(outcome="ok", seconds=round(time.monotonic() - sent, 3))
        log.append(entry)
        return {"ok": True, **normalise(response), "attempts": attempt, "errors": errors, "attempt_log": log}


def retryable(litellm: Any, exc: BaseException) -> bool:
    fatal = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError,
             litellm.BadRequestError, litellm.ContextWindowExceededError, litellm.ContentPolicyViolationError,
             litellm.UnsupportedParamsError)
    if isinstance(exc, fatal) and not isinstance(exc, litellm.InternalServerError):
        # A malformed body sometimes surfaces as a BadRequest-like error with status 200/None: retry those.
        status = getattr(exc, "status_code", None)
        return status in (None, 200)
    return True


def gave_up(errors: list[str], log: list[dict[str, Any]], attempts: int, why: str | None = None,
            kind: str = "error") -> dict[str, Any]:
    last = errors[-1] if errors else "no attempt made"
    message = f"{last} (gave up after {attempts} attempt(s): {why})" if why else last
    return {"ok": False, "kind": kind, "error": message, "errors": errors, "attempts": attempts,
            "attempt_log": log}


def headers_of(exc: BaseException) -> Any:
    """The HTTP response headers litellm keeps on its exceptions (None when the error had no response)."""
    headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    return headers


def normalise(response: Any) -> dict[str, Any]:
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


__all__ = ["CANCELLED", "HOLD_STATUSES", "call_with_retries", "gave_up", "headers_of", "normalise", "retryable"]

"""The worker's side of the door: turns broker replies into results or typed exceptions. Pure (no litellm)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.models.ahead import request_for
from pytest_modelbench.models.broker import BrokerClient


class ModelCallError(ModelbenchError, RuntimeError):
    """A call that failed after retries (or was refused); ``kind`` says which."""

    def __init__(self, kind: str, message: str, errors: list[str] | None = None,
                 attempt_log: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []
        self.attempt_log = attempt_log or []  # every HTTP attempt of the call (attempts.call_with_retries)


class OverBudget(ModelCallError):
    """The call did not fit under the budget cap and was not made."""


class CloudNotAllowed(ModelCallError):
    """A cloud model without --allow-cloud: nothing was sent."""


@dataclass(frozen=True)
class Reply:
    content: str | None
    tool_calls: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    cached: bool
    attempts: int
    provider_model: str | None
    errors: list[str] = field(default_factory=list)
    attempt_log: list[dict[str, Any]] = field(default_factory=list)  # every HTTP attempt: waits, status, timing
    ahead: bool = False  # the door made this call ahead of the item (models/ahead.py)


class ModelClient:
    def __init__(self, broker: BrokerClient, repeat: int = 0) -> None:
        self.broker = broker
        self.repeat = repeat  # --repeats: the door samples repeat k with seed + k, cached apart from repeat 0

    def for_repeat(self, repeat: int) -> ModelClient:
        """The same door, for repeat ``repeat`` of an item (``--repeats K``)."""
        return ModelClient(self.broker, repeat)

    def complete(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                 max_tokens: int | None = None) -> Reply:
        reply = self.broker.call(request_for(model, messages, tools, max_tokens, self.repeat))
        if not reply.get("ok"):
            kind = reply.get("kind", "error")
            cls = {"over-budget": OverBudget, "cloud-not-allowed": CloudNotAllowed}.get(kind, ModelCallError)
            raise cls(kind, reply.get("error", "model call failed"), reply.get("errors"), reply.get("attempt_log"))
        msg = reply["message"]
        return Reply(
            content=msg.get("content"),
            tool_calls=list(msg.get("tool_calls") or []),
            prompt_tokens=reply["usage"]["prompt_tokens"],
            completion_tokens=reply["usage"]["completion_tokens"],
            cost_usd=reply.get("cost_usd"),
            cached=bool(reply.get("cached")),
            attempts=int(reply.get("attempts", 0)),
            provider_model=reply.get("provider_model"),
            errors=list(reply.get("errors") or []),
            attempt_log=list(reply.get("attempt_log") or []),
            ahead=bool(reply.get("ahead")),
        )

    def budget(self) -> dict[str, Any]:
        return self.broker.call({"op": "budget"})

"""Whether the door may start a model at all, decided before any call. Pure module: no pytest, no litellm."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytest_modelbench.models.providers import ModelSettings, is_local

NO_BROKER = "no model broker is running for this run"


def precheck(model: str, *, broker_running: bool, model_settings: Mapping[str, ModelSettings],
             api_base: str | None, allow_cloud: bool, budget_cap_usd: float | None,
             budget: Callable[[], Mapping[str, Any]]) -> tuple[str, str] | None:
    """Why ``model`` must not start: ``(outcome status, reason)``, or None. Makes no model call.

    ``api_base`` is ``--model-api-base`` (a per-model ``api_base`` wins); ``budget`` reads the broker's ledger and
    is only called when a cap is set.
    """
    if not broker_running:
        return "failed", NO_BROKER
    ms = model_settings.get(model)
    base = (ms.api_base if ms else None) or api_base
    if not is_local(model, base, ms.cloud if ms else None) and not allow_cloud:
        return "skipped", (f"cloud model {model} needs --allow-cloud (and --budget-cap-usd); "
                           "nothing was sent")
    if budget_cap_usd is not None and budget().get("exhausted"):
        return "cancelled-over-budget", "cancelled-over-budget: the budget cap was reached before this item started"
    return None


__all__ = ["NO_BROKER", "precheck"]

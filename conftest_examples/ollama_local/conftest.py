"""Skip the candidates cleanly, with the reason, when no Ollama answers on the configured (loopback) base URL.

Without this, every replay would retry its calls and end as an error; a missing local server is not a harness bug.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from pytest_modelbench.models.providers import is_loopback

PROBLEM = pytest.StashKey[str]()


def _api_base(config: pytest.Config) -> str | None:
    return config.getoption("model_api_base", default=None) or config.getini("modelbench_model_api_base") or None


def _ollama_problem(base: str) -> str | None:
    """None when an OpenAI-compatible server answers GET {base}/models; else why not."""
    if not is_loopback(base):
        return None  # only probe this machine; a remote server is the user's business
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/models", timeout=2) as resp:  # noqa: S310 - loopback only
            json.loads(resp.read() or b"{}")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"no Ollama at {base} ({reason}): start `ollama serve` and pull the models (see pytest.ini)"
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    base = _api_base(config) if config.getoption("modelbench", default=False) else None
    problem = _ollama_problem(base) if base else None
    if problem:
        config.stash[PROBLEM] = problem


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = item.config.stash.get(PROBLEM, None)
    model = getattr(item, "model", "")
    if problem and model and not model.startswith("replay/"):
        pytest.skip(problem)

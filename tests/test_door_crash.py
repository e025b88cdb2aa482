"""The model door dies mid-run: items error naming the door, the run finishes, nothing hangs.

The door is the broker thread of the controller, reached by the workers over a Unix socket. A conftest closes it
(server, socket file and every open connection) as soon as the first outcome is committed; the replays still to
come, or in flight, must fail fast with a message naming the broker, and the run must still write its artifact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pytest_modelbench.models.broker import BrokerClient, BrokerUnavailable
from pytest_modelbench.sources.demo import DemoSource
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts, read_store

KILL_THE_DOOR = """
def pytest_modelbench_outcome(config, outcome):
    bench = config.pluginmanager.get_plugin("modelbench-session")
    if bench.broker is not None:
        bench.broker.close()
"""


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=300) as s:
        s.teach_sessions(DemoSource().sessions())
        yield s


@pytest.mark.slow
def test_door_closing_mid_run_errors_items_naming_the_broker(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    pytester.makeconftest(KILL_THE_DOOR)
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--models", "openai/solver",
        "--model-api-base", server.base_url, "--modelbench-cache", "off", "-n", "2",
        "-k", "slugify or inventory or ledger or todo", timeout=240)
    elapsed = time.monotonic() - started
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert elapsed < 240
    assert "the model door (broker at" in out
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    runs, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert runs[0]["status"] == "complete" and artifact["run"]["status"] == "complete"
    statuses = [o["status"] for o in artifact["outcomes"]]
    assert len(statuses) == len(rows) >= 4
    failed = [o for o in artifact["outcomes"] if o["status"] == "failed"]
    assert failed, statuses
    assert all("the model door (broker at" in o["evidence"]["error"] for o in failed), failed


def test_client_of_a_missing_broker_fails_fast_naming_it(tmp_path) -> None:
    client = BrokerClient(tmp_path / "nobody.sock", timeout=5)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"the model door \(broker at .*nobody.sock\) is unreachable"):
        client.call({"op": "budget"})
    assert time.monotonic() - started < 5

"""The HTTP API of modelbench serve, over real HTTP on 127.0.0.1 (an ephemeral port)."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_modelbench.cli.api import ApiServer, make_server
from pytest_modelbench.cli.runrequest import ApiError, parse_run_request

from .helpers import add_cases

RUN_TIMEOUT = 300.0


def _call(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None,
          content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback test server
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _json(url: str, method: str = "GET", body: Any = None, **kw: Any) -> tuple[int, Any]:
    status, _, raw = _call(url, method, body, **kw)
    return status, json.loads(raw)


class Served:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.url = server.url
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.manager.close()
        self.thread.join(10)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    add_cases(tmp_path / "cases")
    return tmp_path


@pytest.fixture
def api(project: Path) -> Iterator[Served]:
    served = Served(make_server("127.0.0.1", 0, project / ".modelbench" / "modelbench.db", project))
    yield served
    served.close()


def _wait(url: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        status, doc = _json(f"{url}/api/benchmark/runs/{run_id}")
        assert status == 200, doc
        seen.append(doc["status"])
        if doc["status"] in ("complete", "failed"):
            doc["seen"] = seen
            return doc
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT} s (statuses seen: {seen[-5:]})")


def test_a_run_started_over_http_completes_with_its_leaderboard(api: Served, project: Path) -> None:
    status, started = _json(f"{api.url}/api/benchmark/runs", "POST",
                            {"name": "api-run", "sessions": ["cases"], "extra_args": ["--runner", "local",
                                                                                       "-k", "add or mul"]})
    assert status == 202, started
    run_id = started["id"]
    assert re.fullmatch(r"bench_[0-9a-f]{8}_[0-9]{8}_[0-9]{6}", run_id) and started["status"] == "running"
    # One run at a time: another one waits in the queue while this one runs.
    status, second = _json(f"{api.url}/api/benchmark/runs", "POST", {"sessions": ["also-missing"]})
    assert status == 202 and second["status"] == "queued"
    doc = _wait(api.url, run_id)
    assert doc["status"] == "complete", doc.get("error")
    assert doc["name"] == "api-run" and doc["exit_code"] == 0 and doc["sessions"] == 2  # the ones -k kept
    board = {r["model"]: r for r in doc["leaderboard"]}
    assert board["replay/gold"]["solved"] == 2 and board["replay/gold"]["rank"] == 1
    assert board["replay/noop"]["solved"] == 0 and board["replay/noop"]["n"] == 2
    # The id the API answered is the id pytest ran under: its artifact carries it.
    artifact = json.loads((project / ".modelbench" / "runs" / f"{run_id}.json").read_text())
    assert artifact["run"]["id"] == run_id and artifact["run"]["name"] == "api-run"
    assert [r["solved"] for r in artifact["aggregates"]["per_model"]] == [r["solved"] for r in doc["leaderboard"]]

    status, headers, page = _call(f"{api.url}/")
    if status == 503:
        pytest.fail(f"the report page is missing: {page[:200]!r}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert run_id.encode() in page and b"<script src=" not in page

    status, answer = _json(f"{api.url}/api/benchmark/recommend?task_pattern=fix-bug")
    assert status == 200, answer
    assert {"model", "confidence", "reason"} <= set(answer)
    assert answer["model"] is None or isinstance(answer["model"], str)
    status, err = _json(f"{api.url}/api/benchmark/recommend?task_pattern=fix-bug&intent=no-such-intent")
    assert status == 400 and "error" in err
    doc = _wait(api.url, second["id"])
    assert doc["status"] == "failed" and "also-missing: not a known source" in doc["error"]


def test_a_run_that_cannot_start_is_failed_with_the_reason(api: Served) -> None:
    status, started = _json(f"{api.url}/api/benchmark/runs", "POST", {"sessions": ["no-such-source"]})
    assert status == 202 and started["status"] in ("running", "queued")
    doc = _wait(api.url, started["id"])
    assert doc["status"] == "failed" and doc["exit_code"] == 4
    assert "no-such-source: not a known source" in doc["error"]


def test_bad_requests_get_json_errors(api: Served) -> None:
    runs = f"{api.url}/api/benchmark/runs"
    cases = [
        (b"{not json", "application/json", 400, "not JSON"),
        ({"models": "replay/gold", "sample_size": -1}, "application/json", 400, "sample_size"),
        ({"colour": "red"}, "application/json", 400, "field 'colour': unknown"),
        ({"models": ["bad model!"]}, "application/json", 400, "not a model id"),
        ({"budget_cap_usd": 0}, "application/json", 400, "budget_cap_usd"),
        ({"extra_args": ["-p", "evil"]}, "application/json", 400, "-p is not allowed"),
        ({"extra_args": ["--modelbench-store=/tmp/x.db"]}, "application/json", 400, "--modelbench-store"),
        ({"name": "x"}, "text/plain", 415, "application/json"),
    ]
    for body, ctype, code, text in cases:
        status, doc = _json(runs, "POST", body, content_type=ctype)
        assert status == code and text in doc["error"], (body, status, doc)
    assert _json(f"{runs}/bench_00000000_20260101_000000")[0] == 404
    assert _json(f"{runs}/../../etc/passwd")[0] == 404
    assert _json(f"{runs}/not-a-run")[0] == 404
    assert _json(runs)[0] == 405
    assert _json(f"{api.url}/api/nothing")[0] == 404
    status, doc = _json(f"{api.url}/api/benchmark/recommend")
    assert status == 400 and "task_pattern" in doc["error"]
    # Only requests naming this server: a DNS-rebinding page cannot reach it.
    status, doc = _json(f"{api.url}/api/benchmark/runs/bench_00000000_20260101_000000",
                        headers={"Host": "attacker.example"})
    assert status == 403


def test_a_token_is_required_when_set(project: Path) -> None:
    served = Served(make_server("127.0.0.1", 0, project / "store.db", project, token="s3cret"))
    try:
        url = f"{served.url}/api/benchmark/runs/bench_00000000_20260101_000000"
        status, headers, _ = _call(url)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert _call(url, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert _call(url, headers={"Authorization": "Bearer s3cret"})[0] == 404  # through the door, unknown run
    finally:
        served.close()


def test_non_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs --token"):
        make_server("0.0.0.0", 0, tmp_path / "s.db", tmp_path)  # noqa: S104 - refused before binding


def test_run_request_validation_is_pure() -> None:
    req = parse_run_request({"models": "a/b, c/d", "sample_size": 2, "budget_cap_usd": 1, "extra_args": ["-k", "x"]})
    assert req.models == ("a/b", "c/d") and req.sample_size == 2 and req.budget_cap_usd == 1.0
    with pytest.raises(ApiError, match="expected a JSON object"):
        parse_run_request([1, 2])


def test_allowed_extra_args_come_from_the_option_table() -> None:
    from pytest_modelbench.cli.runrequest import EXTRA_ALLOWED, PYTEST_FLAGS, check_extra_args
    from pytest_modelbench.run.optiontable import OPTIONS

    refused = {o.flag for o in OPTIONS if not o.api}
    # The server owns its store, artifact, report and manifest files, sets --modelbench and the run id itself, and
    # runs only the benchmark (not the project's tests, not a resumed run), with the environments it chooses (a
    # request never names an interpreter to run), its own door (never an address a request names), and no per-model
    # settings (a system prompt '@file' would read a file on the server).
    assert refused == {"--modelbench", "--modelbench-store", "--modelbench-json", "--modelbench-html",
                       "--sample-manifest", "--modelbench-with-tests", "--modelbench-resume", "--modelbench-run-id",
                       "--modelbench-env", "--modelbench-door", "--model-setting"}
    # A new option that writes a file (metavar PATH) must be refused until someone decides otherwise.
    assert all(not o.api for o in OPTIONS if o.metavar == "PATH")
    assert EXTRA_ALLOWED == {o.flag for o in OPTIONS} - refused | set(PYTEST_FLAGS)
    check_extra_args(["--repeats", "2", "--models=a/b", "-k", "x", "--maxfail", "1"])  # every kind passes
    for flag in sorted(refused) + ["-p", "--rootdir", "-c"]:
        with pytest.raises(ApiError, match=f"{flag} is not allowed over the API"):
            check_extra_args([f"{flag}=x"])

"""Remote workers: the door also listens on TCP, every connection presents the run's secret, and xdist workers
started over real ssh (a throwaway sshd on 127.0.0.1) share one budget through it."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_modelbench.models.broker import Broker, BrokerClient, DoorRefused, door_address_for
from pytest_modelbench.models.door import DoorConfig
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts, write_case

SECRET = "-".join(("s3cret", "for", "this", "test", "only"))  # built: no secret-shaped literal in the repo


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with FakeOpenAI(lifetime=120) as server:
        b = Broker(DoorConfig(api_base=server.base_url, cache_mode="off"), tmp_path / "b.sock", SECRET,
                   ("127.0.0.1", 0))
        b.fake = server  # type: ignore[attr-defined]
        try:
            yield b
        finally:
            b.close()


def test_tcp_with_the_secret_is_served_and_without_it_refused_and_logged(
        broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    address = door_address_for(broker, remote=True)
    assert address.startswith("127.0.0.1:") and door_address_for(broker, remote=False) == str(broker.socket_path)
    assert BrokerClient(address, secret=SECRET, timeout=10).call({"op": "budget"})["ok"]
    assert BrokerClient(broker.socket_path, secret=SECRET, timeout=10).call({"op": "budget"})["ok"]
    with pytest.raises(DoorRefused, match=r"refused this connection: it did not present the run's secret"):
        BrokerClient(address, secret="guess", timeout=10).call({"op": "budget"})
    # A client that presents nothing: its first request is taken for the handshake and refused, never served.
    assert BrokerClient(broker.socket_path, secret=None, timeout=10).call({"op": "budget"})["kind"] == "refused"
    # A raw connection that sends a request straight away: refused, and the request is never served.
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        request = {"op": "complete", "model": "openai/noop", "messages": [{"role": "user", "content": "x"}]}
        raw.sendall((json.dumps(request) + "\n").encode())
        reply = json.loads(raw.makefile("rb").readline())
    assert reply["kind"] == "refused"
    stats = broker.dispatch({"op": "stats"})
    assert stats["refused_connections"] == 3 and stats["requests_sent"] == 0
    assert broker.fake.requests == []  # type: ignore[attr-defined]
    assert "wrong secret" in stats["refusals"][0] and "no secret" in stats["refusals"][2]
    assert sum("the model door refused a connection" in r.getMessage() for r in caplog.records) == 3


def test_tcp_needs_a_secret_and_the_option_is_checked(tmp_path: Path, pytester: pytest.Pytester) -> None:
    with pytest.raises(ValueError, match="only with a per-run secret"):
        Broker(DoorConfig(), tmp_path / "x.sock", None, ("127.0.0.1", 0))
    bad = pytester.runpytest_subprocess("--modelbench", "--modelbench-door", "everywhere")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--modelbench-door: expected HOST:PORT" in bad.stderr.str()


# -- real ssh gateways --------------------------------------------------------------------------------------------

def _need(reason: str) -> None:
    if os.environ.get("MODELBENCH_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"{reason} (MODELBENCH_REQUIRE_SANDBOX=1: CI must provide it; .ci/run installs openssh-server)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A throwaway sshd on 127.0.0.1 (own host key, own config, no PAM) that accepts one throwaway client key."""
    binary = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if binary is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        _need("OpenSSH's server and client are not installed (apt-get install openssh-server)")
    assert binary is not None
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        Path("/run/sshd").mkdir(mode=0o755, parents=True)  # a root sshd insists on its privilege separation folder
    d = tmp_path / "ssh"
    d.mkdir(mode=0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n")
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the listening socket (an event), not for a fixed time
            if proc.poll() is not None:
                _need(f"sshd did not start: {proc.stderr.read()[-500:] if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    _need("sshd did not listen within 30 s")
                time.sleep(0.05)
        yield port, d / "client_key"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_two_ssh_workers_share_one_budget_through_the_tcp_door(pytester: pytest.Pytester,
                                                                sshd: tuple[int, Path]) -> None:
    port, key = sshd
    for i in range(8):
        write_case(pytester.path / "cases", f"c{i}", {"m.py": "X = 0\n"}, {"m.py": f"X = {i + 1}\n"},
                   {"tests/test_m.py": f"from m import X\n\n\ndef test_x():\n    assert X == {i + 1}\n"})
    pytester.makeconftest(
        "def pytest_modelbench_update_json(config, artifact):\n"
        "    bench = config.pluginmanager.get_plugin('modelbench-session')\n"
        "    artifact['extra']['door'] = bench.broker_stats\n")
    ssh = (f"ssh=-p {port} -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes "
           f"-o IdentitiesOnly=yes -o LogLevel=ERROR {getpass.getuser()}@127.0.0.1"
           f"//python={sys.executable}//chdir={pytester.path}")
    with FakeOpenAI(lifetime=600) as server:
        for i in range(8):
            server.teach(f"Work on c{i}.", {"m.py": f"X = {i + 1}\n"})
        cap = 0.1  # each call reserves about $0.065 and costs about $0.014: a few items fit, not all eight
        result = pytester.runpytest_subprocess(
            "--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--sessions=cases",
            "--models", "openai/solver", "--model-api-base", server.base_url, "--replay-mode", "zero-shot",
            "--modelbench-cache", "off", "--price", "openai/solver=100,100",
            "--model-setting", "openai/solver:max_tokens=100", "--budget-cap-usd", str(cap),
            "-d", "--tx", f"2*{ssh}", timeout=480)
        out = result.stdout.str() + result.stderr.str()
        assert result.ret == 0, out[-3000:]
        (artifact,) = read_artifacts(pytester.path / ".modelbench")
        outcomes = artifact["outcomes"]
        complete = [o for o in outcomes if o["status"] == "complete"]
        cancelled = [o for o in outcomes if o["status"] == "cancelled-over-budget"]
        budget = artifact["budget"]
        assert len(outcomes) == 8 and len(complete) + len(cancelled) == 8
        assert complete and cancelled, "the cap should let some items through and cancel the rest"
        assert budget["spent_usd"] <= cap
        # One ledger: what it booked is what the items paid, and every request the server saw was paid for.
        assert budget["spent_usd"] == pytest.approx(sum(o["cost_usd"] for o in complete), abs=1e-9)
        assert len(server.requests) == sum(o["evidence"]["replay"]["model_calls"] for o in complete)
        assert all(o["solved"] for o in complete)
        door = artifact["extra"]["door"]
        assert door["connections"]["tcp"] >= 2 and door["connections"]["unix"] == 0, door
        assert door["refused_connections"] == 0
    result.stdout.fnmatch_lines(["*ssh*"])

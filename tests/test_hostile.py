"""Hostile gold changes run in the bwrap sandbox: none of their attempts succeeds, and the run goes on."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from .helpers import DATA, read_artifacts, requires_bwrap

pytestmark = [requires_bwrap]

ESCAPE_TARGET = Path("/var/tmp/modelbench-hostile-escape.txt")
CANARY = Path.home() / ".modelbench-hostile-canary"


class LoopbackServer:
    """Counts connections on 127.0.0.1; stops by itself after ``lifetime`` seconds."""

    def __init__(self, lifetime: float = 120.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _sleepers() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "modelbench-hostile-sleeper" in text and "python" in text.split(" ")[0]:
            found.append(text)
    return found


def test_hostile_gold_changes_do_not_escape(pytester: pytest.Pytester) -> None:
    cases = pytester.path / "cases"
    shutil.copytree(DATA / "hostile", cases)
    server = LoopbackServer()
    (cases / "network" / "gold" / "port.txt").write_text(str(server.port))
    ESCAPE_TARGET.unlink(missing_ok=True)
    CANARY.write_text("canary: the sandbox must not see this")
    # The same gold changes really do what they claim outside the sandbox (so the test can fail).
    try:
        started = time.monotonic()
        result = pytester.runpytest_subprocess(
            "--modelbench", "--sessions", str(cases), "--runner", "bwrap", "--models", "replay/gold",
            "-p", "no:cacheprovider", "-rs",
        )
        elapsed = time.monotonic() - started
    finally:
        CANARY.unlink(missing_ok=True)
        server.close()
    result.assert_outcomes(passed=1, skipped=5)
    assert not ESCAPE_TARGET.exists(), "a sandboxed write reached the host's /var/tmp"
    assert server.connections == 0, "a sandboxed process reached a loopback server of the host"
    assert _sleepers() == [], "a process started by the looping gold outlived its check"
    assert elapsed < 90

    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    by_id = {o["session_id"]: o for o in artifact["outcomes"]}
    assert by_id["benign-add"]["status"] == "complete" and by_id["benign-add"]["solved"] is True
    for hostile in ("escape-write", "read-home", "network", "fake-passed", "loop-forever"):
        outcome = by_id[hostile]
        assert outcome["status"] == "skipped", hostile
        assert outcome["skip_reason"].startswith("invalid session: gold does not pass its check"), hostile
    assert by_id["fake-passed"]["evidence"]["gold"]["result_file_found"] is False
    assert by_id["fake-passed"]["evidence"]["gold"]["exit_code"] == 0  # it did exit 0 and print "passed"
    assert by_id["loop-forever"]["evidence"]["gold"]["timed_out"] is True
    for hostile in ("escape-write", "read-home", "network"):
        assert by_id[hostile]["evidence"]["gold"]["failed"] == 1, hostile


def test_hostile_gold_changes_work_without_a_sandbox(tmp_path: Path) -> None:
    """Control: the attacks are real. Run outside any sandbox, the escape and the snoop succeed."""
    import importlib.util

    ESCAPE_TARGET.unlink(missing_ok=True)
    CANARY.write_text("canary: control")
    try:
        for name, func in (("escape_write/gold/escape.py", "escape"), ("read_home/gold/snoop.py", "find_canary")):
            spec = importlib.util.spec_from_file_location(f"hostile_{func}", DATA / "hostile" / name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            assert getattr(module, func)()
        assert ESCAPE_TARGET.read_text() == "escaped"
    finally:
        ESCAPE_TARGET.unlink(missing_ok=True)
        CANARY.unlink(missing_ok=True)

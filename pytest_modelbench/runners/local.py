"""The local runner: a subprocess with rlimits and the allow-listed environment, below a guard process.

It has no namespaces, so it cannot hide the file system or the network by itself. The guard (``guard.py``) adds
what an unprivileged process can: a subreaper that kills everything the command leaves behind, its own wall
timeout, and, when the kernel offers Landlock, reads limited to the system, interpreter and mounted folders, writes
limited to the workspace and a private TMPDIR, no TCP connect or bind, and no signals to processes outside.
``--runner auto`` still prefers bwrap.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_modelbench.runners import (
    SYSTEM_DIRS,
    RunnerError,
    RunRequest,
    RunResult,
    interpreter_dirs,
    run_process,
    sandbox_env,
    scratch_base,
    set_limits,
)

GUARD = Path(__file__).with_name("guard.py")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
GRACE = 10.0  # the guard enforces the timeout; the harness kills the guard only if it overstays by this much


@functools.cache
def landlock_abi() -> int:
    """Landlock ABI of this kernel (0: none); ``MODELBENCH_NO_LANDLOCK=1`` turns it off."""
    if os.environ.get("MODELBENCH_NO_LANDLOCK") == "1":
        return 0
    res = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {str(GUARD.parent)!r}); import guard; "
                          "print(guard.landlock_abi())"], capture_output=True, text=True, timeout=30)
    try:
        return int(res.stdout.strip())
    except ValueError:
        return 0


class LocalRunner:
    name = "local"

    def guard_argv(self, request: RunRequest, tmp: str, status_fd: int, timeout: float) -> list[str]:
        from pytest_modelbench.runners.bwrap import ETC_FILES

        read_only = [*SYSTEM_DIRS, *ETC_FILES, *(str(d) for d in interpreter_dirs())]
        read_only += [str(m.path) for m in request.mounts if not m.writable]
        writable = [str(request.workspace), tmp, *(str(m.path) for m in request.mounts if m.writable)]
        args = [str(timeout), str(status_fd), str(landlock_abi())]
        for group in (read_only, writable, list(DEVICES)):
            args += [str(len(group)), *group]
        return [sys.executable, "-I", "-S", str(GUARD), *args, *request.argv]

    def run(self, request: RunRequest) -> RunResult:
        tmp = tempfile.mkdtemp(prefix="modelbench-tmp-", dir=scratch_base())
        read_fd, write_fd = os.pipe()
        try:
            env = sandbox_env(request.workspace, {**request.env, "TMPDIR": tmp})
            argv = self.guard_argv(request, tmp, write_fd, request.timeout)
            result = run_process(argv, cwd=request.workspace, env=env, timeout=request.timeout + GRACE,
                                 pass_fds=(write_fd,))
            os.close(write_fd)
            write_fd = -1
            with os.fdopen(read_fd, "rb") as fh:
                read_fd = -1
                raw = fh.read()
        finally:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            code, timed_out, _abi = (int(x) for x in raw.split())
        except ValueError:
            # The guard itself died or overstayed (it cannot be signalled from inside when Landlock scopes signals).
            return RunResult(None, True, result.duration_seconds, result.stdout_tail, result.stderr_tail)
        return RunResult(None if timed_out else code, bool(timed_out), result.duration_seconds, result.stdout_tail,
                         result.stderr_tail)

    def start(self, request: RunRequest) -> subprocess.Popen[bytes]:
        env = sandbox_env(request.workspace, {**request.env, "TMPDIR": str(request.workspace)})
        argv = self.guard_argv(request, str(request.workspace), -1, 0)
        try:
            return subprocess.Popen(argv, cwd=request.workspace, env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=set_limits)
        except OSError as exc:
            raise RunnerError(f"cannot start {argv[0]}: {exc}") from exc

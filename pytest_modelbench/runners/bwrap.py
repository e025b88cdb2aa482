"""The bubblewrap runner: read-only system and interpreter folders, a writable workspace, nothing else.

Not mounted: the user's home, the project, the store. Network, PID, IPC and UTS namespaces are new; the command runs
as an unprivileged user inside a user namespace when the kernel allows it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from pytest_modelbench.runners import (
    SYSTEM_DIRS,
    RunRequest,
    RunResult,
    interpreter_dirs,
    run_process,
    sandbox_env,
    start_process,
)

ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",  # localhost resolves inside the sandbox (test runners such as vitest talk to their workers on it)
    "/etc/ssl",
)
WORKSPACE = "/workspace"


def _system_args() -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS + ETC_FILES:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.exists(d):
            args += ["--ro-bind", d, d]
    for interp in interpreter_dirs():
        if not any(str(interp).startswith(s + "/") or str(interp) == s for s in SYSTEM_DIRS):
            args += ["--ro-bind", str(interp), str(interp)]
    return args


@functools.cache
def _userns_args() -> tuple[str, ...]:
    """Run as nobody inside a user namespace when possible, so root-only files stay unreadable."""
    probe = ["bwrap", "--unshare-user", "--uid", "65534", "--gid", "65534", "--ro-bind", "/", "/", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ("--unshare-user", "--uid", "65534", "--gid", "65534") if ok else ()


@functools.cache
def bwrap_problem() -> str | None:
    """None when a minimal sandbox starts here, else why not (one probe per process)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    probe = ["bwrap", *_system_args(), "--unshare-net", "--unshare-pid", "--die-with-parent", "--proc", "/proc",
             "--dev", "/dev", "true"]
    try:
        res = subprocess.run(probe, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    if res.returncode != 0:
        return res.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0] if res.stderr else "probe failed"
    return None


@functools.cache
def _bwrap() -> str:
    """bwrap found on the harness's PATH (the sandbox's allow-listed PATH is not where it was looked for)."""
    return shutil.which("bwrap") or "bwrap"


class BwrapRunner:
    name = "bwrap"

    def argv(self, request: RunRequest) -> list[str]:
        # Fresh /proc, /dev and /tmp first: later binds may live below them (a venv under /tmp, say).
        args = [_bwrap(), *_userns_args(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *_system_args()]
        args += [
            "--bind", str(request.workspace), WORKSPACE,
            "--chdir", WORKSPACE,
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session",
            "--hostname", "modelbench",
        ]
        for mount in request.mounts:
            flag = "--bind" if mount.writable else "--ro-bind"
            args += [flag, str(mount.path), str(mount.path)]
        args += ["--clearenv"]
        for key, value in sandbox_env(Path(WORKSPACE), request.env).items():
            args += ["--setenv", key, value]
        return [*args, "--", *request.argv]

    def run(self, request: RunRequest) -> RunResult:
        return run_process(self.argv(request), cwd=request.workspace, env=sandbox_env(request.workspace),
                           timeout=request.timeout)

    def start(self, request: RunRequest) -> subprocess.Popen[bytes]:
        return start_process(self.argv(request), cwd=request.workspace, env=sandbox_env(request.workspace))

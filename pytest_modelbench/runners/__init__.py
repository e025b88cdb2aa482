"""Runners execute commands in a workspace with an isolation level; model-written code runs nowhere else.

``bwrap``: bubblewrap sandbox. ``local``: a subprocess with rlimits (no namespaces). Both scrub the environment to
an allow-list, put HOME inside the workspace, and kill the whole process group at the wall timeout.
Pure package: no pytest imports.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_modelbench.errors import UserError

# Limits applied to every sandboxed command (per process; the wall timeout covers the rest).
CPU_SECONDS = 300
# Memory: RLIMIT_DATA (heap and private writable mappings), not RLIMIT_AS: JIT runtimes reserve address space
# they never use (node's WebAssembly reserves ~10 GiB of guard pages), and an address-space cap kills them at start.
DATA_BYTES = 4 * 1024**3
FILE_SIZE_BYTES = 256 * 1024**2
MAX_PROCESSES = 256
OUTPUT_TAIL = 4000
# System folders both runners expose read-only (bwrap binds them; local's guard allows reading them).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class RunnerError(UserError, RuntimeError):
    """The runner itself could not run (not the command failing)."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    timed_out: bool
    duration_seconds: float
    stdout_tail: str = ""
    stderr_tail: str = ""


@dataclass(frozen=True)
class Mount:
    """An extra folder made visible to the command at the same path (``writable`` only for harness result dirs)."""

    path: Path
    writable: bool = False


@dataclass(frozen=True)
class RunRequest:
    argv: tuple[str, ...]
    workspace: Path
    timeout: float
    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


class Runner(Protocol):
    """Executes commands in a workspace. ``name`` is recorded in evidence (``bwrap`` or ``local``)."""

    name: str

    def run(self, request: RunRequest) -> RunResult:
        """Run to completion (or the wall timeout, which kills the whole process group)."""
        ...

    def start(self, request: RunRequest) -> subprocess.Popen[bytes]:
        """Start a long-lived process with stdin/stdout pipes (``request.timeout`` is the caller's business)."""
        ...


def interpreter_dirs() -> list[Path]:
    """The folders the sandboxed interpreter needs: prefix, base prefix and their real locations."""
    dirs: list[Path] = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))):
        for cand in (Path(p), Path(os.path.realpath(p))):
            if cand not in dirs and cand.exists():
                dirs.append(cand)
    return dirs


def sandbox_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment: nothing from the caller's environment leaks in (API keys stay put)."""
    bindir = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": "modelbench",
        "LOGNAME": "modelbench",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "NO_COLOR": "1",
    }
    if extra:
        env.update(extra)
    return env


def set_limits() -> None:  # runs in the child between fork and exec
    import resource

    for res, value in (
        (resource.RLIMIT_CPU, CPU_SECONDS),
        (resource.RLIMIT_DATA, DATA_BYTES),
        (resource.RLIMIT_FSIZE, FILE_SIZE_BYTES),
        (resource.RLIMIT_NPROC, MAX_PROCESSES),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            soft, hard = resource.getrlimit(res)
            limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(res, (limit, limit))
        except (ValueError, OSError):
            pass


def start_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with limits, talking over pipes; kill it with :func:`kill_group`."""
    try:
        return subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=set_limits,
        )
    except OSError as exc:
        raise RunnerError(f"cannot start {argv[0]}: {exc}") from exc


def run_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float,
                pass_fds: tuple[int, ...] = ()) -> RunResult:
    """Start ``argv`` in its own session (process group) with limits; kill the whole group at the timeout.

    Output is read as it comes and only the tails are kept: a command printing gigabytes costs no memory here.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=set_limits,
            pass_fds=pass_fds,
        )
    except OSError as exc:
        raise RunnerError(f"cannot start {argv[0]}: {exc}") from exc
    try:
        out, err, timed_out = drain(proc, timeout)
    finally:
        # Killed at the timeout; a well-behaved command may still leave children behind in its group.
        kill_group(proc.pid)
        proc.wait()
    return RunResult(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration_seconds=time.monotonic() - start,
        stdout_tail=out.decode("utf-8", "replace")[-OUTPUT_TAIL:],
        stderr_tail=err.decode("utf-8", "replace")[-OUTPUT_TAIL:],
    )


def drain(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes, bool]:
    """Read stdout and stderr until both close or ``timeout`` passes (then kill the group); keep only the tails."""
    keep = OUTPUT_TAIL * 8
    tails = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    deadline = time.monotonic() + timeout
    timed_out = False
    with selectors.DefaultSelector() as sel:
        for stream, tail in tails.items():
            if stream is not None:
                sel.register(stream, selectors.EVENT_READ, tail)  # the key's data: that stream's tail buffer
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                kill_group(proc.pid)
                break
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf: bytearray = key.data
                buf += chunk
                if len(buf) > 2 * keep:
                    del buf[:-keep]
    for stream in tails:
        if stream is not None:
            stream.close()
    if not timed_out:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc.pid)
    return bytes(tails[proc.stdout]), bytes(tails[proc.stderr]), timed_out


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


RUNNER_KINDS = ("auto", "bwrap", "local")


def scratch_base() -> str | None:
    """Where run folders and workspaces go: ``$MODELBENCH_TMPDIR``, else /dev/shm when writable, else the default.

    Workspaces are small and short-lived; on a disk-backed /tmp, creating them costs ~30x more than in RAM.
    """
    chosen = os.environ.get("MODELBENCH_TMPDIR")
    if chosen:
        return chosen
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return None


def make_runner(kind: str) -> tuple[Runner, str | None]:
    """Return ``(runner, warning)``: ``auto`` falls back to ``local`` with one warning when bwrap does not work."""
    from pytest_modelbench.runners.bwrap import BwrapRunner, bwrap_problem
    from pytest_modelbench.runners.local import LocalRunner, landlock_abi

    if kind == "local":
        return LocalRunner(), None
    problem = bwrap_problem()
    if kind == "bwrap":
        if problem:
            raise RunnerError(f"--runner bwrap: bubblewrap does not work here: {problem}")
        return BwrapRunner(), None
    if problem:
        abi = landlock_abi()
        confined = (f"Landlock ABI {abi} confines files, TCP and signals" if abi >= 6 else
                    f"Landlock ABI {abi} confines files and TCP" if abi >= 4 else
                    f"Landlock ABI {abi} confines files only" if abi else "no filesystem or network isolation")
        return LocalRunner(), (
            f"bubblewrap is not usable here ({problem}); falling back to the local runner "
            f"(rlimits, a scrubbed environment, a process reaper; {confined})"
        )
    return BwrapRunner(), None

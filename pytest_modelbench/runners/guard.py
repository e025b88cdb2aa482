"""The local runner's guard: a small process between the harness and model-written code (standard library only).

Run as ``python -I -S guard.py TIMEOUT STATUS_FD LANDLOCK_ABI N_RO RO... N_RW RW... N_DEV DEV... ARGV...`` (no
JSON: importing it costs more than the rest of the guard). It

- becomes a child subreaper, so processes that detach (``setsid``, double fork) are re-parented to it, not to init;
- starts the command in a process group of its own, confined by Landlock when the kernel offers it: reads only from
  the system, interpreter and mounted folders, writes only to the workspace, writable mounts and a private TMPDIR;
  no TCP connect or bind (Landlock ABI 4+); no signals to processes outside (ABI 6+), so the harness and the guard
  cannot be killed from inside;
- enforces the wall timeout, then kills every process left below it and reports ``{"exit": N, "timed_out": B,
  "landlock": ABI}`` (as ``exit timed_out abi``) on the status file descriptor, which the command never sees.

Without Landlock (old kernels) only the subreaper, the process group and the timeout remain.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import struct
import sys
import time

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 38, 36, 1, 4
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    try:
        version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (AttributeError, OSError):
        return 0
    return max(0, int(version))


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _fail(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"landlock {what}: {os.strerror(err)}")


def confine(abi: int, read_only: list[str], writable: list[str], devices: list[str]) -> None:
    """Restrict this process and its future children (called in the child, before exec)."""
    handled = _fs_rights(abi)
    file_rights = EXECUTE | WRITE_FILE | READ_FILE | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0)
    if abi >= 6:
        attr = struct.pack("QQQ", handled, NET_BIND_TCP | NET_CONNECT_TCP, SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET)
    elif abi >= 4:
        attr = struct.pack("QQ", handled, NET_BIND_TCP | NET_CONNECT_TCP)
    else:
        attr = struct.pack("Q", handled)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _libc.syscall(SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        _fail("create_ruleset")
    rules = [(p, EXECUTE | READ_FILE | READ_DIR) for p in read_only] + [(p, handled) for p in writable]
    rules += [(p, READ_FILE | WRITE_FILE | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0))
              for p in devices]
    for path, rights in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # a folder that does not exist here grants nothing
        if not os.path.isdir(path):
            rights &= file_rights
        rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)
        if _libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), rule,
                         ctypes.c_uint32(0)) < 0:
            os.close(fd)
            _fail(f"add_rule {path}")
        os.close(fd)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _fail("no_new_privs")
    if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
        _fail("restrict_self")
    os.close(ruleset)


def _children(me: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(name))
    return found


def reap_all(pgid: int) -> None:
    """Kill the command's group and every process re-parented to this subreaper, until none is left."""
    me = os.getpid()
    for _ in range(2000):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        try:
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            return  # nothing left below the guard
        for pid in _children(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _wait_exit(pid: int, deadline: float | None) -> bool:
    """Wait until ``pid`` exits (True) or the deadline passes (False), without reaping it."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # kernels before 5.3: poll
        while deadline is None or time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.01)
        return False
    try:
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([pidfd], [], [], wait)
            if ready:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        os.close(pidfd)


def parse(args: list[str]) -> dict:
    timeout, status_fd, abi = float(args[0]), int(args[1]), int(args[2])
    rest = args[3:]
    lists = []
    for _ in range(3):
        n = int(rest[0])
        lists.append(rest[1:1 + n])
        rest = rest[1 + n:]
    return {"timeout": timeout, "status_fd": status_fd, "landlock": abi, "read_only": lists[0], "writable": lists[1],
            "devices": lists[2], "argv": rest}


def main() -> int:
    cfg = parse(sys.argv[1:])
    status_fd = int(cfg["status_fd"])
    argv = list(cfg["argv"])
    abi = int(cfg.get("landlock") or 0)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, lambda *_: None)  # the harness stops the guard with SIGKILL only
    pid = os.fork()
    if pid == 0:
        try:
            if status_fd >= 0:
                os.close(status_fd)
            os.setpgid(0, 0)
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if abi:
                confine(abi, cfg["read_only"], cfg["writable"], cfg["devices"])
            os.execvp(argv[0], argv)
        except BaseException as exc:  # noqa: BLE001 - report anything and never run the harness code further
            os.write(2, f"modelbench guard: cannot start {argv[0]}: {exc}\n".encode())
        os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    # Nothing of the guard's stays reachable from below: not its copies of the command's stdin/stdout (the judge's
    # protocol pipes), nor, through /proc/<guard>/fd, its status descriptor (not dumpable: closed to the same user).
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)
    timeout = float(cfg.get("timeout") or 0)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    timed_out = not _wait_exit(pid, deadline)
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    reap_all(pid)
    if status_fd >= 0:
        os.write(status_fd, f"{code} {int(timed_out)} {abi}".encode())
        os.close(status_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Function-completion judge (HumanEval style), running inside a Runner as a long-lived process.

Started as ``python -I -S fn_server.py`` in the sandbox. Reads one JSON job per line on stdin:
``{"id", "solution", "test", "entry_point", "timeout"}`` (code as text), and answers one JSON line per job:
``{"id", "passed", "failed", "exit_code", "timed_out", "detail", "tampered", "cleaned"}``.

Each job runs in a forked child in its own process group: the solution code, then the test code, then
``check(<entry_point>)``. The child cannot touch the protocol (stdin/stdout are /dev/null in it, every other
descriptor is closed, and this process is not dumpable, so /proc/<pid>/fd of the judge is closed to it) and reports
through a pipe of its own. That pipe is the weak point: the solution runs in the same process and can write to it.
So the report must also carry

- this job's nonce (random per job; a forger writing "passed" blindly to every descriptor does not know it), and
- the result of a **sentinel**: a twin ``check`` run, in random order with the real one, whose candidate is a
  harness object that fails every use, and which the harness fails itself if ``check`` ever returns. Its true
  result is "failed"; a forger that reports "passed" regardless, or whenever it sees a failure, reports the
  sentinel passed too.

A report that breaks either rule is a forgery: the job is not passed and ``tampered`` says what was expected and
what came. See docs/verdicts.md for what this does not cover. A child that prints "passed" and exits early, or never
finishes, does not pass (and is not called a forgery: there is no report).

After every job the scratch folder and (``--clean-tmp``, inside a sandbox where /tmp is private) /tmp are emptied,
so jobs cannot see each other's files; nothing below a mount point is ever walked (a virtual environment under /tmp
is bind-mounted there, read-only: walking it after every job cost 0.3 s per check).
Standard library only: it runs with ``-S`` (no site-packages), which starts about four times faster.
"""

import json
import os
import random
import select
import shutil
import signal
import sys
import time

SENTINEL_MESSAGE = "modelbench sentinel"


def _not_dumpable():
    """PR_SET_DUMPABLE 0: /proc/<this pid>/fd and /mem are closed to the children (same user, no capabilities)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except Exception:  # noqa: BLE001 - no prctl (not Linux): the nonce and the sentinel still hold
        pass


def mount_points():
    """Every mount point of this process's mount namespace (the binds of the sandbox among them)."""
    points = set()
    try:
        with open("/proc/self/mountinfo", "rb") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4:
                    points.add(fields[4].decode("utf-8", "surrogateescape").replace("\\040", " "))
    except OSError:
        pass
    return points


def clean(folder, mounts, stats):
    """Empty ``folder``: remove what jobs wrote, never walk into a mount point, keep the folders that lead to one.

    ``stats["visited"]`` counts the entries looked at: the work done, for the tests and the benchmark.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        stats["visited"] += 1
        if path in mounts:
            continue  # a bind (the interpreter's folders, say): not ours, never walked
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                prefix = path + "/"
                if any(m.startswith(prefix) for m in mounts):
                    clean(path, mounts, stats)  # leads to a mount point: empty what is beside it, keep the folder
                else:
                    _rmtree(path, stats)
            else:
                os.unlink(path)
        except OSError:
            pass


def _rmtree(path, stats):
    def count(*_):
        stats["visited"] += 1

    shutil.rmtree(path, onexc=count) if sys.version_info >= (3, 12) else shutil.rmtree(path, onerror=count)


class _Poison:
    """The sentinel's candidate result: every use of it fails, so ``check`` fails where it looks at the result."""

    def _fail(self, *args, **kwargs):
        raise AssertionError(SENTINEL_MESSAGE)

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = __hash__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __floordiv__ = __mod__ = __pow__ = __neg__ = __abs__ = __float__ = __int__ = __index__ = _fail
    __getitem__ = __contains__ = __call__ = __round__ = _fail

    def __getattr__(self, name):
        raise AssertionError(SENTINEL_MESSAGE)

    def __repr__(self):
        return "<sentinel>"


def _sentinel_candidate(*args, **kwargs):
    return _Poison()


class _Fresh:
    """An object nothing honest equals: a result that claims to equal it claims to equal anything."""

    __hash__ = object.__hash__


def _probed(candidate, seen):
    """``candidate``, with every result compared with a fresh object: an always-equal result is a forgery."""

    def call(*args, **kwargs):
        result = candidate(*args, **kwargs)
        if not seen:
            try:
                if result == _Fresh():
                    seen.append(type(result).__name__)
            except Exception:  # noqa: BLE001 - a result that cannot be compared is the check's business
                pass
        return result

    return call


def _run_check(namespace, candidate, sentinel):
    """``(status, detail)`` of one ``check`` run; the sentinel's run always ends failed when nothing forges it."""
    try:
        namespace["check"](_sentinel_candidate if sentinel else candidate)
        if sentinel:
            raise AssertionError(SENTINEL_MESSAGE)  # check() did not look at the result: still a failure
        return 0, "ok"
    except BaseException as exc:  # noqa: BLE001 - everything a solution raises is a failure
        return 1, f"{type(exc).__name__}: {exc}"[:500]


def _child(job, write_fd, nonce, sentinel_first):
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.closerange(3, write_fd)  # nothing of the judge's stays reachable: only the report pipe
    os.closerange(write_fd + 1, 1 << 16)
    os.setpgid(0, 0)
    status, detail = 1, ""
    twin = None
    equal_to_all = []  # the type name of a result that equalled a fresh object, if any did
    lines = set()
    if job.get("trace"):
        # Line coverage of the solution only: a tracer that follows frames whose code came from solution.py.
        def tracer(frame, event, arg):
            if frame.f_code.co_filename != "solution.py":
                return None
            if event == "line":
                lines.add(frame.f_lineno)
            return tracer

        sys.settrace(tracer)
    try:
        namespace = {"__name__": "solution", "__builtins__": __builtins__}
        exec(compile(job["solution"], "solution.py", "exec"), namespace)
        exec(compile(job["test"], "check.py", "exec"), namespace)
        candidate = namespace.get(job["entry_point"])
        if candidate is None:
            raise NameError(f"entry point {job['entry_point']!r} is not defined")
        for sentinel in (True, False) if sentinel_first else (False, True):
            if sentinel:
                twin = _run_check(namespace, candidate, True)
            else:
                status, detail = _run_check(namespace, _probed(candidate, equal_to_all), False)
    except BaseException as exc:  # noqa: BLE001 - everything a solution raises is a failure
        detail = f"{type(exc).__name__}: {exc}"[:500]
    sys.settrace(None)
    report = {"nonce": nonce, "status": status, "detail": detail, "lines": sorted(lines)}
    if twin is not None:
        report["sentinel"] = twin[0]
    if equal_to_all:
        report["equal_to_all"] = equal_to_all[0]
    try:
        os.write(write_fd, json.dumps(report).encode())
    finally:
        os._exit(status)


def verify(raw, nonce):
    """``(report, tampered)`` from the child's bytes: ``tampered`` is "" or what was expected and what came."""
    if not raw:
        return {}, ""  # no report at all: a crash or an early exit, which fails without being a forgery
    text = raw.decode("utf-8", "replace")
    try:
        report = json.loads(text)
    except ValueError:
        return {}, f"expected one harness report, got {len(raw)} bytes that are not one: {text[:120]!r}"
    if not isinstance(report, dict):
        return {}, f"expected one harness report, got {text[:120]!r}"
    if report.get("nonce") != nonce:
        return {}, f"expected this job's nonce in the report, got {str(report.get('nonce'))[:40]!r}"
    if report.get("sentinel") == 0 or (report.get("status") == 0 and report.get("sentinel") != 1):
        got = {0: "passed", None: "no result"}.get(report.get("sentinel"), repr(report.get("sentinel")))
        return {}, f"expected the sentinel check to fail, got {got}"
    if report.get("status") == 0 and report.get("equal_to_all"):
        return {}, (f"expected results that equal only their value, got a {str(report['equal_to_all'])[:40]} "
                    "equal to a fresh harness object")
    return report, ""


def run_job(job):
    nonce = os.urandom(16).hex()
    sentinel_first = random.random() < 0.5
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(job, write_fd, nonce, sentinel_first)
    os.close(write_fd)
    deadline = time.monotonic() + float(job["timeout"])
    chunks, timed_out = [], False
    while True:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            timed_out = True
            break
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        if sum(len(c) for c in chunks) > 1 << 22:
            break  # more than any report: a flood, read no further
    os.close(read_fd)
    for target in (-pid, pid):  # the whole group: whatever the solution started dies too
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    report, tampered = verify(b"".join(chunks), nonce)
    passed = not timed_out and not tampered and report.get("status") == 0 and report.get("detail") == "ok"
    if tampered:
        detail = f"tampered: {tampered}"
    elif timed_out:
        detail = f"killed at the {job['timeout']} s timeout"
    elif passed:
        detail = "ok"
    else:
        detail = report.get("detail") or f"exited with {code} before the check finished"
    return {
        "id": job["id"],
        "lines": report.get("lines") if job.get("trace") else None,
        "passed": 1 if passed else 0,
        "failed": 0 if passed else 1,
        "exit_code": None if timed_out else (0 if passed else (code or 1)),
        "timed_out": timed_out,
        "detail": detail,
        "tampered": tampered,
    }


def main():
    _not_dumpable()
    scratch = os.getcwd()
    clean_tmp = "--clean-tmp" in sys.argv[1:]  # only inside a sandbox, where /tmp is private
    mounts = mount_points()
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        reply = run_job(job)
        stats = {"visited": 0}
        clean(scratch, mounts, stats)
        if clean_tmp:
            clean("/tmp", mounts, stats)
        reply["cleaned"] = stats["visited"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

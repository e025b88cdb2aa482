"""Function-completion judge (HumanEval style), running inside a Runner as a long-lived process.

Started as ``python -I -S fn_server.py`` in the sandbox. Reads one JSON job per line on stdin:
``{"id", "solution", "test", "entry_point", "timeout"}`` (code as text), and answers one JSON line per job:
``{"id", "passed", "failed", "exit_code", "timed_out", "detail"}``.

Each job runs in a forked child in its own process group: the solution code, then the test code, then
``check(<entry_point>)``. The child cannot touch the protocol (stdin/stdout are /dev/null in it) and reports through
a pipe of its own; a child that prints "passed" and exits early, or never finishes, does not pass. The scratch
folder and /tmp are emptied after every job, so jobs cannot see each other's files.
Standard library only: it runs with ``-S`` (no site-packages), which starts about four times faster.
"""

import json
import os
import select
import shutil
import signal
import sys
import time


def _clean(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _child(job, write_fd):
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.setpgid(0, 0)
    status, detail = 1, ""
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
        namespace["check"](candidate)
        status, detail = 0, "ok"
    except BaseException as exc:  # noqa: BLE001 - everything a solution raises is a failure
        detail = f"{type(exc).__name__}: {exc}"[:500]
    sys.settrace(None)
    try:
        os.write(write_fd, json.dumps({"status": status, "detail": detail, "lines": sorted(lines)}).encode())
    finally:
        os._exit(status)


def run_job(job):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(job, write_fd)
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
    os.close(read_fd)
    for target in (-pid, pid):  # the whole group: whatever the solution started dies too
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    try:
        report = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        report = {}
    passed = not timed_out and report.get("status") == 0 and report.get("detail") == "ok"
    if timed_out:
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
    }


def main():
    scratch = os.getcwd()
    clean_tmp = "--clean-tmp" in sys.argv[1:]  # only inside a sandbox, where /tmp is private
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        reply = run_job(job)
        _clean(scratch)
        if clean_tmp:
            _clean("/tmp")
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

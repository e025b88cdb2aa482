"""The local runner: a subprocess in its own process group with rlimits and the allow-listed environment.

It has no namespaces, so it cannot hide the file system or the network; ``--runner auto`` prefers bwrap.
"""

from __future__ import annotations

import subprocess

from . import RunRequest, RunResult, run_process, sandbox_env, start_process


class LocalRunner:
    name = "local"

    def run(self, request: RunRequest) -> RunResult:
        env = sandbox_env(request.workspace, request.env)
        return run_process(request.argv, cwd=request.workspace, env=env, timeout=request.timeout)

    def start(self, request: RunRequest) -> subprocess.Popen[bytes]:
        return start_process(request.argv, cwd=request.workspace, env=sandbox_env(request.workspace, request.env))

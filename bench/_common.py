"""What the benchmark scripts share: argument types, the child environment, timed runs, error reporting."""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BYTECODE_VAR = "PYTHONDONTWRITEBYTECODE"


class BenchError(RuntimeError):
    """A run failed or its output did not show what it must."""


@dataclass(frozen=True)
class RunResult:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def child_env(keep_env: bool) -> dict[str, str]:
    """The environment for the timed commands: by default without PYTHONDONTWRITEBYTECODE (a normal user's
    Python caches bytecode; with it set, every run recompiles every import)."""
    env = dict(os.environ)
    if not keep_env:
        env.pop(BYTECODE_VAR, None)
    return env


def describe_env(keep_env: bool) -> str:
    value = os.environ.get(BYTECODE_VAR)
    if keep_env:
        shown = f"{BYTECODE_VAR}={value}" if value is not None else f"{BYTECODE_VAR} unset"
        return f"kept as is (--keep-env; {shown})"
    if value is not None:
        return f"{BYTECODE_VAR} removed (was {value!r})"
    return f"{BYTECODE_VAR} removed (it was not set)"


def run_timed(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> RunResult:
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return RunResult(time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def failure(what: str, cmd: Sequence[str], result: RunResult) -> BenchError:
    return BenchError(
        f"{what}\ncommand: {' '.join(cmd)}\nexit code: {result.returncode}\n"
        f"--- stdout (tail) ---\n{tail(result.stdout)}\n--- stderr (tail) ---\n{tail(result.stderr)}"
    )

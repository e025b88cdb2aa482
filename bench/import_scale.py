"""Benchmark: importing a large transcript history into the history index, then sampling from it.

Generates a history of Claude Code (80%) and Codex (20%) sessions with realistic line shapes (streamed assistant
lines with usage, Read results, Edits, Writes, Bash test runs, progress lines; Codex token_count events, shell
calls and apply_patch), by default 10,000 sessions and about 1 GB, then measures:

* the full import (MB/s; target >= 30),
* the re-import of the unchanged history (target <= 5% of the full import),
* sampling over the index: reading the light rows and a stratified, seeded sample of 10 (target <= 0.5 s).

    python bench/import_scale.py                       # 10,000 sessions, ~1 GB
    python bench/import_scale.py --sessions 200 --mb 20 --json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session  # noqa: E402
from pytest_modelbench.sampling.sample import stratified_sample  # noqa: E402
from pytest_modelbench.sources.transcripts.index import HistoryIndex  # noqa: E402

PROMPTS = [
    "Fix the crash in the parser when the input is empty", "Refactor the storage layer into its own module",
    "Add an endpoint that exports the report as CSV", "Write unit tests for the retry helper",
    "Update the README with the new configuration options", "Set up the CI workflow to run on pull requests",
    "How does the scheduler decide which job runs next?", "The login form shows the wrong error message, fix it",
    "Implement pagination for the search results", "Rename the config loader and simplify its options",
]
MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5-20251001"]
CODE_LINE = "    value = compute(item, options=options, retries=3)  # keep the previous behaviour for old callers\n"


def _code(rng: random.Random, kb: int) -> str:
    lines = [f"def function_{i}(item, options):\n{CODE_LINE}    return value\n\n" for i in range(kb * 6)]
    rng.shuffle(lines)
    return "".join(lines)[: kb * 1024]


def _ts(base: float, n: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + n)) + ".000Z"


def claude_session(rng: random.Random, sid: str, cwd: str, base: float, target: int) -> str:
    out: list[str] = []
    n = 0
    parent = None

    def env(kind: str, **extra: object) -> dict[str, object]:
        nonlocal n, parent
        n += 1
        uid = f"{sid[:8]}-{n:04d}-4000-8000-{rng.getrandbits(48):012x}"
        d: dict[str, object] = {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd,
                                "sessionId": sid, "version": "2.1.38", "gitBranch": "main", "type": kind,
                                "uuid": uid, "timestamp": _ts(base, n), **extra}
        parent = uid
        return d

    model = rng.choice(MODELS)
    out.append(json.dumps(env("user", message={"role": "user", "content": rng.choice(PROMPTS)})))
    size = 0
    call = 0
    while size < target:
        call += 1
        tool = rng.choice(["Read", "Read", "Edit", "Bash", "Write", "Grep"])
        path = f"{cwd}/src/module_{rng.randrange(40)}.py"
        tool_id = f"toolu_{sid[:8]}{call:06d}"
        if tool == "Read":
            text = _code(rng, rng.randint(2, 12))
            tool_input: dict[str, object] = {"file_path": path}
            result = "\n".join(f"{i:>6}→{line}" for i, line in enumerate(text.split("\n"), 1))
            tur: object = {"type": "text", "file": {"filePath": path, "content": text, "numLines": text.count("\n"),
                                                    "startLine": 1, "totalLines": text.count("\n")}}
        elif tool == "Edit":
            tool_input = {"file_path": path, "old_string": CODE_LINE, "new_string": CODE_LINE.replace("3", "5"),
                          "replace_all": False}
            result, tur = f"The file {path} has been updated.", {"filePath": path, "originalFile": _code(rng, 3)}
        elif tool == "Write":
            text = _code(rng, rng.randint(1, 6))
            tool_input, result = {"file_path": path, "content": text}, f"File created successfully at: {path}"
            tur = {"type": "create", "filePath": path, "content": text, "originalFile": None}
        elif tool == "Bash":
            tool_input = {"command": "python -m pytest -q tests", "description": "run the tests"}
            result = "." * 40 + "\n40 passed in 1.20s"
            tur = {"stdout": result, "stderr": "", "interrupted": False, "isImage": False}
        else:
            tool_input = {"pattern": "compute", "path": cwd}
            result = "\n".join(f"{cwd}/src/module_{i}.py" for i in range(30))
            tur = {"mode": "files_with_matches", "filenames": [], "numFiles": 30}
        msg = f"msg_{sid[:8]}{call:06d}"
        usage = {"input_tokens": rng.randint(1, 9), "cache_creation_input_tokens": rng.randint(100, 3000),
                 "cache_read_input_tokens": rng.randint(10_000, 90_000), "output_tokens": 1}
        blocks = [{"type": "text", "text": "Let me look at this. " * rng.randint(1, 8)},
                  {"type": "tool_use", "id": tool_id, "name": tool, "input": tool_input}]
        for i, block in enumerate(blocks):
            usage = {**usage, "output_tokens": 4 if i < len(blocks) - 1 else rng.randint(20, 600)}
            out.append(json.dumps(env("assistant", requestId=f"req_{msg}", message={
                "model": model, "id": msg, "type": "message", "role": "assistant", "content": [block],
                "stop_reason": None, "stop_sequence": None, "usage": usage})))
        out.append(json.dumps(env("progress", data={"type": "hook_progress", "hookEvent": "PostToolUse"},
                                  toolUseID=tool_id)))
        out.append(json.dumps(env("user", toolUseResult=tur, message={"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": result}]})))
        size = sum(len(line) + 1 for line in out)
    return "\n".join(out) + "\n"


def codex_session(rng: random.Random, sid: str, cwd: str, base: float, target: int) -> str:
    out = [json.dumps({"timestamp": _ts(base, 0), "type": "session_meta", "payload": {
        "id": sid, "timestamp": _ts(base, 0), "cwd": cwd, "originator": "codex_exec", "cli_version": "0.77.0",
        "source": "exec", "model_provider": "openai"}})]
    out.append(json.dumps({"timestamp": _ts(base, 1), "type": "event_msg", "payload": {
        "type": "user_message", "message": rng.choice(PROMPTS), "images": []}}))
    totals = [0, 0, 0]
    n = 1
    while sum(len(line) + 1 for line in out) < target:
        n += 1
        out.append(json.dumps({"timestamp": _ts(base, n), "type": "turn_context", "payload": {
            "cwd": cwd, "approval_policy": "never", "model": "gpt-5-codex", "summary": "auto"}}))
        call = f"call_{sid[:8]}{n:05d}"
        out.append(json.dumps({"timestamp": _ts(base, n), "type": "response_item", "payload": {
            "type": "function_call", "name": "shell", "call_id": call,
            "arguments": json.dumps({"command": ["bash", "-lc", f"sed -n '1,200p' src/module_{n % 40}.py"],
                                     "workdir": cwd})}}))
        out.append(json.dumps({"timestamp": _ts(base, n), "type": "response_item", "payload": {
            "type": "function_call_output", "call_id": call,
            "output": json.dumps({"output": _code(rng, rng.randint(2, 10)),
                                  "metadata": {"exit_code": 0, "duration_seconds": 0.1}})}}))
        delta = [rng.randint(5000, 9000), 0, rng.randint(20, 400)]
        delta[1] = delta[0] - rng.randint(100, 900)
        totals = [t + d for t, d in zip(totals, delta, strict=True)]
        info = {"total_token_usage": {"input_tokens": totals[0], "cached_input_tokens": totals[1],
                                      "output_tokens": totals[2], "reasoning_output_tokens": 0,
                                      "total_tokens": totals[0] + totals[2]},
                "last_token_usage": {"input_tokens": delta[0], "cached_input_tokens": delta[1],
                                     "output_tokens": delta[2], "reasoning_output_tokens": 0,
                                     "total_tokens": delta[0] + delta[2]}, "model_context_window": 258400}
        for _ in range(2):  # the same totals are repeated on a later event
            out.append(json.dumps({"timestamp": _ts(base, n), "type": "event_msg",
                                   "payload": {"type": "token_count", "info": info}}))
    return "\n".join(out) + "\n"


def generate_history(root: Path, sessions: int, total_mb: float, seed: int = 0) -> int:
    """Write ``sessions`` transcripts of about ``total_mb`` MB in all under ``root``; returns the bytes written."""
    rng = random.Random(seed)
    per = int(total_mb * 1e6 / max(sessions, 1))
    written = 0
    base = 1_750_000_000.0
    for i in range(sessions):
        project = i % 50
        sid = f"{i:08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-8{rng.getrandbits(12):03x}-" \
              f"{rng.getrandbits(48):012x}"
        cwd = f"/nonexistent/bench/project_{project}"
        target = int(per * rng.uniform(0.5, 1.5))
        if i % 5 == 4:
            text = codex_session(rng, sid, cwd, base + i * 3600, target)
            path = root / "codex" / "sessions" / "2026" / "01" / f"{project % 28 + 1:02d}" / f"rollout-{sid}.jsonl"
        else:
            text = claude_session(rng, sid, cwd, base + i * 3600, target)
            path = root / "claude" / f"-nonexistent-bench-project-{project}" / f"{sid}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        path.write_bytes(data)
        written += len(data)
    return written


def light_sessions(index: HistoryIndex) -> list[Session]:
    return [Session(id=e.session_id, source=e.source, intent=e.intent, prompt=e.prompt, workspace=FileSet(),
                    check=CheckSpec(), gold=GoldSpec(), size_band=e.size_band, original=Original(model=e.model))
            for e in index.sessions()]


def run(sessions: int, total_mb: float, keep: Path | None = None) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="modelbench-import-bench-"))
    try:
        history = keep or work / "history"
        t0 = time.perf_counter()
        written = generate_history(history, sessions, total_mb)
        generated = time.perf_counter() - t0
        with HistoryIndex(work / "store.db") as index:
            first = index.import_paths([history])
            again = index.import_paths([history])
            t1 = time.perf_counter()
            sample = stratified_sample(light_sessions(index), 10, 0)
            sampling = time.perf_counter() - t1
            indexed = len(index.sessions())
        return {
            "sessions": sessions, "indexed_sessions": indexed, "mb": round(written / 1e6, 1),
            "generate_seconds": round(generated, 2), "import_seconds": round(first.seconds, 2),
            "import_mb_per_s": round(written / 1e6 / first.seconds, 1),
            "reimport_seconds": round(again.seconds, 3),
            "reimport_fraction": round(again.seconds / first.seconds, 4),
            "sampling_seconds": round(sampling, 3), "sample": len(sample),
            "broken_lines": sum(f.broken for f in first.files),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--mb", type=float, default=1000.0, help="total size of the generated history")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.sessions, args.mb)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"history: {result['sessions']} sessions, {result['mb']} MB (generated in {result['generate_seconds']} s)")
    print(f"import:    {result['import_seconds']} s = {result['import_mb_per_s']} MB/s  (target >= 30 MB/s)")
    print(f"re-import: {result['reimport_seconds']} s = {result['reimport_fraction'] * 100:.2f}% of the import "
          "(target <= 5%)")
    print(f"sampling:  {result['sampling_seconds']} s for a sample of {result['sample']} over "
          f"{result['indexed_sessions']} indexed sessions (target <= 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

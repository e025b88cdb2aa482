"""Every attack and provider fault pytest-modelbench defends against, tried for real, as one markdown table.

What is run
-----------
Attacks (``tests/attacks.py``): hostile candidates, scripted models of the loopback
OpenAI-compatible server reached through litellm, each working in agent mode on one small session and solving it
while attacking (or cheating instead of solving). Each try is one ``python -m pytest --modelbench`` subprocess with
one item per attack, in each runner available here:

* ``bwrap``: bubblewrap (skipped with a note when it does not start here);
* ``local``: the local runner under its guard, with Landlock when the kernel has it;
* ``local, Landlock off`` (control, ``MODELBENCH_NO_LANDLOCK=1``): the attacks that only the kernel can stop, to show
  what the local runner is worth without Landlock. ``kill-parent`` runs alone there: it kills the harness.

An attack counts as blocked when its item has a complete outcome, a cheat is not solved, no file of it appears
outside the workspace, none of the canary secrets (a file in the real home, API keys in the harness's environment)
is in its outcome, no request reached the model server from inside, and no process of it survives its item. The
whole run must also leave no secret in the store, artifact, JUnit XML or terminal output (the run-wide line).

Provider faults (``FakeOpenAI`` fault injection): 429, 500, a timeout (the server stalls past ``--model-timeout``)
and a malformed body, each at a 50% rate over several items, and all four at a 100% rate. Each item ends
``retried then succeeded``, ``not hit`` (no fault drawn), or ``failed, error in evidence, no score`` (status
failed, the error in the evidence, solved and every score null). Anything else is ``WRONG``.

Usage::

    python bench/faults.py [--repeats N] [--fault-items N] [--runners bwrap,local,local-nolandlock]

The script exits 1 when an attack got through in ``bwrap`` or in ``local`` with Landlock, or a fault produced a
score it should not have; what gets through in the control is reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import positive_int  # noqa: E402
from pytest_modelbench.runners.bwrap import bwrap_problem  # noqa: E402
from pytest_modelbench.runners.local import landlock_abi  # noqa: E402
from pytest_modelbench.testing.openai_server import FAULT_KINDS, FakeOpenAI  # noqa: E402
from tests import attacks as A  # noqa: E402

CONTROL = ("write-absolute", "write-dotdot", "symlink-write", "symlink-read", "read-home", "read-env", "network",
           "fork-bomb", "kill-parent")


def attack_rows(runner: str, label: str, attacks: tuple[A.Attack, ...], repeats: int, work: Path,
                env: dict[str, str] | None = None, split: tuple[str, ...] = ()) -> tuple[list[list[str]], bool]:
    """Run ``attacks`` ``repeats`` times; return table rows and whether every attack was blocked."""
    blocked: Counter[str] = Counter()
    how: dict[str, Counter[str]] = defaultdict(Counter)
    run_wide: list[str] = []
    groups = [tuple(a for a in attacks if a.name not in split)] + [(a,) for a in attacks if a.name in split]
    for r in range(repeats):
        for g, group in enumerate(g for g in groups if g):
            run = A.run_attacks(work / f"{label.replace(' ', '-').replace(',', '')}-{r}-{g}", runner, group, env=env)
            if run.leaks:
                run_wide.append(f"try {r + 1}: secrets in {', '.join(sorted({x.split(':')[0] for x in run.leaks}))}")
            if run.survivors_at_end:
                run_wide.append(f"try {r + 1}: {len(run.survivors_at_end)} process(es) alive at the end")
            for attack in group:
                ok, detail = A.verdict(run, attack)
                blocked[attack.name] += ok
                how[attack.name][detail] += 1
    rows = []
    for attack in attacks:
        n = blocked[attack.name]
        word = f"blocked {n}/{repeats}" if n == repeats else f"**got through** {repeats - n}/{repeats}"
        details = "; ".join(f"{d} ({c}/{repeats})" if len(how[attack.name]) > 1 else d
                            for d, c in how[attack.name].most_common())
        rows.append([attack.name, label, str(repeats), f"{word}: {details}"])
    rows.append(["(whole run: store, artifact, JUnit XML, terminal, processes)", label, str(repeats),
                 "; ".join(run_wide) if run_wide else f"no secret, no survivor {repeats}/{repeats}"])
    return rows, all(blocked[a.name] == repeats for a in attacks) and not run_wide


def fault_cases(folder: Path, n: int) -> None:
    for i in range(n):
        A.write_case(folder)
        path = folder / f"{A.SESSION_ID}.modelbench.json"
        data = json.loads(path.read_text())
        data["id"] = f"fault-{i}"
        data["prompt"] = f"{data['prompt']} (copy {i})"
        (folder / f"fault-{i}.modelbench.json").write_text(json.dumps(data))
        path.unlink()


def classify(outcome: dict) -> str:
    replay = outcome.get("evidence", {}).get("replay", {})
    if outcome["status"] == "complete" and outcome["solved"] is True:
        return "retried then succeeded" if replay.get("http_attempts", 0) > replay.get("model_calls", 0) else "not hit"
    if (outcome["status"] == "failed" and outcome["solved"] is None and outcome["combined_score"] is None
            and outcome["static_score"] is None and replay.get("error")):
        return "failed, error in evidence, no score"
    return f"WRONG (status {outcome['status']}, solved {outcome['solved']}, score {outcome['combined_score']})"


def fault_row(kinds: tuple[str, ...], rate: float, items: int, runner: str, work: Path,
              seed: int) -> tuple[list[str], bool]:
    root = work / f"fault-{'-'.join(kinds)}-{rate}"
    fault_cases(root / "cases", items)
    with FakeOpenAI(fault_rate=rate, fault_kinds=kinds, seed=seed, timeout_sleep=3.0, lifetime=900) as server:
        server.teach("Fix add() in calc.py", {"calc.py": A.FIXED})
        args = ["--modelbench", "--sessions", str(root / "cases"), "--runner", runner, "--models", "openai/solver",
                "--model-api-base", server.base_url, "--modelbench-cache", "off", "--model-timeout", "1",
                "-p", "no:cacheprovider"]
        res = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=root, capture_output=True, text=True,
                             timeout=900, env=dict(os.environ))
        faults = server.faults
    runs = sorted((root / ".modelbench" / "runs").glob("*.json"))
    outcomes = json.loads(runs[-1].read_text())["outcomes"] if runs else []
    counts = Counter(classify(o) for o in outcomes)
    ok = len(outcomes) == items and not any(k.startswith("WRONG") for k in counts)
    if len(outcomes) != items:
        counts[f"missing (pytest exit {res.returncode})"] = items - len(outcomes)
    name = " / ".join(kinds) if len(kinds) > 1 else kinds[0]
    text = ", ".join(f"{k} {v}/{items}" for k, v in counts.most_common()) + f" ({faults} faults injected)"
    return [f"{name} at {int(rate * 100)}%", runner, str(items), text], ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=1, help="tries of every attack per runner (1)")
    parser.add_argument("--fault-items", type=positive_int, default=4, help="items per provider fault (4)")
    parser.add_argument("--runners", default="bwrap,local,local-nolandlock",
                        help="runners to attack (default: bwrap,local,local-nolandlock; unavailable ones are noted)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    args = parser.parse_args()
    wanted = [r.strip() for r in args.runners.split(",") if r.strip()]
    work = Path(tempfile.mkdtemp(prefix="modelbench-faults-"))
    started = time.monotonic()
    rows: list[list[str]] = []
    notes: list[str] = []
    failed = False
    abi = landlock_abi()
    try:
        if "bwrap" in wanted:
            problem = bwrap_problem()
            if problem:
                notes.append(f"bwrap: not run, bubblewrap does not start here ({problem})")
            else:
                r, ok = attack_rows("bwrap", "bwrap", A.ATTACKS, args.repeats, work)
                rows += r
                failed |= not ok
        if "local" in wanted:
            label = f"local (Landlock ABI {abi})" if abi else "local (no Landlock)"
            r, ok = attack_rows("local", label, A.ATTACKS, args.repeats, work)
            rows += r
            failed |= not ok and abi >= 6
        if "local-nolandlock" in wanted:
            control = tuple(a for a in A.ATTACKS if a.name in CONTROL)
            r, _ = attack_rows("local", "local, Landlock off", control, args.repeats, work,
                               env={"MODELBENCH_NO_LANDLOCK": "1"}, split=("kill-parent",))
            rows += r
        fault_runner = "bwrap" if bwrap_problem() is None else "local"
        for seed, kind in enumerate(FAULT_KINDS):
            r, ok = fault_row((kind,), 0.5, args.fault_items, fault_runner, work, seed)
            rows.append(r)
            failed |= not ok
        r, ok = fault_row(FAULT_KINDS, 1.0, max(2, args.fault_items // 2), fault_runner, work, 0)
        rows.append(r)
        failed |= not ok
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"<!-- python bench/faults.py --repeats {args.repeats} --fault-items {args.fault_items}: "
          f"{time.monotonic() - started:.0f} s, Python {sys.version.split()[0]}, kernel {os.uname().release} -->")
    print("| attack / fault | runner | tries | outcome |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    for note in notes:
        print(f"\n{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

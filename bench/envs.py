"""What the project's own environment costs: a warm environment per item, and a cold build against the installer.

What is measured
----------------
A local wheel folder (one small pure-Python package, written by hand: no network) stands for the user's package
index; ``PIP_NO_INDEX`` / ``PIP_FIND_LINKS`` point pip at it, as a user's pip configuration would.

1. **Warm environment, per item.** Eight case-file sessions whose code imports that package, run with the
   reference candidates (16 items) as ``pytest --modelbench --runner local``, two ways, alternating:

   * env:     the starts declare the package in ``pyproject.toml``; ``--modelbench-env auto`` finds the environment
     already built in ``.modelbench/envs`` (one warm-up run built it);
   * harness: the same sessions with the package's source inside each start (no declaration), run with
     ``--modelbench-env harness`` (what every check did before environments).

   Reported: the median difference divided by the number of items. Target: at most 0.1 s per item.

2. **Cold build.** The environment of one declaration built by pytest-modelbench (``EnvResolver.build`` on an empty
   cache) against the same installer run by hand on the same declaration (``python -m venv --without-pip`` then
   ``pip --python … install -r``-equivalent), alternating. Target: ratio at most 1.5.

Usage::

    python bench/envs.py [--rounds N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BenchError, failure, positive_int, run_timed  # noqa: E402

SESSIONS = 8
PACKAGE = "def scale(x):\n    return x * 10\n"
PYPROJECT = '[project]\nname = "shapes"\nversion = "0.1.0"\ndependencies = ["tinyunits>=1.0"]\n'


def make_wheel(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = "tinyunits-1.0.dist-info"
    files = {"tinyunits/__init__.py": PACKAGE,
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: tinyunits\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / "tinyunits-1.0-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)


def write_cases(folder: Path, declared: bool) -> None:
    for i in range(SESSIONS):
        start = {f"src/shapes{i}/__init__.py": "from tinyunits import scale\n\n\ndef area(w, h):\n"
                                               "    return scale(w + h)\n"}
        if declared:
            start["pyproject.toml"] = PYPROJECT
        else:
            start["src/tinyunits/__init__.py"] = PACKAGE
        data = {"id": f"area{i}", "intent": "fix-bug", "prompt": "Fix area().", "workspace": {"files": start},
                "check": {"kind": "pytest", "paths": ["tests"], "timeout": 60, "files": {"files": {
                    f"tests/test_area{i}.py": f"from shapes{i} import area\n\n\ndef test_area():\n"
                                              "    assert area(2, 3) == 60\n"}}},
                "gold": {"files": {f"src/shapes{i}/__init__.py": "from tinyunits import scale\n\n\n"
                                                                 "def area(w, h):\n    return scale(w * h)\n"}}}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"area{i}.modelbench.json").write_text(json.dumps(data))


def run_items(project: Path, mode: str, env: dict[str, str]) -> float:
    cmd = [sys.executable, "-m", "pytest", "--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
           "--runner", "local", "--modelbench-env", mode, "-q"]
    result = run_timed(cmd, project, env, 900)
    if result.returncode != 0 or f"{2 * SESSIONS} passed" not in result.stdout:
        raise failure(f"the {mode} run did not pass", cmd, result)
    artifact = sorted((project / ".modelbench" / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)[-1]
    solved = sum(1 for o in json.loads(artifact.read_text())["outcomes"] if o["solved"])
    if solved != SESSIONS:  # gold solves every session, noop none
        raise BenchError(f"{mode}: {solved} outcomes solved, expected {SESSIONS}")
    return result.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=positive_int, default=3)
    args = parser.parse_args()
    from pytest_modelbench.replay.declarations import read_declarations
    from pytest_modelbench.replay.envs import EnvResolver

    with tempfile.TemporaryDirectory(prefix="modelbench-bench-envs-") as tmp:
        root = Path(tmp)
        make_wheel(root / "wheels")
        env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(root / "wheels"),
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        os.environ.update({k: env[k] for k in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_DISABLE_PIP_VERSION_CHECK")})
        for name, declared in (("declared", True), ("harness", False)):
            (root / name).mkdir()
            (root / name / "pytest.ini").write_text("[pytest]\n")
            write_cases(root / name / "cases", declared)
        items = 2 * SESSIONS
        print(f"1. warm environment: {SESSIONS} sessions x (replay/gold, replay/noop) = {items} items, runner local")
        run_items(root / "declared", "auto", env)  # warm-up: builds the environment once
        run_items(root / "harness", "harness", env)
        diffs = []
        for i in range(args.rounds):
            with_env = run_items(root / "declared", "auto", env)
            without = run_items(root / "harness", "harness", env)
            diffs.append((with_env - without) / items)
            print(f"   round {i + 1}: env {with_env:.2f} s, harness {without:.2f} s, "
                  f"per item {diffs[-1]:+.3f} s")
        per_item = statistics.median(diffs)
        print(f"   median added per item: {per_item:+.3f} s (target <= 0.1 s): "
              f"{'met' if per_item <= 0.1 else 'NOT met'}")

        print("2. cold build of one declaration (pyproject.toml with one dependency)")
        start = root / "start"
        start.mkdir()
        (start / "pyproject.toml").write_text(PYPROJECT)
        decl = read_declarations(start)
        ratios = []
        for i in range(args.rounds):
            cache = root / f"cache{i}"
            t0 = time.perf_counter()
            EnvResolver("auto", cache).build(start, decl, "bench", "pip")
            ours = time.perf_counter() - t0
            by_hand = root / f"byhand{i}"
            t0 = time.perf_counter()
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", "--without-pip", str(by_hand)], check=True)
            subprocess.run([sys.executable, "-m", "pip", "--python", str(by_hand / "bin" / "python"), "install",
                            "--quiet", "--disable-pip-version-check", "tinyunits>=1.0"], check=True, env=env)
            hand = time.perf_counter() - t0
            ratios.append(ours / hand)
            print(f"   round {i + 1}: modelbench {ours:.2f} s, by hand {hand:.2f} s, ratio {ratios[-1]:.2f}")
            shutil.rmtree(cache)
            shutil.rmtree(by_hand)
        ratio = statistics.median(ratios)
        verdict = "met" if ratio <= 1.5 else "NOT met"
        print(f"   median ratio modelbench/by hand: {ratio:.2f} (target <= 1.5): {verdict}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/envs.py: {exc}", file=sys.stderr)
        sys.exit(2)

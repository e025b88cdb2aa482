"""``modelbench merge``, ``estimate``, ``run`` and ``serve``: shards, projected cost, runs started for you, the API.

Heavy imports (litellm for prices, the store, the HTTP server) happen inside the command functions.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from pytest_modelbench.cli.main import DEFAULT_STORE, CliError, _load

DEFAULT_PORT = 8765


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``merge``, ``estimate``, ``run`` and ``serve``."""
    p = sub.add_parser("merge", help="join the JSON artifacts of shards 1..N (--modelbench-shard K/N) into one run",
                       description="Join the JSON artifacts of all shards of a run (pytest --modelbench-shard K/N) "
                                   "into one artifact with a new run id, and insert that run into the store. The "
                                   "shards must share rubric, models and sample; every item must appear once.")
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="the shards' JSON artifacts")
    p.add_argument("-o", "--output", required=True, metavar="OUT.json", help="where to write the merged artifact")
    p.add_argument("--name", metavar="NAME", help="name of the merged run (default: the shards' name)")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE,
                   help=f"insert the merged run into this store (default {DEFAULT_STORE}; created when missing)")
    p.add_argument("--no-store", action="store_true", help="only write the artifact")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("estimate", help="projected cost per model for a sample (no model calls)",
                       description="Projected tokens and cost per model for the sample a run would take. No model "
                                   "is called. Unknown prices are reported as unknown, never $0; local models "
                                   "cost $0.")
    p.add_argument("--sessions", action="append", metavar="SOURCE",
                   help="demo (default), humaneval, claude-code, codex, or a path; repeatable")
    p.add_argument("--models", required=True, metavar="A,B", help="comma-separated candidate models")
    p.add_argument("--sample-size", type=int, default=None, metavar="N")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S")
    p.add_argument("--price", action="append", default=[], metavar="MODEL=IN,OUT",
                   help="$ per million input and output tokens, overriding litellm's map; repeatable")
    p.add_argument("--model-api-base", metavar="URL", help="base URL of the candidates (loopback = local, $0)")
    p.add_argument("--replay-mode", choices=("zero-shot", "iterative", "agent"),
                   help="the replay mode the run will use (default: per session)")
    p.add_argument("--budget-cap-usd", type=float, metavar="USD", help="also say whether the projection fits")
    p.add_argument("--check-command", metavar="CMD", help="the pytest command that checks transcript sessions")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("run", help="start a benchmark run: pytest --modelbench with these options",
                       description="Build a pytest --modelbench command line from these options, print it, run it "
                                   "and exit with its status. Arguments after -- go to pytest as they are.")
    p.add_argument("--name", metavar="NAME", help="a label for the run")
    p.add_argument("--models", metavar="A,B", help="comma-separated candidate models")
    p.add_argument("--sessions", action="append", metavar="SOURCE", help="session source; repeatable")
    p.add_argument("--sample-size", type=int, default=None, metavar="N")
    p.add_argument("--budget-cap-usd", type=float, metavar="USD", help="cap on the run's model spend")
    p.add_argument("--allow-cloud", action="store_true", help="allow cloud models (needs --budget-cap-usd)")
    p.add_argument("--shard", metavar="K/N", help="run shard K of N (--modelbench-shard)")
    p.add_argument("--store", metavar="PATH", help="the store (pytest's default: .modelbench/modelbench.db)")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS",
                   help="more pytest arguments, after --")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="HTTP API: start runs, read their leaderboards, recommendations, the report",
                       description="Serve POST /api/benchmark/runs, GET /api/benchmark/runs/{id}, GET "
                                   "/api/benchmark/recommend?task_pattern=... and the report page at /. Loopback "
                                   "only unless --token is given (then every request needs Authorization: Bearer).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--token", metavar="T",
                   help="require Authorization: Bearer T (needed for a non-loopback --host); or set "
                        "MODELBENCH_API_TOKEN")
    p.add_argument("--store", metavar="PATH", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    p.add_argument("--root", metavar="DIR", default=".", help="folder runs start in (default: the current one)")
    p.set_defaults(func=cmd_serve)


# -- merge ----------------------------------------------------------------------------------------------------------

def _read_artifact(spec: str) -> dict[str, Any]:
    from pytest_modelbench.report.runs import RunNotFound, read_artifact_file

    try:
        return read_artifact_file(Path(spec), spec)
    except RunNotFound as exc:
        raise CliError(str(exc)) from None


def cmd_merge(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from pytest_modelbench.analysis.leaderboard import model_rows
    from pytest_modelbench.records import Outcome
    from pytest_modelbench.report.terminal import leaderboard_table
    from pytest_modelbench.sampling.shards import MergeError, merge_artifacts, total_cost
    from pytest_modelbench.store.artifact import new_run_id, write_artifact

    shards = [(spec, _read_artifact(spec)) for spec in args.artifacts]
    run_id = new_run_id()
    try:
        merged = merge_artifacts(shards, run_id, args.name)
    except MergeError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.output)
    try:
        write_artifact(merged, out)
    except OSError as exc:
        raise CliError(f"-o {args.output}: cannot write ({exc.strerror or exc})") from None
    records = [Outcome.from_dict(o) for o in merged["outcomes"]]
    if not args.no_store:
        from pytest_modelbench.store.sqlite import Store

        run = merged["run"]
        keys = [s["key"] for s in merged["sessions"]]
        store = Store(Path(args.store))
        try:
            store.create_run(run_id, run["name"], run["config"]["rubric"]["version"], run["config"]["models"], keys,
                             run["config"])
            for outcome in records:
                store.write_outcome(run_id, outcome)
            store.finish_run(run_id, "complete", total_cost(records), keys)
        finally:
            store.close()
    headers, body = leaderboard_table(model_rows(records, merged["run"]["config"]["models"]))
    print(tabulate(body, headers=headers, tablefmt="github"))
    print(f"merged {len(shards)} shard(s) into run {run_id}: {len(records)} outcome(s), "
          f"{len(merged['sessions'])} session(s)")
    for warning in merged["warnings"]:
        print(f"warning: {warning}")
    print(f"artifact: {out}")
    if not args.no_store:
        print(f"store: {args.store}")
    return 0


# -- estimate -------------------------------------------------------------------------------------------------------

def _prices(entries: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for entry in entries:
        model, sep, rest = entry.partition("=")
        parts = rest.split(",") if sep else []
        try:
            pin, pout = (float(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            pin = pout = None
        if not model or pin is None or pout is None or pin < 0 or pout < 0:
            raise CliError(f"--price: expected MODEL=IN,OUT ($ per million tokens), got {entry!r}")
        out[model] = (pin, pout)
    return out


def _models(value: str) -> list[str]:
    import re

    models = list(dict.fromkeys(m for m in re.split(r"[,\s]+", value or "") if m))
    if not models:
        raise CliError("--models: expected a comma-separated list of model ids, got nothing")
    for m in models:
        if not re.fullmatch(r"[A-Za-z0-9][\w.:/@+-]*", m):
            raise CliError(f"--models: {m!r} is not a model id (litellm style, e.g. ollama/qwen2.5-coder:7b)")
    return models


def cmd_estimate(args: argparse.Namespace) -> int:
    from pytest_modelbench.cli.main import _check_command
    from pytest_modelbench.models.door import Door, DoorConfig
    from pytest_modelbench.sampling.estimate import estimate
    from pytest_modelbench.sampling.sample import stratified_sample
    from pytest_modelbench.sources.transcripts.common import TranscriptSource

    models = _models(args.models)
    prices = _prices(args.price)
    if args.budget_cap_usd is not None and args.budget_cap_usd <= 0:
        raise CliError(f"--budget-cap-usd: must be > 0, got {args.budget_cap_usd}")
    check = _check_command(args.check_command)
    sample = []
    for source, sessions in _load(args.sessions or ["demo"], Path.cwd(), Path(args.store), check):
        size = args.sample_size if args.sample_size is not None else source.default_sample_size
        chosen = stratified_sample(sessions, size, args.sample_seed)
        recorded: dict[str, dict[str, int]] = {}
        if isinstance(source, TranscriptSource):
            recorded = {e.key: e.tokens.to_dict() for e in source.entries()}
        sample += [(s, recorded.get(s.key)) for s in chosen]
    door = Door(DoorConfig(api_base=args.model_api_base, prices=prices))
    rows = estimate(sample, models, door.price, door.config.is_local, args.replay_mode)
    known = [r.cost_usd for r in rows if r.cost_usd is not None]
    unknown = [r.model for r in rows if r.cost_usd is None]
    total = round(sum(known), 6)
    fits = None if args.budget_cap_usd is None or unknown else total <= args.budget_cap_usd
    if args.json:
        print(json.dumps({"sessions": len(sample), "models": [r.to_dict() for r in rows],
                          "total_known_usd": total, "unknown_price": unknown,
                          "budget_cap_usd": args.budget_cap_usd, "fits_cap": fits}, indent=2))
        return 0
    from tabulate import tabulate

    def usd(v: float | None) -> str:
        return "unknown" if v is None else f"${v:.4f}"

    def per_m(v: float | None) -> str:
        return "unknown" if v is None else f"{v:g}"

    print(tabulate([[r.model, r.sessions, r.calls, r.input_tokens, r.output_tokens, per_m(r.price_in_per_m),
                     per_m(r.price_out_per_m), usd(r.cost_usd), "; ".join(f"{k}: {n}" for k, n in r.basis.items())]
                    for r in rows],
                   headers=["model", "sessions", "calls", "input tok", "output tok", "$/M in", "$/M out",
                            "projected", "basis (sessions)"], tablefmt="github"))
    line = f"{len(sample)} session(s); projected total ${total:.4f}"
    if unknown:
        line += f" plus {len(unknown)} model(s) with an unknown price ({', '.join(unknown)}: set --price MODEL=IN,OUT)"
    print(line)
    if args.budget_cap_usd is not None:
        print(f"budget cap ${args.budget_cap_usd:.4f}: " + (
            "cannot tell (unknown prices)" if fits is None else "fits" if fits else "projected to exceed the cap"))
    print("No model was called. Projections are estimates; the run's ledger enforces the cap.")
    return 0


# -- run ------------------------------------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    import subprocess

    from pytest_modelbench.cli.api import RunRequest, build_pytest_command

    extra = list(args.pytest_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.budget_cap_usd is not None and args.budget_cap_usd <= 0:
        raise CliError(f"--budget-cap-usd: must be > 0, got {args.budget_cap_usd}")
    if args.allow_cloud:
        if args.budget_cap_usd is None:
            raise CliError("--allow-cloud: needs --budget-cap-usd (a cap on what cloud models may cost)")
        extra.insert(0, "--allow-cloud")
    if args.shard:
        extra.insert(0, f"--modelbench-shard={args.shard}")
    request = RunRequest(tuple(_models(args.models)) if args.models is not None else (), tuple(args.sessions or ()),
                         args.name, args.sample_size, args.budget_cap_usd, tuple(extra))
    cmd = build_pytest_command(request, store=Path(args.store) if args.store else None)
    print("modelbench: " + shlex.join(cmd), file=sys.stderr, flush=True)
    if args.dry_run:
        return 0
    try:
        return subprocess.run(cmd, check=False).returncode
    except KeyboardInterrupt:
        return 130


# -- serve ----------------------------------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    import os
    import signal

    from pytest_modelbench.cli.api import is_loopback_host, make_server

    token = args.token or os.environ.get("MODELBENCH_API_TOKEN") or None
    if token is None and not is_loopback_host(args.host):
        raise CliError(f"--host {args.host}: not a loopback address; serving beyond this machine needs --token "
                       "(or MODELBENCH_API_TOKEN)")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port: expected 0-65535, got {args.port}")
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise CliError(f"--root {args.root}: no such folder")
    store = Path(args.store)
    store = store if store.is_absolute() else (Path.cwd() / store).resolve()
    try:
        server = make_server(args.host, args.port, store, root, token)
    except OSError as exc:
        raise CliError(f"--host {args.host} --port {args.port}: cannot listen ({exc.strerror or exc})") from None
    print(f"modelbench serve: {server.url}/ (store {store}; runs start in {root})"
          + ("; bearer token required" if token else ""), flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM (a service manager, kill) stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.manager.close()
    return 0

"""``modelbench estimate`` and ``modelbench run``: what a run would cost, and a run started for you.

``estimate`` calls no model (litellm is imported for its local price map only); ``run`` builds the pytest command line
with :func:`pytest_modelbench.cli.runrequest.build_pytest_command`, the same one ``modelbench serve`` uses.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from pytest_modelbench.cli.common import add_store_option, check_command, load_sources, parse_models, positive_cap
from pytest_modelbench.errors import UserError
from pytest_modelbench.store import DEFAULT_STORE


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``estimate`` and ``run``."""
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
    add_store_option(p)
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
    p.add_argument("--store", metavar="PATH", help=f"the store (pytest's default: {DEFAULT_STORE})")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS",
                   help="more pytest arguments, after --")
    p.set_defaults(func=cmd_run)


def parse_prices(entries: list[str]) -> dict[str, tuple[float, float]]:
    """``--price MODEL=IN,OUT`` entries as ``{model: ($/M in, $/M out)}``."""
    out = {}
    for entry in entries:
        model, sep, rest = entry.partition("=")
        parts = rest.split(",") if sep else []
        try:
            pin, pout = (float(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            pin = pout = None
        if not model or pin is None or pout is None or pin < 0 or pout < 0:
            raise UserError(f"--price: expected MODEL=IN,OUT ($ per million tokens), got {entry!r}")
        out[model] = (pin, pout)
    return out


def cmd_estimate(args: argparse.Namespace) -> int:
    """Projected tokens and cost per model for the sample a run would take; no model is called."""
    from pytest_modelbench.models.door import Door, DoorConfig
    from pytest_modelbench.sampling.estimate import estimate
    from pytest_modelbench.sampling.sample import stratified_sample
    from pytest_modelbench.sources.transcripts.source import TranscriptSource

    models = parse_models(args.models)
    prices = parse_prices(args.price)
    positive_cap(args.budget_cap_usd)
    check = check_command(args.check_command)
    sample = []
    for source, sessions in load_sources(args.sessions or ["demo"], Path.cwd(), Path(args.store), check):
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
    """Print and run ``python -m pytest --modelbench ...``; exit with pytest's status."""
    import subprocess

    from pytest_modelbench.cli.runrequest import RunRequest, build_pytest_command

    extra = list(args.pytest_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    positive_cap(args.budget_cap_usd)
    if args.allow_cloud:
        if args.budget_cap_usd is None:
            raise UserError("--allow-cloud: needs --budget-cap-usd (a cap on what cloud models may cost)")
        extra.insert(0, "--allow-cloud")
    if args.shard:
        extra.insert(0, f"--modelbench-shard={args.shard}")
    models = tuple(parse_models(args.models)) if args.models is not None else ()
    request = RunRequest(models, tuple(args.sessions or ()), args.name, args.sample_size, args.budget_cap_usd,
                         tuple(extra))
    cmd = build_pytest_command(request, store=Path(args.store) if args.store else None)
    print("modelbench: " + shlex.join(cmd), file=sys.stderr, flush=True)
    if args.dry_run:
        return 0
    try:
        return subprocess.run(cmd, check=False).returncode
    except KeyboardInterrupt:
        return 130


__all__ = ["cmd_estimate", "cmd_run", "parse_prices", "register"]

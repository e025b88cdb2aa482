"""Command-line options and their ini twins: registered with pytest from one table, checked by one resolver.

The table itself (:data:`OPTIONS`) lives in the pure :mod:`pytest_modelbench.run.optiontable`, so the command line
and the HTTP API read it without importing pytest. Imported on pytest's idle path, so it must stay light: standard
library and pytest only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_modelbench.errors import UserError

# Light modules only (records.py and the two package __init__ modules import nothing heavy): this is the idle path.
from pytest_modelbench.models import CACHE_MODES
from pytest_modelbench.records import INTENTS, RUN_ID_PATTERN
from pytest_modelbench.run.optiontable import OPTIONS, Option
from pytest_modelbench.run.optionvalues import (
    as_list,
    as_path,
    choice,
    door_address,
    integer,
    limits,
    model_ids,
    number,
    parse_shard,
    prices,
    setting_entry,
)
from pytest_modelbench.store import DEFAULT_STORE

if TYPE_CHECKING:
    from pytest_modelbench.models.providers import ModelSettings

RUNNERS = ("auto", "bwrap", "local")
DEFAULT_MODELS = ("replay/gold", "replay/noop")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("modelbench", "pytest-modelbench: benchmark models on your own coding sessions")
    for opt in OPTIONS:
        dest = opt.flag.lstrip("-").replace("-", "_")
        if opt.kind == "flag":
            group.addoption(opt.flag, action="store_true", default=False, dest=dest, help=opt.help)
        elif opt.kind == "append":
            group.addoption(opt.flag, action="append", default=None, dest=dest, metavar=opt.metavar, help=opt.help)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=dest, metavar=opt.metavar, help=opt.help)
        if opt.ini:
            ini_type: Literal["linelist", "string"] = "linelist" if opt.kind == "append" else "string"
            parser.addini(opt.ini, f"default for {opt.flag}: {opt.help}", type=ini_type, default=None)
    parser.addini("modelbench_model_settings",
                  "per-model settings, one model a line: MODEL key=value ... (api_base, cloud, price_in, price_out, "
                  "max_tokens, tools=native|text, temperature, top_p, seed, system_prompt=\"text\"|@FILE, "
                  "reasoning_effort, extra.NAME=VALUE); quote values with spaces", type="linelist", default=None)


@dataclass(frozen=True)
class Settings:
    """Every resolved option; built once by :func:`resolve`."""

    models: tuple[str, ...]
    models_configured: bool
    sessions: tuple[str, ...]
    sample_size: int | None
    sample_seed: int
    intents: tuple[str, ...]
    name: str | None
    store: Path
    json_path: Path | None
    runner: str
    rubric: str
    with_tests: bool
    min_score: float | None
    allow_cloud: bool = False
    budget_cap_usd: float | None = None
    model_api_base: str | None = None
    prices: tuple[tuple[str, float, float], ...] = ()
    max_concurrency: tuple[tuple[str, int], ...] = ()
    cache_mode: str = "readwrite"
    replay_mode: str | None = None
    max_iterations: int = 3
    max_turns: int = 20
    model_timeout: float = 120.0
    model_retries: int = 20
    model_retry_budget: float = 600.0
    model_settings_lines: tuple[str, ...] = ()
    model_settings: Mapping[str, ModelSettings] = field(default_factory=dict)  # the lines above, parsed once
    judge: str | None = None
    check_command: str | None = None
    sample_manifest: Path | None = None
    baseline: str | None = None
    tolerance: float = 0.05
    solve_tolerance: float = 0.05
    force_compare: bool = False
    trend_window: int = 10
    trend_threshold: float = -0.5
    html_path: Path | None = None
    repeats: int = 1
    shard: tuple[int, int] | None = None  # (K, N), 1 <= K <= N
    door_listen: tuple[str, int] = ("127.0.0.1", 0)  # the door's TCP listener (port 0: a free one)
    run_id: str | None = None
    resume: str | None = None
    env: str = "auto"  # --modelbench-env: auto, harness, or an interpreter path (absolute)


def _raw(config: pytest.Config, opt: Option) -> Any:
    value = config.getoption(opt.flag.lstrip("-").replace("-", "_"))
    if value is None and opt.ini:
        value = config.getini(opt.ini)
        if value in ("", [], None):
            value = None
    return value


def project_root(config: pytest.Config) -> Path:
    """Where the store and relative output paths live: the folder of the ini file pytest used, else the folder
    pytest was started in. Not ``config.rootpath``: pytest moves the rootdir toward path-like arguments, so
    ``--sessions ../elsewhere`` (or ``~/.claude/projects``) would put the store into the transcripts' folder."""
    if config.inipath is not None:
        return Path(config.inipath).parent
    return Path(config.invocation_params.dir)


def resolve(config: pytest.Config) -> Settings:
    """Validate every option; a bad value is a UsageError that names the option."""
    by_flag: dict[str, Callable[[], Any]] = {o.flag: functools.partial(_raw, config, o) for o in OPTIONS}
    root = config.rootpath

    raw_models = by_flag["--models"]()
    models = model_ids("--models", raw_models) if raw_models is not None else ()
    sessions = as_list(raw_sessions) if (raw_sessions := by_flag["--sessions"]()) else ("demo",)
    raw_size, raw_seed = by_flag["--sample-size"](), by_flag["--sample-seed"]()
    sample_size = integer("--sample-size", raw_size, 0) if raw_size is not None else None
    seed = integer("--sample-seed", raw_seed) if raw_seed is not None else 0
    intents = as_list(raw_intent) if (raw_intent := by_flag["--intent"]()) is not None else ()
    for i in intents:
        if i not in INTENTS:
            raise UserError(f"--intent: unknown intent {i!r} (known: {', '.join(INTENTS)})")
    runner = choice("--runner", by_flag["--runner"](), RUNNERS, "auto")
    raw_min = by_flag["--modelbench-min-score"]()
    min_score = number("--modelbench-min-score", raw_min, 0.0, 1.0) if raw_min is not None else None

    name = by_flag["--modelbench-name"]()
    store = by_flag["--modelbench-store"]() or DEFAULT_STORE
    json_path = by_flag["--modelbench-json"]()
    rubric = by_flag["--rubric"]() or "default"
    env = _resolve_env(by_flag["--modelbench-env"](), root)
    door = _resolve_door(config, by_flag)
    scale = _resolve_scale(by_flag)
    if scale["shard"] is not None and door["budget_cap_usd"] is not None:
        door["budget_cap_usd"] = door["budget_cap_usd"] / scale["shard"][1]  # each shard gets cap/N
    return Settings(
        **door,
        models=models or DEFAULT_MODELS,
        models_configured=bool(models),
        sessions=sessions,
        sample_size=sample_size,
        sample_seed=seed,
        intents=intents,
        name=name.strip() if name else None,
        store=as_path(store, project_root(config)),
        json_path=as_path(json_path, project_root(config)) if json_path else None,
        html_path=(as_path(html, project_root(config))
                   if (html := (by_flag["--modelbench-html"]() or "").strip()) else None),
        runner=runner,
        rubric=rubric,
        with_tests=bool(config.getoption("modelbench_with_tests")),
        min_score=min_score,
        **_resolve_history(by_flag, root),
        **_resolve_gate(config, by_flag),
        **scale,
        resume=_resolve_resume(by_flag, scale["run_id"]),
        env=env,
    )


def _resolve_env(raw: str | None, root: Path) -> str:
    from pytest_modelbench.replay.envs import env_mode_problem

    value = (raw or "auto").strip()
    if value in ("auto", "harness"):
        return value
    path = as_path(value, root)
    problem = env_mode_problem(str(path))
    if problem is not None:
        raise UserError(problem.replace(str(path), value, 1))
    return str(path)


def _resolve_resume(by_flag: dict[str, Callable[[], Any]], run_id: str | None) -> str | None:
    """``--modelbench-resume RUN_ID``; whether the run exists and matches is checked when the store is open."""
    raw = by_flag["--modelbench-resume"]()
    if raw is None:
        return None
    if not raw.strip():
        raise UserError("--modelbench-resume: expected a run id, got nothing")
    if run_id is not None:
        raise UserError("--modelbench-resume: cannot be combined with --modelbench-run-id")
    return raw.strip()


def _resolve_scale(by_flag: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """The options of shards and preset run ids (issue: results people want to look at)."""
    raw_shard = by_flag["--modelbench-shard"]()
    shard = None
    if raw_shard is not None:
        shard = parse_shard(str(raw_shard))
        if shard is None:
            raise UserError(f"--modelbench-shard: expected K/N with 1 <= K <= N, got {raw_shard!r}")
    run_id = by_flag["--modelbench-run-id"]()
    if run_id is not None and not re.fullmatch(RUN_ID_PATTERN, run_id.strip()):
        raise UserError(f"--modelbench-run-id: expected bench_<8 hex>_<YYYYmmdd>_<HHMMSS>, got {run_id!r}")
    return {"shard": shard, "run_id": run_id.strip() if run_id else None,
            "door_listen": door_address("--modelbench-door", by_flag["--modelbench-door"]())}


def _resolve_gate(config: pytest.Config, by_flag: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """The options of the regression gate and the trend gate (issue: verdicts you can trust)."""
    baseline = (by_flag["--modelbench-baseline"]() or "").strip() or None
    raw_tol, raw_solve = by_flag["--modelbench-tolerance"](), by_flag["--modelbench-solve-tolerance"]()
    tolerance = number("--modelbench-tolerance", raw_tol, 0.0, 1.0) if raw_tol is not None else 0.05
    solve_tolerance = (number("--modelbench-solve-tolerance", raw_solve, 0.0, 1.0) if raw_solve is not None
                       else 0.05)
    raw_window = by_flag["--trend-window"]()
    raw_threshold = by_flag["--trend-threshold"]()
    raw_repeats = by_flag["--repeats"]()
    return {
        "baseline": baseline,
        "tolerance": tolerance,
        "solve_tolerance": solve_tolerance,
        "force_compare": bool(config.getoption("modelbench_force_compare")),
        "trend_window": integer("--trend-window", raw_window, 2) if raw_window is not None else 10,
        "trend_threshold": number("--trend-threshold", raw_threshold) if raw_threshold is not None else -0.5,
        "repeats": integer("--repeats", raw_repeats, 1) if raw_repeats is not None else 1,
    }


def _resolve_history(by_flag: dict[str, Callable[[], Any]], root: Path) -> dict[str, Any]:
    """The options of transcript sources (issue: your own history)."""
    from pytest_modelbench.sources.transcripts.commands import check_command_problem

    check = by_flag["--check-command"]()
    problem = check_command_problem(check.strip()) if check else None
    if problem:
        raise UserError(f"--check-command: {problem}")
    manifest = by_flag["--sample-manifest"]()
    return {"check_command": check.strip() if check else None,
            "sample_manifest": as_path(manifest, root) if manifest else None}


REPLAY_MODES = ("zero-shot", "iterative", "agent")


def _resolve_model_settings(config: pytest.Config, by_flag: dict[str, Callable[[], Any]]) -> tuple[str, ...]:
    """The ini ``modelbench_model_settings`` lines, then each ``--model-setting MODEL:KEY=VALUE`` (later wins), with
    ``system_prompt=@FILE`` read (relative to the rootdir): normalised lines, the same in every worker."""
    from pytest_modelbench.models.providers import (
        join_setting_lines,
        parse_model_settings,
        resolve_setting_files,
        split_setting_lines,
    )

    root = config.rootpath
    try:
        triples = resolve_setting_files(split_setting_lines(list(config.getini("modelbench_model_settings") or ())),
                                        root)
        parse_model_settings(join_setting_lines(triples))
    except ValueError as exc:
        raise UserError(f"modelbench_model_settings: {exc}") from None
    for entry in by_flag["--model-setting"]() or []:
        try:
            added = resolve_setting_files(split_setting_lines(join_setting_lines([setting_entry("--model-setting",
                                                                                                entry)])), root)
            parse_model_settings(join_setting_lines(added))
        except ValueError as exc:
            raise UserError(f"--model-setting: {exc}") from None
        triples += added
    return tuple(join_setting_lines(triples))


def _resolve_retries(by_flag: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``--model-retries`` and ``--model-retry-budget`` (defaults: the door's, which survive a minute of 429s)."""
    from pytest_modelbench.models.door import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BUDGET

    raw_retries, raw_budget = by_flag["--model-retries"](), by_flag["--model-retry-budget"]()
    return {
        "model_retries": integer("--model-retries", raw_retries, 0) if raw_retries is not None else DEFAULT_MAX_RETRIES,
        "model_retry_budget": (number("--model-retry-budget", raw_budget, 0.0) if raw_budget is not None
                               else DEFAULT_RETRY_BUDGET),
    }


def _resolve_door(config: pytest.Config, by_flag: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """The options of the one door to the models (issue: real candidates)."""
    allow_cloud = bool(config.getoption("allow_cloud"))
    raw_cap = by_flag["--budget-cap-usd"]()
    cap = number("--budget-cap-usd", raw_cap) if raw_cap is not None else None
    if cap is not None and cap <= 0:
        raise UserError(f"--budget-cap-usd: must be > 0, got {cap}")
    if allow_cloud and cap is None:
        raise UserError("--allow-cloud: needs --budget-cap-usd (a cap on what cloud models may cost)")
    api_base = by_flag["--model-api-base"]()
    if api_base is not None and not re.match(r"^https?://[^\s/]+", api_base.strip()):
        raise UserError(f"--model-api-base: expected an http(s) URL, got {api_base!r}")
    cache = choice("--modelbench-cache", by_flag["--modelbench-cache"](), CACHE_MODES, "readwrite")
    raw_mode = by_flag["--replay-mode"]()
    mode = choice("--replay-mode", raw_mode, REPLAY_MODES, "") if raw_mode is not None else None
    raw_iter, raw_turns, raw_timeout = (by_flag[f]() for f in ("--max-iterations", "--max-turns", "--model-timeout"))
    lines = _resolve_model_settings(config, by_flag)
    from pytest_modelbench.models.providers import parse_model_settings

    model_settings = parse_model_settings(list(lines))  # checked by _resolve_model_settings
    return {
        "allow_cloud": allow_cloud,
        "budget_cap_usd": cap,
        "model_api_base": api_base.strip() if api_base else None,
        "prices": prices("--price", by_flag["--price"]() or []),
        "max_concurrency": limits("--max-concurrency", by_flag["--max-concurrency"]() or []),
        "cache_mode": cache,
        "replay_mode": mode,
        "max_iterations": integer("--max-iterations", raw_iter, 0) if raw_iter is not None else 3,
        "max_turns": integer("--max-turns", raw_turns, 1) if raw_turns is not None else 20,
        "model_timeout": number("--model-timeout", raw_timeout, 0.1) if raw_timeout is not None else 120.0,
        **_resolve_retries(by_flag),
        "model_settings_lines": lines,
        "model_settings": model_settings,
        "judge": (by_flag["--judge"]() or "").strip() or None,
    }

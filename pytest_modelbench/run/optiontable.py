"""The plugin's options as data: flag, ini twin, help text, kind, and whether the HTTP API may pass it.

Pure module (no pytest): :mod:`pytest_modelbench.run.options` registers these with pytest and resolves them; the
command line and ``modelbench serve`` read the same table (the API's allowed ``extra_args`` are derived from it).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_modelbench.records import INTENTS
from pytest_modelbench.store import DEFAULT_STORE


@dataclass(frozen=True)
class Option:
    """One ``--flag`` of the plugin, its ini twin (None: flag only) and its help text."""

    flag: str
    ini: str | None
    help: str
    kind: str = "string"  # string | list | int | float | flag | append
    metavar: str | None = None
    # Whether a client of ``modelbench serve`` may pass it in ``extra_args``: False for the options that name files
    # the server owns (store, artifact, report, manifest), that the server sets itself (--modelbench, the run id)
    # or that change what is collected beyond the benchmark (the project's own tests, a resumed run).
    api: bool = True


OPTIONS: tuple[Option, ...] = (
    Option("--modelbench", None,
           "run the model benchmark: collect one item per (session x model), replay, score, report.", "flag",
           api=False),
    Option("--models", "modelbench_models",
           "comma-separated candidate models (litellm ids); default: the reference candidates replay/gold,replay/noop.",
           "list", "A,B"),
    Option("--sessions", "modelbench_sessions",
           "where sessions come from: demo (default), humaneval, a case file or folder of *.modelbench.yaml|json; "
           "repeatable.", "append", "SOURCE"),
    Option("--sample-size", "modelbench_sample_size",
           "sessions to sample per source (stratified, seeded); 0 = all. Default: all for demo, case files and "
           "humaneval; 10 for transcript sources.", "int", "N"),
    Option("--sample-seed", "modelbench_sample_seed", "seed for sampling (default 0).", "int", "S"),
    Option("--intent", "modelbench_intent",
           f"only sessions with these intents (comma-separated: {', '.join(INTENTS)}).", "list", "I,J"),
    Option("--modelbench-name", "modelbench_name", "a label for this run, stored with it.", "string", "NAME"),
    Option("--modelbench-store", "modelbench_store",
           f"SQLite history file (default {DEFAULT_STORE}, relative to the ini file's folder, else to the folder "
           "pytest was started in).", "string", "PATH", api=False),
    Option("--modelbench-json", "modelbench_json",
           "JSON artifact path (default .modelbench/runs/<run_id>.json next to the store).", "string", "PATH",
           api=False),
    Option("--modelbench-html", "modelbench_html",
           "also write the HTML report (one self-contained file, nothing fetched) to PATH at the end of the run.",
           "string", "PATH", api=False),
    Option("--runner", "modelbench_runner",
           "where model-written code runs: auto (bwrap when it works here, else local with a warning), bwrap, local.",
           "string", "KIND"),
    Option("--modelbench-env", "modelbench_env",
           "the Python a pytest check runs with: auto (the project's own .venv, else one built from its declared "
           "dependencies into .modelbench/envs, else the harness's), harness, or the path of an interpreter.",
           "string", "auto|harness|PATH", api=False),
    Option("--rubric", "modelbench_rubric", "rubric name (default, tests-only) or path to a rubric YAML file.",
           "string", "NAME|PATH"),
    Option("--modelbench-with-tests", None, "with --modelbench, also collect and run the project's own tests.", "flag",
           api=False),
    Option("--modelbench-wide", None, "print the wide terminal leaderboard (every column; also with -v). The default "
           "one fits 120 columns; the artifact and the HTML report keep every number either way.", "flag"),
    Option("--modelbench-min-score", "modelbench_min_score",
           "fail an item whose combined score is below this value (0-1); off by default.", "float", "X"),
    # -- real candidates: the one door to the models --
    Option("--allow-cloud", None, "allow cloud models (needs --budget-cap-usd); without it they are skipped.", "flag"),
    Option("--budget-cap-usd", "modelbench_budget_cap_usd",
           "cap on everything the run spends on models, all workers together (US dollars).", "float", "USD"),
    Option("--model-api-base", "modelbench_model_api_base",
           "base URL for every candidate (and the judge), e.g. http://127.0.0.1:11434 for Ollama.", "string", "URL"),
    Option("--price", "modelbench_prices",
           "MODEL=IN,OUT: price in $ per million input and output tokens, overriding litellm's map; repeatable.",
           "append", "MODEL=IN,OUT"),
    Option("--max-concurrency", "modelbench_max_concurrency",
           "per-provider limits on calls in flight across all workers, e.g. ollama=1,openai=8 (Ollama: 1).",
           "list", "P=N,..."),
    Option("--modelbench-cache", "modelbench_cache",
           "response cache under .modelbench/cache: off, read, write or readwrite (default).", "string", "MODE"),
    Option("--replay-mode", "modelbench_replay_mode",
           "zero-shot, iterative or agent; default zero-shot for function sessions, agent for repository sessions.",
           "string", "MODE"),
    Option("--max-iterations", "modelbench_max_iterations",
           "iterative mode: rounds fed with the failing check output (default 3).", "int", "N"),
    Option("--max-turns", "modelbench_max_turns", "agent mode: model calls per replay (default 20).", "int", "N"),
    Option("--judge", "modelbench_judge",
           "model that grades every replay (the llm component), through the same door as the candidates.",
           "string", "MODEL"),
    Option("--model-timeout", "modelbench_model_timeout", "seconds per model call before it is retried (default 120).",
           "float", "S"),
    # api=False: system_prompt=@FILE would read a file of the server and send it to a model.
    Option("--model-setting", None,
           "MODEL:KEY=VALUE, one per-model setting over the ini modelbench_model_settings; repeatable. Keys: "
           "temperature, top_p, max_tokens, seed, system_prompt (text or @FILE), reasoning_effort, extra.NAME "
           "(passed to litellm), api_base, cloud, price_in, price_out, tools.", "append", "MODEL:KEY=VALUE", api=False),
    Option("--model-retries", "modelbench_model_retries",
           "retries of a model call after 429/5xx/timeouts/connection errors (default 20), within the retry budget.",
           "int", "N"),
    Option("--model-retry-budget", "modelbench_model_retry_budget",
           "seconds a model call may keep retrying, waits for Retry-After included (default 600); no attempt "
           "starts after it.", "float", "S"),
    # -- your own history: transcript sources --
    Option("--check-command", "modelbench_check_command",
           "the test command that checks transcript sessions: pytest, python -m unittest, make/tox/hatch/uv wrappers, "
           "npm test, node --test, vitest, jest (default: the test command the original agent ran).",
           "string", "CMD"),
    Option("--sample-manifest", "modelbench_sample_manifest",
           "JSON file freezing the sample: written on first use, reused afterwards (ids, content hashes, strata).",
           "string", "PATH", api=False),
    # -- the regression gate and the trend gate --
    Option("--modelbench-baseline", "modelbench_baseline",
           "compare with a baseline run and fail on regressions: latest, a run NAME, a RUN_ID or a PATH to a JSON "
           "artifact.", "string", "latest|NAME|RUN_ID|PATH"),
    Option("--modelbench-tolerance", "modelbench_tolerance",
           "regression gate: the drop in mean combined score tolerated before failing (default 0.05).", "float", "X"),
    Option("--modelbench-solve-tolerance", "modelbench_solve_tolerance",
           "regression gate: the drop in solve rate (0-1) tolerated before failing (default 0.05); a larger drop also "
           "needs a significant one-sided McNemar test after the Holm correction (docs/gate.md).", "float", "X"),
    Option("--modelbench-force-compare", None,
           "run the regression gate even when the baseline's rubric version or sample manifest differs.", "flag"),
    Option("--trend-window", "modelbench_trend_window",
           "trend gate: runs of the store's history in each model's slope (default 10).", "int", "N"),
    Option("--trend-threshold", "modelbench_trend_threshold",
           "trend gate: fail when a model's combined score falls faster than this, in points per run, with "
           "evidence over its sessions (default -0.5; docs/gate.md).",
           "float", "PP"),
    Option("--repeats", "modelbench_repeats",
           "replay each (session x model) K times (repeat_index 0..K-1, node ids <session>[<model>-r<i>] when K > 1); "
           "the leaderboard adds pass@k and the spread across repeats (default 1).", "int", "K"),
    # -- scale: shards across machines --
    Option("--modelbench-shard", "modelbench_shard",
           "run shard K of N: a deterministic split of the sample by a hash of each session key (all candidates of a "
           "session in one shard), with cap/N of --budget-cap-usd; join the artifacts with modelbench merge.",
           "string", "K/N"),
    Option("--modelbench-door", "modelbench_door",
           "HOST:PORT where the model door also listens on TCP for remote workers (--tx ssh=...), which present a "
           "per-run secret; default 127.0.0.1 on a free port. 0.0.0.0:PORT listens on every interface.",
           "string", "HOST:PORT", api=False),
    Option("--modelbench-resume", None,
           "finish the stored run RUN_ID (interrupted, killed or crashed): same id, same items; items already "
           "complete are deselected and their stored outcomes reused, the others run again.", "string", "RUN_ID",
           api=False),
    Option("--modelbench-run-id", None,
           "use this run id (bench_<8 hex>_<YYYYmmdd>_<HHMMSS>) instead of a new one; for tools that start runs and "
           "need the id in advance (modelbench serve).", "string", "ID", api=False),
)


__all__ = ["OPTIONS", "Option"]

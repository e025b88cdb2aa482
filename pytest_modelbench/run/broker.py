"""The controller's model broker (models/broker.py): its configuration, its start, the live status line, and the
calls it makes ahead of the items that will run (models/ahead.py, product.md §5 "concurrency is the model's").
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_modelbench.records import REFERENCE_MODELS, Session

BUILTIN_PLUGIN = "modelbench-builtin"  # the name run/builtin.py is registered under (run/session.py)

if TYPE_CHECKING:
    from pytest_modelbench.models.door import DoorConfig
    from pytest_modelbench.run.options import Settings
    from pytest_modelbench.run.session import BenchmarkSession


def door_config(settings: Settings) -> DoorConfig:
    from pytest_modelbench.models.door import DoorConfig

    s = settings
    return DoorConfig(
        allow_cloud=s.allow_cloud, budget_cap_usd=s.budget_cap_usd, api_base=s.model_api_base,
        prices={m: (pin, pout) for m, pin, pout in s.prices},
        model_settings=dict(s.model_settings),
        max_concurrency=dict(s.max_concurrency), cache_dir=s.store.parent / "cache", cache_mode=s.cache_mode,
        timeout=s.model_timeout, seed=s.sample_seed, max_retries=s.model_retries,
        retry_budget_seconds=s.model_retry_budget,
    )


def start_broker(bench: BenchmarkSession) -> None:
    """One broker per run, in the controller: litellm, the ledger, the cache and the limits live there."""
    from pytest_modelbench.models.broker import Broker

    bench.broker_path = bench.run_dir / "broker.sock"
    bench.broker_secret = secrets.token_urlsafe(32)
    try:
        bench.broker = Broker(door_config(bench.settings), bench.broker_path, bench.broker_secret,
                              bench.settings.door_listen)
    except OSError as exc:
        raise pytest.UsageError(f"--modelbench-door {':'.join(map(str, bench.settings.door_listen))}: cannot "
                                f"listen there: {exc}") from None
    if bench.config.get_verbosity() > 0 or sys.stdout.isatty():
        bench.broker.door.on_change = lambda: live_status(bench)


def live_status(bench: BenchmarkSession) -> None:
    """One status line per change of the door's state (spent, calls in flight, retries waiting, cache hits);
    called from the broker's threads, so writes are serialised and an unchanged line is not repeated."""
    from pytest_modelbench.report.terminal import status_line

    door = bench.broker.door
    state = door.ledger.state()
    line = status_line(state.spent_usd, state.cap_usd, door.in_flight, door.retries_waiting, door.cache_hits)
    tr = bench.config.pluginmanager.get_plugin("terminalreporter")
    capman = bench.config.pluginmanager.get_plugin("capturemanager")
    with bench.live_lock:
        if tr is None or line == bench.live_last:
            return
        bench.live_last = line
        if capman is None:
            tr.write_line(line)
            return
        # The item is running under pytest's output capture: suspend it, as pytest's live logging does.
        with capman.global_and_fixture_disabled():
            tr.write_line(line)


def precheck(bench: BenchmarkSession, model: str, ahead: bool = False) -> tuple[str, str] | None:
    """Why the door must not start ``model`` at all: (status, reason), or None. Makes no model call. With ``ahead``
    (the item's calls were started ahead and may be paid for already) a reached cap is left to the door to say."""
    from pytest_modelbench.models.precheck import precheck as check

    s = bench.settings
    return check(model, broker_running=bench.broker_path is not None, model_settings=s.model_settings,
                 api_base=s.model_api_base, allow_cloud=s.allow_cloud,
                 budget_cap_usd=None if ahead else s.budget_cap_usd, budget=lambda: bench.client.budget())


# -- calls made ahead ------------------------------------------------------------------------------------------


def replays_nothing(config: pytest.Config) -> bool:
    """``--co``, ``--setup-only``, ``--setup-plan``: the items are shown, never replayed."""
    opt = config.option
    return bool(getattr(opt, "collectonly", False) or getattr(opt, "setuponly", False)
                or getattr(opt, "setupplan", False))


def ahead_off(config: pytest.Config) -> str | None:
    """Why no call is made ahead in this run, or None. Each reason is a case where a call made ahead could be paid
    for an item that never asks for it, or answered differently from what the item would have asked."""
    opt = config.option
    if replays_nothing(config):
        return "nothing is replayed"
    if getattr(opt, "maxfail", 0) or getattr(opt, "stepwise", False):
        return "-x/--maxfail/--stepwise may stop the run before the later items"
    others = [impl.plugin_name for impl in config.hook.pytest_modelbench_replay.get_hookimpls()
              if impl.plugin_name != BUILTIN_PLUGIN]
    if others:
        return f"pytest_modelbench_replay is implemented by {', '.join(others)}, which may replay any model its way"
    return None


# Plugins whose pytest_collection_modifyitems deselects only through options that early_off() checks (-k, -m,
# --deselect, --lf) or never (reordering, marking): with no other implementation, the controller knows the items
# that will run before any worker has collected them.
KNOWN_COLLECTION_PLUGINS = frozenset({"main", "mark", "lfplugin", "nfplugin", "hypothesispytest",
                                      "modelbench-session", BUILTIN_PLUGIN})


def early_off(config: pytest.Config) -> str | None:
    """Why the xdist controller cannot start the calls before a worker has collected the items, or None: the run
    selects items in a way only collection can tell (-k, -m, --deselect, --lf, node ids or paths given, a conftest or
    plugin that modifies the collected items). The calls then start after the first worker's collection."""
    opt = config.option
    chosen = [flag for flag, on in (("-k", getattr(opt, "keyword", "")), ("-m", getattr(opt, "markexpr", "")),
                                    ("--deselect", getattr(opt, "deselect", None)), ("--lf", getattr(opt, "lf", False)))
              if on]
    if chosen:
        return f"{'/'.join(chosen)} selects the items at collection"
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return "paths or node ids on the command line select the items at collection"
    if getattr(opt, "modelbench_with_tests", False):
        return "--modelbench-with-tests collects the project's tests, whose conftest files may deselect items"
    others = sorted({impl.plugin_name for impl in config.hook.pytest_collection_modifyitems.get_hookimpls()}
                    - KNOWN_COLLECTION_PLUGINS)
    if others:
        return f"pytest_collection_modifyitems is implemented by {', '.join(others)}, which may deselect items"
    return None


def calls_ahead_for(bench: BenchmarkSession, session: Session, model: str) -> bool:
    """Whether the item (session, model) has its calls made ahead in this run: both the controller (to start them)
    and the worker (to skip the pre-start budget check; the calls may be paid already) decide it this way."""
    from pytest_modelbench.replay.modes import calls_ahead

    return (model not in REFERENCE_MODELS and calls_ahead(session, bench.settings.replay_mode)
            and ahead_off(bench.config) is None)


WARM_WAIT_S = 120.0  # the longest the xdist controller waits for litellm's import before starting its workers


def before_workers(bench: BenchmarkSession) -> None:
    """xdist controller, in ``pytest_sessionstart`` before xdist starts its workers: the calls the plan allows are
    queued now (:func:`start_ahead_early`), and when every item waits for the model, litellm's import (~4 s of CPU,
    which every call waits for) is finished first: 8 workers starting on 2 cores took its CPU (it took ~7 s)."""
    start_ahead_early(bench)
    if all(m not in REFERENCE_MODELS for m in bench.settings.models) and not replays_nothing(bench.config):
        bench.broker.wait_warm(WARM_WAIT_S)


def start_ahead_early(bench: BenchmarkSession) -> int:
    """xdist controller, before the workers start: queue the calls of the items the plan says will run (every
    (session, model, repeat) not resumed), when nothing but collection could deselect one (:func:`early_off`). The
    first worker's collection then confirms the list (:func:`confirm_ahead`). Returns the number of items queued."""
    from pytest_modelbench.run.items import item_name

    if bench.broker is None or bench.is_worker or ahead_off(bench.config) or early_off(bench.config):
        return 0
    repeats = bench.settings.repeats
    nodeids = [item_name(s.key, m, r, repeats) for s in bench.plan.sessions for m in bench.settings.models
               for r in range(repeats) if (s.key, m, r) not in bench.resumed]
    queued = start_ahead(bench, nodeids)
    bench.ahead_early = set(nodeids)
    return queued


def confirm_ahead(bench: BenchmarkSession, nodeids: Sequence[str]) -> None:
    """xdist controller, when the first worker has collected: the calls were queued early (start_ahead_early) for
    the items the plan named; an item not collected after all (a way of deselecting early_off does not know) has its
    queued calls dropped. Otherwise the calls start now, from the collected list."""
    if bench.ahead_confirmed:
        return  # every worker collects the same list (xdist checks that): the first one decides
    bench.ahead_confirmed = True
    if bench.ahead_early is None:
        start_ahead(bench, nodeids)
    elif bench.broker is not None and not bench.ahead_early.issubset(nodeids):
        bench.broker.door.ahead.restrict(nodeids)


def start_ahead(bench: BenchmarkSession, nodeids: Sequence[str]) -> int:
    """Queue the calls of the items that will run (``nodeids``: the collected items after -k, --lf, deselection,
    shards and resume), in their order, on the controller's door; the number of items queued."""
    if bench.broker is None or bench.is_worker or bench.broker.door.ahead.started:
        return 0  # (each xdist worker reports its collection; the first one starts everything)
    from pytest_modelbench.models.ahead import Chain
    from pytest_modelbench.replay.modes import first_messages
    from pytest_modelbench.replay.workspace import copy_workspace, write_fileset
    from pytest_modelbench.run.items import item_name

    repeats = bench.settings.repeats
    by_name = {item_name(s.key, m, r, repeats): (s, m, r)
               for s in bench.plan.sessions for m in bench.settings.models for r in range(repeats)}
    chains: list[Chain] = []
    firsts: dict[str, tuple[dict[str, str], ...]] = {}
    with tempfile.TemporaryDirectory(prefix="modelbench-ahead-", dir=bench.run_dir) as tmp:
        for nodeid in nodeids:
            found = by_name.get(nodeid)
            if found is None or not calls_ahead_for(bench, found[0], found[1]):
                continue
            session, model, repeat = found
            if session.key not in firsts:
                workspace = None
                if session.check.kind != "function":
                    # The files the worker's workspace will hold: the session's start, copied as a replay copies it.
                    start = Path(tmp) / str(len(firsts))
                    write_fileset(session.workspace, start / "pristine")
                    workspace = copy_workspace(start / "pristine", start / "ws")
                firsts[session.key] = tuple(first_messages(session, workspace))
            chains.append(Chain(nodeid, model, repeat, firsts[session.key], tuple(session.turns)))
    return bench.broker.door.ahead.start(chains) if chains else 0


__all__ = ["ahead_off", "before_workers", "calls_ahead_for", "confirm_ahead", "door_config", "early_off", "live_status",
           "precheck", "start_ahead", "start_ahead_early", "start_broker"]

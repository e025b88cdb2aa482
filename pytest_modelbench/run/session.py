"""The object ``pytest_configure`` registers when ``--modelbench`` is on: all run state lives here.

Roles: under pytest-xdist the controller owns the store, the artifact and the terminal report, and the workers run
items and send each outcome back on its test report. Without xdist one process does both.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import REFERENCE_MODELS, Outcome
from pytest_modelbench.replay import SessionCache
from pytest_modelbench.replay.check import Checker
from pytest_modelbench.replay.pipeline import ItemContext, wants_coverage
from pytest_modelbench.run import builtin
from pytest_modelbench.run.broker import BUILTIN_PLUGIN
from pytest_modelbench.run.items import plan_for
from pytest_modelbench.run.options import Settings, resolve
from pytest_modelbench.runners import Runner, scratch_base
from pytest_modelbench.sampling.plan import Plan, manifest_identity, shard_plan
from pytest_modelbench.scoring.rubric import Rubric, resolve_rubric
from pytest_modelbench.store.artifact import new_run_id

if TYPE_CHECKING:
    from pytest_modelbench.store.sqlite import Store

OUTCOME_ATTR = "modelbench_outcome"


class BenchmarkSession:
    """Run state for one ``pytest --modelbench`` invocation (one per process)."""

    def __init__(self, config: pytest.Config, settings: Settings, rubric: Rubric, plan: Plan) -> None:
        self.config = config
        self.settings = settings
        self.rubric = rubric
        self.plan = plan
        self.sessions_by_key = {s.key: s for s in plan.sessions}
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.is_worker = workerinput is not None
        # The door's address: the Unix socket's path for local processes, host:port for remote workers.
        self.broker_path: Path | str | None = None
        self.broker_secret: str | None = None  # per run; never written anywhere but the workers' input
        self._own_run_dir = workerinput is None or not workerinput.get("modelbench_run_dir")
        if workerinput is not None:
            self.run_id: str = workerinput["modelbench_run_id"]
            # A remote worker (--tx ssh=...) cannot see the controller's folder: it makes its own.
            self.run_dir = Path(workerinput["modelbench_run_dir"] or tempfile.mkdtemp(
                prefix=f"modelbench-{self.run_id}-", dir=scratch_base()))
            broker = workerinput.get("modelbench_broker")
            self.broker_path = (broker if ":" in broker and not broker.startswith("/") else Path(broker)) \
                if broker else None
            self.broker_secret = workerinput.get("modelbench_broker_secret")
        else:
            self.run_id = settings.run_id or new_run_id()
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"modelbench-{self.run_id}-", dir=scratch_base()))
        self.cache = SessionCache(self.run_dir / "sessions")
        self._runner: Runner | None = None
        self._checker: Checker | None = None
        self._item_context: ItemContext | None = None
        self.runner_warning: str | None = None
        self.outcomes: list[Outcome] = []
        self.started = time.time()
        self.store: Store | None = None  # the controller's store, opened by start_run
        self.run_created = False  # the run row is written with the first outcome (ensure_run)
        self.live_lock = threading.Lock()  # the live status line (run/broker.py)
        self.live_last = ""
        self.artifact_path: Path | None = None
        self.artifact: dict[str, Any] = {}  # as written at the end of the run (after pytest_modelbench_update_json)
        self.finished = False
        self.broker: Any = None  # the controller's model broker (models/broker.py), when real models run
        self.ahead_early: set[str] | None = None  # node ids whose calls the controller queued from the plan
        self.ahead_confirmed = False  # a worker's collection has confirmed (or named) the items that will run
        self._client: Any = None
        self.budget_final: dict[str, Any] | None = None
        self.fingerprints: dict[str, Any] = {}
        self.broker_stats: dict[str, Any] = {}
        self._cost_done: set[tuple[str, int]] = set()
        self.baseline: Any = None  # gate.Baseline, resolved before this run is created
        self.gate: Any = None  # gate.GateResult, computed at session end
        self.report_notes: tuple[list[str], list[str]] = ([], [])  # HTML report / step summary: notes, warnings
        # --modelbench-resume: (session key, model, repeat) of the items already complete, deselected at collection
        self.resumed: set[tuple[str, str, int]] = {
            (k, m, int(r)) for k, m, r in (workerinput or {}).get("modelbench_resumed") or ()}
        self.recommendations: list[Any] = []  # analysis.recommend.Recommendation per intent, at session end

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: pytest.Config) -> BenchmarkSession:
        """Resolve the options, the rubric and the plan, and on the controller open the run. A user's mistake
        raises a :class:`UserError` (``plugin.pytest_configure`` turns it into a ``pytest.UsageError``)."""
        settings = resolve(config)
        config.pluginmanager.register(builtin, BUILTIN_PLUGIN)
        rubric = resolve_rubric(settings.rubric, config.rootpath)
        plan = plan_for(config, settings)
        if settings.shard is not None:
            plan = shard_plan(plan, settings.shard)
        bench = cls(config, settings, rubric, plan)
        if not bench.is_worker:
            bench.start_run()
        return bench

    def start_run(self) -> None:
        from pytest_modelbench.store.sqlite import Store

        # Decide the runner here too, so a fallback warning is shown once even when only workers run items.
        _ = self.runner
        self.store = Store(self.settings.store)  # a StoreError names the file; it is never overwritten
        if self.settings.run_id is not None and self.store.run(self.run_id) is not None:
            raise UserError(f"--modelbench-run-id {self.run_id}: a run with this id is already in "
                            f"{self.settings.store}")
        if self.settings.baseline is not None:
            from pytest_modelbench.analysis.gate import resolve_baseline

            self.baseline = resolve_baseline(self.store, self.settings.baseline, self.rubric.version,
                                             self.config.rootpath, exclude=self.settings.resume)
        if self.settings.judge or any(m not in REFERENCE_MODELS for m in self.settings.models):
            from pytest_modelbench.run.broker import start_broker

            start_broker(self)
        if self.settings.resume is not None:
            self.resume_run(self.settings.resume)

    def ensure_run(self) -> None:
        """Create the run row with the first outcome: a run that replays nothing (``--co``, ``--setup-plan``, every
        item deselected) leaves no run behind, so it can never become ``latest``, a baseline or a trend point."""
        assert self.store is not None  # called by the controller only, with its store open
        if self.run_created:
            return
        self.run_created = True
        self.store.create_run(
            self.run_id, self.settings.name, self.rubric.version, self.settings.models,
            [s.key for s in self.plan.sessions], self.run_config(),
        )

    def resume_run(self, run_id: str) -> None:
        """Take over a stored run: its complete outcomes are reused, its other items run again (resume.py)."""
        from pytest_modelbench.sampling.resume import plan_resume

        assert self.store is not None  # resume_run is called by start_run, after the store is open
        resumed = plan_resume(self.store.run(run_id), self.store.outcomes(run_id), run_id, self.store.path,
                              self.run_config(), self.plan.sessions, self.settings.models)
        self.run_id = run_id
        self.started = float(resumed.run["created_ts"])
        self.resumed = resumed.done_keys
        self.outcomes.extend(resumed.done)
        self.store.reopen_run(run_id)
        self.run_created = True

    def run_config(self) -> dict[str, Any]:
        from pytest_modelbench.store.artifact import environment_info

        s = self.settings
        return {
            "models": list(s.models),
            "sessions": list(s.sessions),
            "sample_size": s.sample_size,
            "sample_seed": s.sample_seed,
            "intents": list(s.intents),
            "runner": s.runner,
            "runner_used": self._runner.name if self._runner else None,
            "rubric": self.rubric.to_dict(),
            "strata": self.plan.strata,
            "sample_manifest": manifest_identity(s.sample_manifest),
            "shard": self.plan.shard,
            "repeats": s.repeats,
            **environment_info(self.config.rootpath),
        }

    @property
    def runner(self) -> Runner:
        if self._runner is None:  # a RunnerError (a UserError) names the runner and what is missing
            made = self.config.hook.pytest_modelbench_make_runner(config=self.config, kind=self.settings.runner)
            self._runner, self.runner_warning = made
        return self._runner

    @property
    def client(self) -> Any:
        if self._client is None:
            from pytest_modelbench.models.broker import BrokerClient
            from pytest_modelbench.models.client import ModelClient

            if self.broker_path is None:
                raise RuntimeError("no model broker is running for this run")
            self._client = ModelClient(BrokerClient(self.broker_path, secret=self.broker_secret))
        return self._client

    @property
    def checker(self) -> Checker:
        if self._checker is None:
            from pytest_modelbench.replay.envs import EnvResolver

            envs = EnvResolver(self.settings.env, self.settings.store.parent / "envs", progress=self._progress,
                               coverage=wants_coverage(self.rubric))
            self._checker = Checker(self.runner, self.run_dir / "scratch", envs)
        return self._checker

    def _progress(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self.is_worker:
            reporter.write_line(line)

    def prepare_envs(self) -> None:
        """Find or build every sampled session's environment on the controller, before any item starts."""
        if self.settings.env == "harness":
            return
        from pytest_modelbench.replay.envs import EnvError
        from pytest_modelbench.replay.workspace import write_fileset

        for session in self.plan.sessions:
            if session.check.kind != "pytest":
                continue
            with tempfile.TemporaryDirectory(prefix="modelbench-env-", dir=self.checker.scratch) as tmp:
                write_fileset(session.workspace, Path(tmp))
                try:
                    self.checker.env_for(session, Path(tmp))
                except EnvError:
                    pass  # the session is left out with this reason when its item runs

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.broker is not None:
            self.broker.warm_up()  # litellm's import, in a thread, while the rest starts (models/broker.py)
        # Before xdist starts its workers: environments are built once, here, never once per item.
        if not self.is_worker and not self.config.option.collectonly:
            self.prepare_envs()
        if not self.is_worker and self.broker is not None and self.config.pluginmanager.has_plugin("dsession"):
            from pytest_modelbench.run.broker import before_workers

            before_workers(self)

    def item_context(self) -> ItemContext:
        """What ``replay/pipeline.run_item`` needs for every item: the replay and score hooks as plain callables."""
        if self._item_context is None:
            hook, config = self.config.hook, self.config
            self._item_context = ItemContext(
                runner=self.runner, checker=self.checker, cache=self.cache, rubric=self.rubric,
                replay=lambda session, model, workspace, repeat_index: hook.pytest_modelbench_replay(
                    config=config, session=session, model=model, workspace=workspace, repeat_index=repeat_index),
                score=lambda context: hook.pytest_modelbench_score(config=config, context=context),
            )
        return self._item_context

    # -- hooks: collection --------------------------------------------------------------------------------------

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        # The project's own tests are not collected unless asked for (and never imported).
        return None if self.settings.with_tests else True

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        from pytest_modelbench.run.items import make_items

        ours = make_items(session, self.plan.sessions, self.settings.models, self.settings.repeats)
        if self.resumed:
            done = [i for i in ours if (i.record.key, i.model, getattr(i, "repeat_index", 0)) in self.resumed]
            if done:
                config.hook.pytest_deselected(items=done)
                ours = [i for i in ours if i not in done]
        if self.settings.with_tests:
            items.extend(ours)
        else:
            items[:] = ours

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Without xdist the items that will run are known here (after -k, --lf and every deselection): the door
        # starts their calls ahead (run/broker.py). Under xdist the controller learns them from its workers.
        if not self.is_worker:
            from pytest_modelbench.run.broker import start_ahead

            start_ahead(self, [item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist controller: the first worker to finish collecting names the items that will run (every worker
        collects the same list; xdist checks that): the door starts their calls ahead, or, when it started them from
        the plan already, drops those of any item not collected; later reports do nothing."""
        from pytest_modelbench.run.broker import confirm_ahead

        confirm_ahead(self, ids)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        if self.broker is not None:  # Ctrl-C: no call starts any more, calls queued ahead are dropped
            self.broker.door.cancel()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: hand the run id and the shared run folder to each worker."""
        node.workerinput["modelbench_run_id"] = self.run_id
        from pytest_modelbench.models.broker import door_address_for

        remote = bool(getattr(node.gateway.spec, "ssh", None) or getattr(node.gateway.spec, "socket", None))
        node.workerinput["modelbench_run_dir"] = None if remote else str(self.run_dir)
        node.workerinput["modelbench_broker"] = door_address_for(self.broker, remote) if self.broker else None
        node.workerinput["modelbench_broker_secret"] = self.broker_secret
        node.workerinput["modelbench_resumed"] = sorted(self.resumed)

    # -- the outcome travels on the setup report (from an xdist worker to the controller) -------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        outcome = getattr(item, "outcome", None)
        if call.when == "setup" and outcome is not None:
            setattr(report, OUTCOME_ATTR, outcome.to_dict())
        return report

    # -- controller: record, summarise --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, OUTCOME_ATTR, None)
        if data is None and report.when == "???" and report.failed and not self.is_worker:
            # An xdist worker died running this item (kill -9, OOM): record it failed with xdist's message, so the
            # loss is visible and --modelbench-resume reruns it.
            from pytest_modelbench.sampling.resume import crashed_outcome

            crashed = crashed_outcome(report.nodeid, str(report.longrepr), self.sessions_by_key, self.settings.models)
            data = crashed.to_dict() if crashed is not None else None
        if data is None or self.is_worker or self.store is None:
            return
        outcome = Outcome.from_dict(data)
        self.ensure_run()
        self.store.write_outcome(self.run_id, outcome)
        self.outcomes.append(outcome)
        self.config.hook.pytest_modelbench_outcome(config=self.config, outcome=outcome)
        group = [o for o in self.outcomes if o.session_key == outcome.session_key
                 and o.repeat_index == outcome.repeat_index]
        if len(group) == len(self.settings.models):
            self.score_cost(outcome.session_key, outcome.repeat_index)

    def score_cost(self, session_key: str, repeat_index: int) -> None:
        """The cost component for one session, once all its candidates are done; updates store and outcomes."""
        from pytest_modelbench.scoring.session_cost import score_session_cost, wants_cost

        if not wants_cost(self.rubric) or (session_key, repeat_index) in self._cost_done:
            return
        self._cost_done.add((session_key, repeat_index))
        at = [i for i, o in enumerate(self.outcomes)
              if o.session_key == session_key and o.repeat_index == repeat_index and o.status == "complete"]
        assert self.store is not None  # called by the controller only, with its store open
        for i, updated in zip(at, score_session_cost(self.rubric, [self.outcomes[i] for i in at]), strict=True):
            self.outcomes[i] = updated
            self.store.write_outcome(self.run_id, updated)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker or self.store is None or self.finished:
            return
        self.finished = True
        if self.broker is not None:
            self.broker.door.ahead.stop()  # every item has run: what no item took is counted as unused
        if not self.run_created:
            return  # nothing was replayed: no run, no artifact (pytest_terminal_summary says so)
        from pytest_modelbench.run.finish import finish_run

        finish_run(self, session, exitstatus)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.finished:
            return
        if not self.run_created:
            terminalreporter.write_line("modelbench: nothing was replayed, so no run was recorded")
            return
        from pytest_modelbench.report.terminal import render_gate, render_summary
        from pytest_modelbench.run.finish import run_summary

        render_summary(terminalreporter, run_summary(self))
        if self.gate is not None:
            render_gate(terminalreporter, self.gate)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._checker is not None:
            self._checker.close()
        if self.store is not None:
            self.store.close()
        if self._client is not None:
            self._client.broker.close()
        if self.broker is not None:
            self.broker.close()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.is_worker:
            # An xdist worker's process ends after this: frozen, its objects are not walked once more by the
            # cyclic garbage collector at interpreter exit (0.1-0.5 s per worker, all at once at the run's end).
            gc.freeze()


__all__ = ["BenchmarkSession", "OUTCOME_ATTR"]

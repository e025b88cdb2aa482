"""The object ``pytest_configure`` registers when ``--modelbench`` is on: all run state lives here.

Roles: under pytest-xdist the controller owns the store, the artifact and the terminal report, and the workers run
items and send each outcome back on its test report. Without xdist one process does both.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_modelbench.records import REFERENCE_MODELS, ComponentScore, Outcome, Session
from pytest_modelbench.replay import INVALID_GOLD, ReplayResult, SessionCache
from pytest_modelbench.replay.check import Checker
from pytest_modelbench.replay.workspace import WorkspaceError, copy_workspace, touched_files
from pytest_modelbench.report import CAVEAT
from pytest_modelbench.run import builtin
from pytest_modelbench.run.options import Settings, resolve
from pytest_modelbench.runners import Runner, RunnerError, scratch_base
from pytest_modelbench.scoring.combine import combine, made_progress
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.scoring.rubric import Rubric, RubricError, resolve_rubric
from pytest_modelbench.sources import SourceError
from pytest_modelbench.store.artifact import new_run_id

if TYPE_CHECKING:
    from pytest_modelbench.store.sqlite import Store

OUTCOME_ATTR = "modelbench_outcome"
HOW_TO_ADD_MODELS = (
    "modelbench: running the reference candidates replay/gold and replay/noop only; add real models with "
    "--models (or ini modelbench_models)."
)


@dataclass(frozen=True)
class Plan:
    """The sampled sessions of every source, in run order."""

    sessions: tuple[Session, ...]
    strata: dict[str, dict[str, int]]  # source -> stratum label -> count
    shard: dict[str, Any] | None = None  # with --modelbench-shard: index, count, and the whole sample's identity


def shard_plan(plan: Plan, shard: tuple[int, int]) -> Plan:
    """The sessions of shard K of N (all candidates of a session together); strata stay those of the whole sample."""
    from pytest_modelbench.sampling.shards import in_shard, shard_record

    mine = tuple(s for s in plan.sessions if in_shard(s.key, shard))
    return Plan(mine, plan.strata, shard_record(shard, [s.key for s in plan.sessions]))


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
        if workerinput is not None:
            self.run_id: str = workerinput["modelbench_run_id"]
            self.run_dir = Path(workerinput["modelbench_run_dir"])
            broker = workerinput.get("modelbench_broker")
            self.broker_path: Path | None = Path(broker) if broker else None
        else:
            self.run_id = settings.run_id or new_run_id()
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"modelbench-{self.run_id}-", dir=scratch_base()))
            self.broker_path = None
        self.cache = SessionCache(self.run_dir / "sessions")
        self._runner: Runner | None = None
        self._checker: Checker | None = None
        self.runner_warning: str | None = None
        self.outcomes: list[Outcome] = []
        self.started = time.time()
        self.store: Store | None = None  # the controller's store, opened by start_run
        self.artifact_path: Path | None = None
        self.finished = False
        self.broker: Any = None  # the controller's model broker (models/broker.py), when real models run
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
        settings = resolve(config)
        config.pluginmanager.register(builtin, "modelbench-builtin")
        try:
            rubric = resolve_rubric(settings.rubric, config.rootpath)
        except RubricError as exc:
            raise pytest.UsageError(str(exc)) from None
        plan = build_plan(config, settings)
        if settings.shard is not None:
            plan = shard_plan(plan, settings.shard)
        bench = cls(config, settings, rubric, plan)
        if not bench.is_worker:
            bench.start_run()
        return bench

    def start_run(self) -> None:
        # Decide the runner here too, so a fallback warning is shown once even when only workers run items.
        _ = self.runner
        self.store = _open_store(self.settings.store)
        if self.settings.run_id is not None and self.store.run(self.run_id) is not None:
            raise pytest.UsageError(f"--modelbench-run-id {self.run_id}: a run with this id is already in "
                                    f"{self.settings.store}")
        if self.settings.baseline is not None:
            from pytest_modelbench.analysis.gate import GateError, resolve_baseline

            try:
                self.baseline = resolve_baseline(self.store, self.settings.baseline, self.rubric.version,
                                                 self.config.rootpath, exclude=self.settings.resume)
            except GateError as exc:
                raise pytest.UsageError(str(exc)) from None
        if self.settings.judge or any(m not in REFERENCE_MODELS for m in self.settings.models):
            self.start_broker()
        if self.settings.resume is not None:
            self.resume_run(self.settings.resume)
            return
        self.store.create_run(
            self.run_id, self.settings.name, self.rubric.version, self.settings.models,
            [s.key for s in self.plan.sessions], self.run_config(),
        )

    def resume_run(self, run_id: str) -> None:
        """Take over a stored run: its complete outcomes are reused, its other items run again (resume.py)."""
        from pytest_modelbench.sampling.resume import ResumeError, plan_resume

        assert self.store is not None  # resume_run is called by start_run, after the store is open
        try:
            resumed = plan_resume(self.store.run(run_id), self.store.outcomes(run_id), run_id, self.store.path,
                                  self.run_config(), self.plan.sessions, self.settings.models)
        except ResumeError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.run_id = run_id
        self.started = float(resumed.run["created_ts"])
        self.resumed = resumed.done_keys
        self.outcomes.extend(resumed.done)
        self.store.reopen_run(run_id)

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
            "sample_manifest": _manifest_identity(s.sample_manifest),
            "shard": self.plan.shard,
            "repeats": s.repeats,
            **environment_info(self.config.rootpath),
        }

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            try:
                made = self.config.hook.pytest_modelbench_make_runner(config=self.config, kind=self.settings.runner)
            except RunnerError as exc:
                raise pytest.UsageError(str(exc)) from None
            self._runner, self.runner_warning = made
        return self._runner

    def door_config(self) -> Any:
        from pytest_modelbench.models.door import DoorConfig
        from pytest_modelbench.models.providers import parse_model_settings

        s = self.settings
        return DoorConfig(
            allow_cloud=s.allow_cloud, budget_cap_usd=s.budget_cap_usd, api_base=s.model_api_base,
            prices={m: (pin, pout) for m, pin, pout in s.prices},
            model_settings=parse_model_settings(list(s.model_settings_lines)),
            max_concurrency=dict(s.max_concurrency), cache_dir=s.store.parent / "cache", cache_mode=s.cache_mode,
            timeout=s.model_timeout, seed=s.sample_seed,
        )

    def start_broker(self) -> None:
        """One broker per run, in the controller: litellm, the ledger, the cache and the limits live there."""
        from pytest_modelbench.models.broker import Broker

        self.broker_path = self.run_dir / "broker.sock"
        self.broker = Broker(self.door_config(), self.broker_path)

    @property
    def client(self) -> Any:
        if self._client is None:
            from pytest_modelbench.models.broker import BrokerClient
            from pytest_modelbench.models.client import ModelClient

            if self.broker_path is None:
                raise RuntimeError("no model broker is running for this run")
            self._client = ModelClient(BrokerClient(self.broker_path))
        return self._client

    def precheck(self, model: str) -> tuple[str, str] | None:
        """Why the door must not start ``model`` at all: (status, reason), or None. Makes no model call."""
        if self.broker_path is None:
            return "failed", "no model broker is running for this run"
        from pytest_modelbench.models.providers import is_local, parse_model_settings

        s = self.settings
        ms = parse_model_settings(list(s.model_settings_lines)).get(model)
        api_base = (ms.api_base if ms else None) or s.model_api_base
        if not is_local(model, api_base, ms.cloud if ms else None) and not s.allow_cloud:
            return "skipped", (f"cloud model {model} needs --allow-cloud (and --budget-cap-usd); "
                               "nothing was sent")
        if s.budget_cap_usd is not None and self.client.budget().get("exhausted"):
            return "cancelled-over-budget", "cancelled-over-budget: the budget cap was reached before this item started"
        return None

    @property
    def wants_coverage(self) -> bool:
        return dict(self.rubric.static_weights).get("coverage", 0) > 0 and self.rubric.weight("static") > 0

    @property
    def checker(self) -> Checker:
        if self._checker is None:
            from pytest_modelbench.replay.envs import EnvResolver

            envs = EnvResolver(self.settings.env, self.settings.store.parent / "envs", progress=self._progress,
                               coverage=self.wants_coverage)
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
        # Before xdist starts its workers: environments are built once, here, never once per item.
        if not self.is_worker and not self.config.option.collectonly:
            self.prepare_envs()

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

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: hand the run id and the shared run folder to each worker."""
        node.workerinput["modelbench_run_id"] = self.run_id
        node.workerinput["modelbench_run_dir"] = str(self.run_dir)
        node.workerinput["modelbench_broker"] = str(self.broker_path) if self.broker_path else None
        node.workerinput["modelbench_resumed"] = sorted(self.resumed)

    # -- running one item ---------------------------------------------------------------------------------------

    def run_item(self, session: Session, model: str, repeat_index: int = 0) -> Outcome:
        """Replay ``model`` on ``session``, run the check, score it. Raises only when the harness itself breaks."""
        start = time.monotonic()
        base: dict[str, Any] = dict(session_id=session.id, source=session.source, model=model,
                                    intent=session.intent, repeat_index=repeat_index)
        prepared = self.cache.prepare(session, self.checker, self.wants_coverage)
        if not prepared.valid:
            return Outcome(**base, status="skipped", solved=None, static_score=None, llm_score=None,
                           combined_score=None, cost_usd=None, duration_seconds=round(time.monotonic() - start, 3),
                           num_turns=0, skip_reason=prepared.invalid_reason,
                           evidence={"gold": prepared.gold.to_dict(), "before": prepared.before.to_dict()})
        with tempfile.TemporaryDirectory(prefix="modelbench-replay-", dir=self.checker.scratch) as tmp:
            if model == "replay/gold":
                # The gold replay is exactly the harness validation just run: same workspace, same check.
                replay = ReplayResult(0, 0.0, {"mode": "reference", "applied": "gold"})
                after, touched, workspace = prepared.gold, prepared.gold_touched, prepared.gold_workspace
                seconds, executed = prepared.gold_seconds, prepared.gold_executed
                files = python_files(prepared.pristine, workspace, touched)
            else:
                workspace = copy_workspace(prepared.pristine, Path(tmp) / "ws")
                replay = self.config.hook.pytest_modelbench_replay(
                    config=self.config, session=session, model=model, workspace=workspace, repeat_index=repeat_index)
                if replay is None:
                    raise RuntimeError(f"no pytest_modelbench_replay implementation handles model {model!r}")
                if replay.status != "complete":
                    return Outcome(**base, status=replay.status, solved=None,
                                   static_score=None, llm_score=None, combined_score=None, cost_usd=replay.cost_usd,
                                   duration_seconds=round(time.monotonic() - start, 3), num_turns=replay.turns,
                                   skip_reason=replay.reason, evidence={"replay": replay.evidence})
                touched = touched_files(prepared.pristine, workspace)
                # Read what static scoring needs now: the check restores test files and config in place.
                files = python_files(prepared.pristine, workspace, touched)
                check_start = time.monotonic()
                check = self.checker.run(session, workspace, prepared.pristine, self.wants_coverage)
                after, executed = check.counts, check.executed
                seconds = time.monotonic() - check_start
            candidate_files, start_files, diff = files
            gold_candidate, _, _ = python_files(prepared.pristine, prepared.gold_workspace, prepared.gold_touched)
            context = ScoreContext(
                session, model, self.rubric, prepared.before, after, prepared.pristine, workspace,
                prepared.gold_workspace, candidate_files=candidate_files, start_files=start_files,
                gold_files=gold_candidate, start_all=all_python_files(prepared.pristine), executed=executed,
                diff=diff, gold_counts=prepared.gold, touched=touched,
            )
            measured: dict[str, ComponentScore] = {}
            for result in self.config.hook.pytest_modelbench_score(config=self.config, context=context):
                for component in result or ():
                    measured.setdefault(component.name, component)
            components, combined = combine(self.rubric, measured,
                                           made_progress(after.all_passed, context.evidence.get("tests")))
        by_name = {c.name: c for c in components}
        evidence = {
            **context.evidence,
            "replay": replay.evidence,
            "touched": touched,
            "diff": diff,
            "runner": self.runner.name,
            "check_seconds": round(seconds, 3),
        }
        return Outcome(
            **base,
            status="complete",
            solved=after.all_passed,
            static_score=by_name["static"].value if "static" in by_name else None,
            llm_score=by_name["llm"].value if "llm" in by_name else None,
            combined_score=combined,
            cost_usd=replay.cost_usd,
            duration_seconds=round(time.monotonic() - start, 3),
            num_turns=replay.turns,
            components=tuple(components),
            evidence=evidence,
        )

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
        self.store.write_outcome(self.run_id, outcome)
        self.outcomes.append(outcome)
        self.config.hook.pytest_modelbench_outcome(config=self.config, outcome=outcome)
        group = [o for o in self.outcomes if o.session_key == outcome.session_key
                 and o.repeat_index == outcome.repeat_index]
        if len(group) == len(self.settings.models):
            self.score_cost(outcome.session_key, outcome.repeat_index)

    def score_cost(self, session_key: str, repeat_index: int) -> None:
        """The cost component for one session, once all its candidates are done; updates store and outcomes."""
        from pytest_modelbench.scoring.cost import cost_scores

        if self.rubric.weight("cost") <= 0 or (session_key, repeat_index) in self._cost_done:
            return
        self._cost_done.add((session_key, repeat_index))
        group = [(i, o) for i, o in enumerate(self.outcomes)
                 if o.session_key == session_key and o.repeat_index == repeat_index and o.status == "complete"]
        scores = cost_scores({o.model: o.cost_usd for _, o in group}, {o.model: o.solved for _, o in group},
                             version=self.rubric.version)
        assert self.store is not None  # called by the controller only, with its store open
        for i, o in group:
            measured = {c.name: c for c in o.components if c.present or c.reason}
            measured["cost"] = scores[o.model]
            components, combined = combine(self.rubric, {k: v for k, v in measured.items() if k != "static"},
                                           made_progress(o.solved, o.evidence.get("tests")))
            evidence = {**o.evidence, "cost": {"replay_cost_usd": o.cost_usd,
                                               "judge_cost_usd": (o.evidence.get("llm") or {}).get("cost_usd"),
                                               "compared_with": sorted(m.model for _, m in group)}}
            updated = dataclasses.replace(o, components=tuple(components), combined_score=combined, evidence=evidence)
            self.outcomes[i] = updated
            self.store.write_outcome(self.run_id, updated)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker or self.store is None or self.finished:
            return
        self.finished = True
        # Sessions whose candidates did not all run (-k, --lf, interruptions): cost among those that did.
        for key in sorted({(o.session_key, o.repeat_index) for o in self.outcomes}):
            self.score_cost(*key)
        from pytest_modelbench.store.artifact import build_artifact, default_artifact_path, write_artifact

        if self.resumed and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # a resumed run with nothing left to do is done, not empty
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        outcomes = sorted(self.outcomes, key=lambda o: (o.session_key, o.model, o.repeat_index))
        costs = [o.cost_usd for o in outcomes if o.status == "complete"]
        total = None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6)
        status = "failed" if interrupted or exitstatus == pytest.ExitCode.INTERNAL_ERROR else "complete"
        if status == "complete":
            self.run_gate(session, exitstatus, outcomes)
        self.store.finish_run(self.run_id, status, total, sorted({o.session_key for o in outcomes}) or None)
        if self.broker is not None:
            self.budget_final = self.broker.dispatch({"op": "budget"})
            self.fingerprints = self.broker.dispatch({"op": "fingerprints"})["fingerprints"]
            self.broker_stats = self.broker.dispatch({"op": "stats"})
        artifact = build_artifact(self, outcomes, status=status, interrupted=interrupted, total_cost=total)
        from pytest_modelbench.analysis.recommend import recommend

        self.recommendations = recommend(outcomes, run_id=self.run_id)
        artifact["recommendations"] = [r.to_dict() for r in self.recommendations]
        if self.gate is not None:
            artifact["regressions"] = self.gate.artifact_entries()
            artifact["warnings"].extend(self.gate.warnings)
        self.config.hook.pytest_modelbench_update_json(config=self.config, artifact=artifact)
        self.artifact_path = self.settings.json_path or default_artifact_path(self.settings.store, self.run_id)
        write_artifact(artifact, self.artifact_path)
        self.artifact: dict[str, Any] = artifact
        from pytest_modelbench.report.finish import write_outputs

        self.report_notes = write_outputs(artifact, self.store, self.run_id, self.settings.html_path)

    def run_gate(self, session: pytest.Session, exitstatus: int, outcomes: list[Outcome]) -> None:
        """The regression gate and the trend gate; any regression fails an otherwise green run (exit status 1)."""
        from pytest_modelbench.analysis.gate import evaluate

        assert self.store is not None  # called by pytest_sessionfinish, after the store is checked
        s = self.settings
        manifest = _manifest_identity(s.sample_manifest)
        fingerprints = self.broker.dispatch({"op": "fingerprints"})["fingerprints"] if self.broker is not None else {}
        self.gate = evaluate(
            self.store, self.run_id, outcomes, self.rubric.version, manifest["sha256"] if manifest else None,
            baseline=self.baseline, baseline_spec=s.baseline, tolerance=s.tolerance, force=s.force_compare,
            seed=s.sample_seed, trend_window=s.trend_window, trend_threshold=s.trend_threshold,
            fingerprints=fingerprints, solve_tolerance=s.solve_tolerance)
        if self.gate.regressions and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.finished:
            return
        from pytest_modelbench.report.terminal import render_gate, render_summary

        render_summary(terminalreporter, self)
        if self.resumed:
            terminalreporter.write_line(
                f"modelbench: resumed run {self.run_id}: {len(self.resumed)} complete item(s) reused from the store "
                f"(deselected), {len(self.outcomes) - len(self.resumed)} run now")
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
        if not self.is_worker:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def _open_store(path: Path) -> Store:
    """The store, or a UsageError naming the file when it cannot be used (it is never overwritten)."""
    from pytest_modelbench.store.sqlite import Store, StoreError

    try:
        return Store(path)
    except StoreError as exc:
        raise pytest.UsageError(str(exc)) from None


def _manifest_identity(path: Path | None) -> dict[str, str] | None:
    """Path and content hash of the sample manifest (the baseline gate compares like with like on it)."""
    if path is None or not path.is_file():
        return None
    import hashlib

    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def python_files(pristine: Path, workspace: Path,
                 touched: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, str | None], str]:
    """Touched Python files after and at the start (None: new), and the redacted diff of the whole change."""
    from pytest_modelbench.models.redact import redact
    from pytest_modelbench.replay.workspace import unified_diff

    after: dict[str, str] = {}
    start: dict[str, str | None] = {}
    for rel in (*touched.get("added", ()), *touched.get("modified", ())):
        if not rel.endswith(".py") or (workspace / rel).is_symlink():  # a link is never read through
            continue
        try:
            after[rel] = (workspace / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        old = pristine / rel
        start[rel] = old.read_text(encoding="utf-8", errors="replace") if old.is_file() else None
    return after, start, redact(unified_diff(pristine, workspace))


def all_python_files(root: Path) -> dict[str, str]:
    from pytest_modelbench.replay.workspace import walk_files

    out = {}
    for rel, path in walk_files(root).items():
        if rel.endswith(".py"):
            try:
                out[rel] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return out


def build_plan(config: pytest.Config, settings: Settings) -> Plan:
    """Load every source named by ``--sessions`` and sample it; errors become UsageErrors naming the source.

    With ``--sample-manifest`` the sample is read from the manifest when it exists, and written to it otherwise.
    Transcript sources are sampled on light sessions; only the sample gets its workspace built (``materialize``).
    """
    chosen: list[Session] = []
    strata: dict[str, dict[str, int]] = {}
    seen: dict[str, str] = {}
    provided: set[str] = set()
    from pytest_modelbench.sampling.manifest import ManifestError, build_manifest, read_manifest, write_manifest
    from pytest_modelbench.sampling.sample import stratum_counts
    from pytest_modelbench.sources.transcripts.common import TranscriptSource

    is_worker = hasattr(config, "workerinput")
    manifest_path = settings.sample_manifest
    manifest = None
    if manifest_path is not None and manifest_path.exists():
        try:
            manifest = read_manifest(manifest_path)
        except ManifestError as exc:
            raise pytest.UsageError(str(exc)) from None
    for spec in settings.sessions:
        try:
            source = config.hook.pytest_modelbench_source(config=config, spec=spec)
            if source is None:
                raise SourceError(f"--sessions {spec}: not a known source (demo, humaneval) nor an existing path")
            if isinstance(source, TranscriptSource):
                # The controller imports new transcript lines; workers read the same index, so they sample the same.
                source.configure(store=settings.store, check_command=settings.check_command, refresh=not is_worker)
            sessions = list(source.sessions())
        except SourceError as exc:
            raise pytest.UsageError(str(exc)) from None
        except WorkspaceError as exc:
            raise pytest.UsageError(f"--sessions {spec}: {exc}") from None
        provided.update(s.key for s in sessions)
        if settings.intents:
            sessions = [s for s in sessions if s.intent in settings.intents]
        if manifest is not None:
            wanted = set(manifest.keys)
            sample = [s for s in sorted(sessions, key=lambda s: s.key) if s.key in wanted]
        else:
            size = settings.sample_size if settings.sample_size is not None else source.default_sample_size
            sample = config.hook.pytest_modelbench_sample(
                config=config, source=source, sessions=sessions, size=size, seed=settings.sample_seed)
        if isinstance(source, TranscriptSource):
            try:
                sample = source.materialize(sample)
            except SourceError as exc:
                raise pytest.UsageError(str(exc)) from None
        for s in sample:
            if s.key in seen:
                raise pytest.UsageError(
                    f"--sessions {spec}: session {s.key} is also provided by --sessions {seen[s.key]}")
            seen[s.key] = spec
        strata[source.name] = stratum_counts(sample)
        chosen.extend(sample)
    if manifest is not None and manifest_path is not None:
        by_key = {s.key: s for s in chosen}
        changed = []
        for i, entry in enumerate(manifest.entries):
            if entry.key not in provided:
                raise pytest.UsageError(
                    f"{manifest_path}: field 'sessions[{i}].key': {entry.key} is not provided by --sessions "
                    f"{', '.join(settings.sessions)}")
            if entry.key in by_key and entry.content_hash and by_key[entry.key].content_hash() != entry.content_hash:
                changed.append(entry.key)
        if changed and not is_worker:
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"--sample-manifest {manifest_path}: {len(changed)} session(s) changed since the manifest was "
                f"written (content hash): {', '.join(changed[:5])}"), stacklevel=2)
    elif manifest_path is not None and not is_worker:
        write_manifest(manifest_path, build_manifest(chosen, settings.sample_seed, settings.sample_size,
                                                     settings.sessions, strata))
    return Plan(tuple(chosen), strata)


__all__ = ["BenchmarkSession", "CAVEAT", "HOW_TO_ADD_MODELS", "INVALID_GOLD", "new_run_id"]

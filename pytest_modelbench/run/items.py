"""The (session × model) items, and the plan they come from. Node ids read ``<source>/<session-id>[<model>]`` so
-k, --lf and --co work.

The replay happens in ``setup`` (a harness failure is an *error*); ``runtest`` only applies
``--modelbench-min-score`` (a low score is a *failure*). Skips carry their reason (invalid session, budget, ...).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_modelbench.errors import ModelbenchError, UserError
from pytest_modelbench.records import Outcome, Session
from pytest_modelbench.run.stash import bench_of
from pytest_modelbench.sampling.plan import Plan, PlanRequest, build_plan

if TYPE_CHECKING:
    from pytest_modelbench.run.options import Settings


class ModelbenchHarnessError(ModelbenchError):
    """The harness broke while replaying (not the candidate failing)."""


class ModelbenchItem(pytest.Item):
    def __init__(self, *, record: Session, model: str, repeat_index: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record
        self.model = model
        self.repeat_index = repeat_index
        self.outcome: Outcome | None = None

    def setup(self) -> None:
        from pytest_modelbench.replay.pipeline import run_item

        if self.config.getoption("setuponly", False):  # also set by --setup-plan: show the plan, replay nothing
            return
        # The runner is decided here on an xdist worker: a RunnerError (a UserError) is the item's error, not the
        # replay's failure, so it stays outside the try.
        context = bench_of(self.config).item_context()
        started = time.monotonic()
        try:
            self.outcome = run_item(self.record, self.model, self.repeat_index, context)
        except pytest.UsageError:  # raised by a hook implementation: the user's to fix, not a harness fault
            raise
        except Exception as exc:
            self.outcome = Outcome.unscored(self.record, self.model, "failed", repeat_index=self.repeat_index,
                                            evidence={"error": f"{type(exc).__name__}: {exc}"},
                                            duration_seconds=round(time.monotonic() - started, 3))
            raise ModelbenchHarnessError(f"{self.nodeid}: harness error: {type(exc).__name__}: {exc}") from exc
        self._record_properties(self.outcome)
        if self.outcome.status in ("skipped", "cancelled-over-budget"):
            pytest.skip(self.outcome.skip_reason or self.outcome.status)
        if self.outcome.status == "failed":
            # No score is invented for a replay that could not finish: the item errors, with the reason.
            raise ModelbenchHarnessError(f"{self.nodeid}: {self.outcome.skip_reason or 'replay failed'}")

    def _record_properties(self, outcome: Outcome) -> None:
        props: dict[str, object] = {
            "modelbench_status": outcome.status,
            "modelbench_solved": outcome.solved,
            "modelbench_combined": outcome.combined_score,
            "modelbench_static": outcome.static_score,
            "modelbench_llm": outcome.llm_score,
            "modelbench_cost_usd": outcome.cost_usd,
            "modelbench_seconds": outcome.duration_seconds,
        }
        # The static and llm components replace their score with the same value (or "missing: <reason>"); the
        # rubric refuses custom components named like the other keys (scoring/rubric.py RESERVED_NAMES).
        for c in outcome.components:
            props[f"modelbench_{c.name}"] = c.value if c.present else f"missing: {c.reason}"
        self.user_properties.extend(props.items())

    def runtest(self) -> None:
        minimum = bench_of(self.config).settings.min_score
        outcome = self.outcome
        if minimum is not None and outcome is not None:
            score = outcome.combined_score
            if score is None or score < minimum:
                raise ModelbenchScoreTooLow(f"combined score {score} is below --modelbench-min-score {minimum}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ModelbenchScoreTooLow | ModelbenchHarnessError):
            cause = excinfo.value.__cause__
            text = str(excinfo.value)
            if cause is not None and not isinstance(cause, AssertionError):
                return text + "\n" + str(super().repr_failure(excinfo.__class__.from_exception(cause)))
            return text
        if isinstance(excinfo.value, UserError):  # a bad option or setup: its message says what to fix
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.nodeid


class ModelbenchScoreTooLow(Exception):
    """The replay ran but scored below ``--modelbench-min-score``."""


def item_name(session_key: str, model: str, repeat_index: int, repeats: int) -> str:
    """An item's name and node id (the controller maps the ids its workers collected back to items this way)."""
    return f"{session_key}[{model}]" if repeats == 1 else f"{session_key}[{model}-r{repeat_index}]"


def make_items(session: pytest.Session, records: Sequence[Session], models: Sequence[str],
               repeats: int = 1) -> list[ModelbenchItem]:
    """One item per (session x model), or per (session x model x repeat) with ``--repeats K``: the node id is then
    ``<source>/<session-id>[<model>-r<i>]`` with the repeat index i = 0..K-1 (``-k gold-r1`` selects one)."""
    items = []
    for record in records:
        for model in models:
            for r in range(repeats):
                nodeid = item_name(record.key, model, r, repeats)
                items.append(ModelbenchItem.from_parent(session, name=nodeid, nodeid=nodeid, record=record,
                                                        model=model, repeat_index=r))
    return items


def plan_for(config: pytest.Config, settings: Settings) -> Plan:
    """The plan (``sampling/plan.py``), with the source and sample hooks deciding; its warnings shown once."""
    is_worker = hasattr(config, "workerinput")
    request = PlanRequest(
        specs=settings.sessions, intents=settings.intents, sample_size=settings.sample_size,
        sample_seed=settings.sample_seed, store=settings.store, check_command=settings.check_command,
        manifest=settings.sample_manifest, is_worker=is_worker)
    plan = build_plan(
        request, lambda spec: config.hook.pytest_modelbench_source(config=config, spec=spec),
        lambda source, sessions, size, seed: config.hook.pytest_modelbench_sample(
            config=config, source=source, sessions=sessions, size=size, seed=seed))
    for warning in plan.warnings:
        config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
    return plan

"""Typed, frozen records shared by every stage of a replay (the nouns of product.md §2).

Pure module: no pytest, no heavy imports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

INTENTS: tuple[str, ...] = ("fix-bug", "refactor", "build-new", "test", "docs", "ops", "explore")
REFERENCE_MODELS: tuple[str, ...] = ("replay/gold", "replay/noop")
# A run id (store/artifact.new_run_id makes them; the artifact schema's run.id says the same, anchored).
RUN_ID_PATTERN = r"bench_[0-9a-f]{8}_[0-9]{8}_[0-9]{6}"
# What a zero-shot replay puts in its request at most (replay/modes.py); the cost estimate assumes the same bound.
MAX_CONTEXT_CHARS = 150_000

CheckKind = Literal["pytest", "function", "node"]
OutcomeStatus = Literal["pending", "running", "complete", "failed", "cancelled-over-budget", "skipped"]


@dataclass(frozen=True)
class FileSet:
    """A set of files: inline contents and/or a directory copied as a whole.

    ``files`` maps a relative POSIX path to its text; ``directory`` is an absolute path whose tree is copied first,
    so inline files win over directory files with the same path.
    """

    files: tuple[tuple[str, str], ...] = ()
    directory: Path | None = None

    def is_empty(self) -> bool:
        return not self.files and self.directory is None


@dataclass(frozen=True)
class CheckSpec:
    """How a replay is judged.

    ``kind="pytest"``: pytest runs ``paths`` inside the runner and writes JUnit XML to a harness-owned file.
    ``kind="node"``: ``command[0]`` names the JavaScript test runner (``node-test``, ``vitest``, ``jest``), run with a
    reporter writing to a harness-owned file (replay/nodecheck.py); ``paths`` are passed to it.
    ``kind="function"``: the harness runner script executes ``solution_file`` then ``test_code`` and calls
    ``check(<entry_point>)``; no pytest (a sandboxed pytest start costs ~25x a bare interpreter start).
    """

    kind: CheckKind = "pytest"
    paths: tuple[str, ...] = ("tests",)
    timeout: float = 60.0
    files: FileSet = field(default_factory=FileSet)
    entry_point: str = ""
    test_code: str = ""
    solution_file: str = "solution.py"
    plugins: tuple[str, ...] = ()
    # kind="node": the test runner (node-test, vitest or jest) and the session's own command, for evidence.
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class GoldSpec:
    """The session's recorded outcome: files written over the start, deletions, and/or a unified diff."""

    files: FileSet = field(default_factory=FileSet)
    delete: tuple[str, ...] = ()
    patch: str = ""


@dataclass(frozen=True)
class Original:
    """What the original agent session looked like (evidence only; never used for scoring)."""

    model: str | None = None
    turns: int | None = None
    cost_usd: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Session:
    """One replayable case."""

    id: str
    source: str
    intent: str
    prompt: str
    workspace: FileSet
    check: CheckSpec
    gold: GoldSpec
    turns: tuple[str, ...] = ()
    language: str = "python"
    size_band: str = "small"
    original: Original = field(default_factory=Original)
    origin: str = ""  # file or dataset the session came from, for error messages and evidence
    project: str = ""  # the folder the session worked in on this machine (its own environment may live there)

    @property
    def key(self) -> str:
        """``<source>/<id>``: unique within a run and the readable part of node ids."""
        return f"{self.source}/{self.id}"

    def content_hash(self) -> str:
        """Stable hash of everything that decides the session's result (used by manifests and caches)."""
        h = hashlib.sha256()
        h.update(json.dumps(_hashable(self), sort_keys=True, default=str).encode())
        for fs in (self.workspace, self.check.files, self.gold.files):
            if fs.directory is not None:
                for p in sorted(fs.directory.rglob("*")):
                    if p.is_file():
                        h.update(p.relative_to(fs.directory).as_posix().encode())
                        h.update(p.read_bytes())
        return h.hexdigest()[:16]


def _hashable(session: Session) -> dict[str, Any]:
    d = asdict(session)
    d.pop("origin", None)
    d.pop("project", None)  # where the project lives on this machine does not change what the session is
    return d


@dataclass(frozen=True)
class TestCounts:
    """Counts from the harness-owned result file of one check run."""

    __test__ = False  # not a pytest test class

    passed: int
    failed: int
    errors: int
    skipped: int
    exit_code: int | None
    timed_out: bool = False
    result_file_found: bool = True
    detail: str = ""
    # Not "": the result was forged by the code under test (a sentinel or nonce check failed); what the harness
    # expected and what it got. Never solved, and the counts are those of a failed run (docs/verdicts.md).
    tampered: str = ""
    # (test id, "passed" | "failed" | "error" | "skipped") per test case, when the result file names them (JUnit);
    # rubric v2's tests component compares them before and after the replay. Empty: only the counts are known.
    cases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Read back from JSON (prepared.json, artifacts) the pairs arrive as lists; keep the record hashable.
        object.__setattr__(self, "cases", tuple((str(t), str(s)) for t, s in self.cases))

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def all_passed(self) -> bool:
        """Solved: every check test passed, the run ended cleanly, the harness got its result file, no forgery."""
        return (
            self.result_file_found
            and not self.tampered
            and not self.timed_out
            and self.total > 0
            and self.passed == self.total
            and self.exit_code == 0
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total"] = self.total
        return d


@dataclass(frozen=True)
class ComponentScore:
    """One rubric component: a number in [0, 1], or missing with its reason. Never imputed."""

    name: str
    value: float | None
    reason: str = ""

    @property
    def present(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Outcome:
    """The result of one replay (one item). Serialisable with :meth:`to_dict` for xdist reports and the store."""

    session_id: str
    source: str
    model: str
    intent: str
    status: OutcomeStatus
    solved: bool | None
    static_score: float | None
    llm_score: float | None
    combined_score: float | None
    cost_usd: float | None
    duration_seconds: float
    num_turns: int
    components: tuple[ComponentScore, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    repeat_index: int = 0
    skip_reason: str = ""
    fork_session_id: str = ""

    @property
    def session_key(self) -> str:
        return f"{self.source}/{self.session_id}"

    @classmethod
    def unscored(cls, session: Session, model: str, status: OutcomeStatus, *, repeat_index: int = 0,
                 reason: str = "", evidence: dict[str, Any] | None = None, cost_usd: float | None = None,
                 duration_seconds: float = 0.0, num_turns: int = 0) -> Outcome:
        """An item that was not scored (skipped, failed, over budget): every score is None, never made up, and
        ``reason`` says why (stored as ``skip_reason``)."""
        return cls(session_id=session.id, source=session.source, model=model, intent=session.intent, status=status,
                   solved=None, static_score=None, llm_score=None, combined_score=None, cost_usd=cost_usd,
                   duration_seconds=duration_seconds, num_turns=num_turns, evidence=dict(evidence or {}),
                   repeat_index=repeat_index, skip_reason=reason)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["components"] = [asdict(c) for c in self.components]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        d = dict(d)
        d["components"] = tuple(ComponentScore(**c) for c in d.get("components", ()))
        return cls(**d)

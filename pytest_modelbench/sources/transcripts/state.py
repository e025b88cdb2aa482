"""The state of one transcript file's parser: what has been read so far, saved in the history index between imports.

Both parsers (``claude_code.py``, ``codex.py``) fill the same record, and the index merges the records of a
session's files (trunk and sub-agents) into its features (``features.py``). Saved as a JSON object (the
``state_json`` column of ``history_files``), so a grown file is read on from where the last import stopped.

Pure module: no pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

STATE_VERSION = 2  # 2: line parents (rewinds), every Edit's original file


# Mutable, unlike the records: the parsers update it once per transcript line (counters, appended prompts and
# operations), millions of times in a large import; a frozen record would be copied on every line. It never leaves
# the parser and the index: what the rest of the package sees is the frozen SessionFeatures built from it.
@dataclass(slots=True)
class ParserState:
    """What a parser has read of one file. Row shapes are lists so the JSON round trip keeps them unchanged."""

    format: str  # claude-code | codex
    v: int = STATE_VERSION
    session_id: str | None = None
    role: str = "trunk"  # trunk | subagent (attached to its parent's session)
    agent_id: str | None = None
    parent_id: str | None = None
    cwd: str | None = None
    branch: str | None = None
    version: str | None = None  # of the agent that wrote the transcript
    git_commit: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    # [timestamp, redacted text] of each typed prompt.
    prompts: list[list[Any]] = field(default_factory=list)
    # One model call per key: [input, output, cache_create, cache_create_1h, cache_read, model, sidechain (0/1),
    # cost_usd or None, timestamp, characters of output shown (Claude Code; tells a placeholder output count)].
    groups: dict[str, list[Any]] = field(default_factory=dict)
    tools: dict[str, int] = field(default_factory=dict)  # tool name -> calls
    pending: dict[str, list[Any]] = field(default_factory=dict)  # call id -> [tool, compact input, timestamp]
    ops: list[dict[str, Any]] = field(default_factory=list)  # recorded file operations (see simulate.py)
    lines: int = 0
    broken: int = 0
    ignored: int = 0
    duplicates: int = 0
    foreign: int = 0  # lines of another session (the replayed prefix of a resumed one)
    broken_samples: list[list[Any]] = field(default_factory=list)  # [line number, why]
    warmup: bool = False
    # Claude Code only.
    id_from_stem: bool = False
    uuids: list[str] = field(default_factory=list)  # lines already read (deduplication)
    paths: list[str] = field(default_factory=list)  # files already seen (their first sight gives their start)
    # line uuid -> parentUuid (or logicalParentUuid across a compaction): checkpoint rewinds branch a conversation,
    # and only the branch that ends at ``leaf`` (the last main-thread line) is what the session did.
    parents: dict[str, str | None] = field(default_factory=dict)
    leaf: str | None = None
    # Codex only.
    thread_id: str | None = None
    meta_second: str | None = None  # a sub-agent's start: its replayed token events carry this second
    model: str | None = None
    item_prompts: list[list[Any]] = field(default_factory=list)  # prompts from response items (no event stream)
    exits: dict[str, int] = field(default_factory=dict)  # call id -> exit code
    prev_total: list[int] | None = None
    calls: int = 0
    # Model calls seen in the response items (a run of model output after an input): the count when a rollout has
    # no token events (legacy), whose tokens are then unknown.
    item_calls: int = 0
    awaiting: bool = True  # the next model item starts a new call

    def to_dict(self) -> dict[str, Any]:
        """The JSON object saved in the index (shallow: the parser is done with this state)."""
        return {name: getattr(self, name) for name in _NAMES}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParserState:
        """A state saved by :meth:`to_dict`; keys it does not know are dropped, missing ones take their default."""
        return cls(**{name: data[name] for name in _NAMES if name in data})

    def active_lines(self) -> set[str] | None:
        """The uuids of the lines on the branch the session ended on (from ``leaf`` back to the root), or None when
        that cannot be told (no parents recorded, a cycle): keep everything then.

        A parent the file does not hold (Claude Code does not save every line a compaction boundary points to) cuts
        the walk: every line written before the cut is kept, since which branch it was on cannot be told."""
        if self.leaf is None or self.leaf not in self.parents:
            return None
        on: set[str] = set()
        node: str | None = self.leaf
        while node is not None:
            if node in on:
                return None
            on.add(node)
            parent = self.parents[node]
            if parent is not None and parent not in self.parents:
                for earlier in self.parents:  # insertion order = file order (kept by the JSON round trip)
                    if earlier == node:
                        break
                    on.add(earlier)
                break
            node = parent
        return on

    def on_branch(self, rows: list[Any], line_of: Any) -> list[Any]:
        """``rows`` without those recorded on an abandoned branch (rows without a line are kept)."""
        on = self.active_lines()
        if on is None:
            return rows
        return [r for r in rows if (line := line_of(r)) is None or line in on]

    @property
    def all_prompts(self) -> list[list[Any]]:
        # Codex: the clean event stream when there is one, else the response items.
        return self.prompts or self.item_prompts


_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ParserState))

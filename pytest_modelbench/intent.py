"""Per-session features that sampling stratifies on: intent (a table-driven rule set over the first prompt) and
size band (a table over model calls and output tokens).

**Intent rules.** :data:`INTENT_RULES` is read top to bottom, twice: first over the prompt's *first clause* (up to
the first sentence end, comma, "so that", "because", "then", " (" …), then over the whole prompt. The first rule
that matches decides (case-insensitive, whole words). The first pass makes the verb that asks for the work win
over a later word: "create a jupyter notebook file so that i can test each step" is *build-new*, not *test*.
Order matters and is deliberate: a defect wins over everything but ``/init`` ("fix the failing test" is a fix), a
question is exploring even when it mentions dependencies or deployment, a prompt naming a documentation file
(README, CLAUDE.md, AGENTS.md, docs/ — file names read the same in any language) is *docs*, tests win over
building ("add tests for the parser"). No match: *explore*. Case files set their intent themselves.

| # | intent    | matches (see the patterns below)                                                 |
|---|-----------|----------------------------------------------------------------------------------|
| 1 | docs      | ``/init`` (Claude Code's command that writes CLAUDE.md)                          |
| 2 | fix-bug   | fix, bug, broken, crash, traceback, exception, fails, error, doesn't work, …     |
| 3 | explore   | a question: starts with what/why/how/where/which/is/are/does/should, or ends "?" |
|   |           | (not "can/could/would you …?", which asks for work)                              |
| 4 | docs      | names a doc file: README, CLAUDE.md, AGENTS.md, CONTRIBUTING, CHANGELOG, docs/…  |
| 5 | test      | write/add/improve … tests (≤ 3 words between), unit tests, test cases, coverage  |
| 6 | refactor  | refactor, clean up, rename, extract, simplify, restructure, split … into, …      |
| 7 | docs      | docs, documentation, docstrings, comments, changelog, tutorial, type hints       |
| 8 | ops       | deploy, docker, CI, pipeline, install, environment, dependencies, config, …      |
| 9 | build-new | add, create, implement, build, write, make, generate, introduce, support for, …  |
|10 | explore   | explain, summarise, understand, investigate, review, look at, tell me, …         |

Every rule carries its example (a real prompt shape); the tests check each rule decides its own example.

**Size bands.** The larger of the band by model calls and the band by output tokens (:data:`SIZE_BANDS`):
small (≤ 10 calls and ≤ 2,000 output tokens), medium (≤ 40 calls and ≤ 10,000), large (anything more).

Pure module: no pytest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class IntentRule:
    intent: str
    pattern: re.Pattern[str]
    why: str
    example: str  # a real prompt shape this rule decides (checked by the tests)


def _rule(intent: str, regex: str, why: str, example: str) -> IntentRule:
    return IntentRule(intent, re.compile(regex, re.IGNORECASE), why, example)


INTENT_RULES: tuple[IntentRule, ...] = (
    _rule("docs", r"^\s*/init\b", "the /init command writes CLAUDE.md", "/init"),
    _rule("fix-bug",
          r"\b(fix(es|ed|ing)?|bugs?|buggy|broken|crash(es|ed|ing)?|traceback|exceptions?|regressions?|"
          r"fails?|failing|failed|failure|errors?|(doesn'?t|does not|don'?t|isn'?t|is not|not) work(ing)?|"
          r"wrong (result|output|value|answer)|incorrect(ly)?|panics?|segfaults?|hangs?)\b",
          "names a defect", "scrolling back in xterm.js still does not work"),
    _rule("explore",
          r"^\s*(what|why|how|where|which|who|when|is|are|does|do|did|should)\b|"
          r"^(?!.*\b(can|could|would|will) you\b).*\?\s*$",
          "asks a question", "how should we handle dependencies for the deployment?"),
    _rule("docs",
          r"\b(readme(\.\w+)?|claude\.md|agents\.md|contributing(\.md)?|changelog\.md)\b|(^|[\s`'\"(])docs/",
          "names a documentation file", "README.md のインストール手順を更新して"),
    _rule("test",
          r"\b((write|add|create|improve|increase|extend|expand|more)(\s+[\w-]+){0,3}?\s+tests?\b|"
          r"unit tests?|test cases?|test coverage|coverage|property[- ]based tests?)\b",
          "asks for tests", "Add unit tests for the retry helper"),
    _rule("refactor",
          r"\b(refactor(ing|ed)?|clean ?up|tidy|renam(e|ing)|extract|simplif(y|ication)|restructur(e|ing)|"
          r"reorgani[sz]e|dedup(licate)?|split .{1,40} into|move .{1,40} (in)?to|modulari[sz]e|decouple)\b",
          "changes structure, not behaviour", "rename get_user to fetch_user everywhere"),
    _rule("docs",
          r"\b(docs?|documentation|document|docstrings?|comments?|changelog|tutorial|usage guide|"
          r"type hints?)\b",
          "writes documentation", "add docstrings to the public functions"),
    _rule("ops",
          r"\b(deploy(ment|ing)?|docker(file)?|compose|ci|pipelines?|workflows?|github actions|kubernetes|k8s|"
          r"helm|terraform|ansible|install|environment|conda|venv|virtualenv|dependenc(y|ies)|upgrade|release|"
          r"migrations?|nginx|systemd|cron|server|in (the )?background|logging|config(uration)?|build script|"
          r"makefile|permissions?)\b",
          "runs, ships or configures", "write a Dockerfile for the api"),
    _rule("build-new",
          r"\b(add|create|implement|build|write|make|generate|introduce|support for|new (feature|endpoint|command|"
          r"page|module|function|class|option|flag))\b",
          "builds something new", "create a jupyter notebook file so that i can test each step"),
    _rule("explore",
          r"\b(explain|summari[sz]e|understand|investigate|explore|review|look at|tell me|walk me through)\b",
          "asks to understand", "explain the caching layer to me"),
)
DEFAULT_INTENT = "explore"
# Where the first clause ends: the verb that asks for the work is before it, later words only qualify it.
_CLAUSE_END = re.compile(r"[.;!?](\s|$)|[,\n]|\s\(|\s(so that|so|because|since|then|in order to|which)\s",
                         re.IGNORECASE)


def classify_intent(prompt: str) -> str:
    """The intent of a session from its first prompt (see the table in this module's docstring)."""
    return explain_intent(prompt)[0]


def explain_intent(prompt: str) -> tuple[str, str]:
    """``(intent, why)``: the first rule matching the first clause, else the whole prompt, else the default."""
    raw = (prompt or "")[:2000]
    end = _CLAUSE_END.search(raw.strip())
    first = raw.strip()[: end.end() if end else None]
    for text in (" ".join(first.split()), " ".join(raw.split())):
        for rule in INTENT_RULES:
            if rule.pattern.search(text):
                return rule.intent, rule.why
    return DEFAULT_INTENT, "no rule matched"


# (band, max model calls, max output tokens): the first band that holds both numbers.
SIZE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("small", 10, 2_000),
    ("medium", 40, 10_000),
)
LARGEST_BAND = "large"


def size_band(calls: int, output_tokens: int) -> str:
    """small / medium / large from the number of model calls and the output tokens of a session."""
    for band, max_calls, max_output in SIZE_BANDS:
        if calls <= max_calls and output_tokens <= max_output:
            return band
    return LARGEST_BAND

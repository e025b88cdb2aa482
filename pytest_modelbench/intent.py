"""Per-session features that sampling stratifies on: intent (a table-driven rule set over the first prompt) and
size band (a table over model calls and output tokens).

**Intent rules.** :data:`INTENT_RULES` is read top to bottom; the first rule whose pattern matches the first prompt
(case-insensitive, whole words) decides. Order matters and is deliberate: a prompt that says "fix the failing
test" is a fix (before *test*), "add tests for the parser" is *test* (before *build-new*), and a question with no
verb of change ends as *explore*. No match: *explore*. Case files set their intent themselves.

1. *docs*: ``/init`` (Claude Code's command that writes CLAUDE.md)
2. *fix-bug*: fix, bug, broken, crash, traceback, exception, regression, fails/failing, error, doesn't work,
   wrong result, incorrect, hangs
3. *test*: write/add/improve … tests, unit tests, test cases, coverage
4. *refactor*: refactor, clean up, rename, extract, simplify, restructure, deduplicate, split … into, move … to
5. *docs*: docs, documentation, README, docstring(s), comments, changelog, tutorial, type hints
6. *ops*: deploy, docker, CI, pipeline, workflow, kubernetes, helm, terraform, install, environment, conda, venv,
   dependencies, upgrade, release, migrations, server, in the background, logging, config, makefile, permissions
7. *build-new*: add, create, implement, build, write, make, generate, introduce, support for, new feature/…
8. *explore*: what, why, how, where, which, explain, summarise, understand, investigate, review, a question mark

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


def _rule(intent: str, regex: str, why: str) -> IntentRule:
    return IntentRule(intent, re.compile(regex, re.IGNORECASE), why)


INTENT_RULES: tuple[IntentRule, ...] = (
    _rule("docs", r"^\s*/init\b", "the /init command writes CLAUDE.md"),
    _rule("fix-bug",
          r"\b(fix(es|ed|ing)?|bugs?|buggy|broken|crash(es|ed|ing)?|traceback|exceptions?|regressions?|"
          r"fails?|failing|failed|failure|errors?|(doesn'?t|does not|don'?t|isn'?t|is not|not) work(ing)?|"
          r"wrong (result|output|value|answer)|incorrect(ly)?|panics?|segfaults?|hangs?)\b",
          "names a defect"),
    _rule("test",
          r"\b((write|add|create|improve|increase|extend|expand|more)\b.{0,40}\b(unit |integration |e2e )?tests?\b|"
          r"unit tests?|test cases?|test coverage|coverage|property[- ]based tests?)\b",
          "asks for tests"),
    _rule("refactor",
          r"\b(refactor(ing|ed)?|clean ?up|tidy|renam(e|ing)|extract|simplif(y|ication)|restructur(e|ing)|"
          r"reorgani[sz]e|dedup(licate)?|split .{1,40} into|move .{1,40} (in)?to|modulari[sz]e|decouple)\b",
          "changes structure, not behaviour"),
    _rule("docs",
          r"\b(docs?|documentation|document|readme|docstrings?|comments?|changelog|tutorial|usage guide|"
          r"type hints?)\b",
          "writes documentation"),
    _rule("ops",
          r"\b(deploy(ment|ing)?|docker(file)?|compose|ci|pipelines?|workflows?|github actions|kubernetes|k8s|"
          r"helm|terraform|ansible|install|environment|conda|venv|virtualenv|dependenc(y|ies)|upgrade|release|"
          r"migrations?|nginx|systemd|cron|server|in (the )?background|logging|config(uration)?|build script|"
          r"makefile|permissions?)\b",
          "runs, ships or configures"),
    _rule("build-new",
          r"\b(add|create|implement|build|write|make|generate|introduce|support for|new (feature|endpoint|command|"
          r"page|module|function|class|option|flag))\b",
          "builds something new"),
    _rule("explore",
          r"(\b(what|why|how|where|which|explain|summari[sz]e|understand|investigate|explore|review|look at|"
          r"tell me|walk me through)\b|\?\s*$)",
          "asks a question"),
)
DEFAULT_INTENT = "explore"


def classify_intent(prompt: str) -> str:
    """The intent of a session from its first prompt (see the table in this module's docstring)."""
    return explain_intent(prompt)[0]


def explain_intent(prompt: str) -> tuple[str, str]:
    """``(intent, why)``: the first matching rule's intent and reason, or the default."""
    text = " ".join((prompt or "").split())[:2000]
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

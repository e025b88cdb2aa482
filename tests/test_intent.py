"""Intent rules and size bands (pytest_modelbench/intent.py): a documented, table-driven, deterministic rule set."""

from __future__ import annotations

import pytest

from pytest_modelbench.intent import INTENT_RULES, classify_intent, explain_intent, size_band
from pytest_modelbench.records import INTENTS


@pytest.mark.parametrize("prompt, intent", [
    # the first prompts of the real transcripts
    ("create hello.py, md and js", "build-new"),
    ("/init", "docs"),
    ("start phoenix in background", "ops"),
    ("scrolling back in xterm.js still does not work (maybe because outer web catches the scroll)", "fix-bug"),
    ("what is current repository about? summarize purpuse and explain goals", "explore"),
    # order matters: a defect wins over tests, tests over building, a question with no change is exploring
    ("Fix the failing test in test_parser.py", "fix-bug"),
    ("The export crashes with a KeyError on empty carts", "fix-bug"),
    ("Add unit tests for the retry helper", "test"),
    ("increase coverage of the money module", "test"),
    ("Refactor the storage layer into its own module", "refactor"),
    ("rename get_user to fetch_user everywhere", "refactor"),
    ("Update the README with the new options", "docs"),
    ("add docstrings to the public functions", "docs"),
    ("Set up a GitHub Actions workflow that runs on pull requests", "ops"),
    ("write a Dockerfile for the api", "ops"),
    ("Implement pagination for the search endpoint", "build-new"),
    ("Add a --verbose flag", "build-new"),
    ("How does the scheduler pick the next job?", "explore"),
    ("hello", "explore"),
    ("", "explore"),
])
def test_intent_rules(prompt: str, intent: str) -> None:
    assert classify_intent(prompt) == intent


def test_rules_are_a_table_over_known_intents() -> None:
    assert {r.intent for r in INTENT_RULES} <= set(INTENTS)
    assert {r.intent for r in INTENT_RULES} == set(INTENTS)  # every intent is reachable
    assert explain_intent("fix it") == ("fix-bug", "names a defect")
    assert explain_intent("zzz") == ("explore", "no rule matched")


def test_case_and_whitespace_do_not_matter() -> None:
    assert classify_intent("  FIX   the\nBUG ") == classify_intent("fix the bug") == "fix-bug"


@pytest.mark.parametrize("calls, output, band", [
    (1, 10, "small"), (10, 2000, "small"), (11, 100, "medium"), (3, 2001, "medium"),
    (40, 10_000, "medium"), (41, 0, "large"), (2, 10_001, "large"),
])
def test_size_band(calls: int, output: int, band: str) -> None:
    assert size_band(calls, output) == band


@pytest.mark.parametrize("rule", INTENT_RULES, ids=lambda r: f"{r.intent}:{r.why}")
def test_each_rule_decides_its_own_example(rule: object) -> None:
    from pytest_modelbench.intent import IntentRule

    assert isinstance(rule, IntentRule)
    assert explain_intent(rule.example) == (rule.intent, rule.why)


@pytest.mark.parametrize("prompt, intent", [
    # the verb that asks for the work wins over a later word (real: sniffly's first prompt)
    ("create a jupyter notebook file so that i can test each step of the pipeline", "build-new"),
    ("Hello I want to have some test conversation with you create a file", "build-new"),
    ("Add a --verbose flag", "build-new"),
    ("Can you add a --verbose flag?", "build-new"),  # a request, not a question
    # a question is exploring, even when it mentions dependencies or deployment
    ("What is the best way to install the dependencies here?", "explore"),
    ("how is this deployed to production?", "explore"),
    ("does the CI pipeline cache the venv", "explore"),
    # a defect still wins over a question
    ("why does the export crash on empty carts?", "fix-bug"),
    # a prompt naming a documentation file to update is docs, in any language
    ("update CLAUDE.md with the new build commands", "docs"),
    ("AGENTS.md: add the release steps", "docs"),
    ("Mets à jour docs/install.md avec les nouvelles options", "docs"),
    ("README.md のインストール手順を更新して", "docs"),
])
def test_real_prompt_shapes(prompt: str, intent: str) -> None:
    assert classify_intent(prompt) == intent

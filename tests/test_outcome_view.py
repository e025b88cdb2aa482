"""One replay opened: the report's <details> per outcome and ``modelbench show RUN --outcome KEY`` (issue 17)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.report.html import render_html
from pytest_modelbench.report.outcome import (
    DIFF_CHARS,
    MESSAGE_CHARS,
    OUTCOME_BYTES,
    model_anchor,
    outcome_anchor,
    outcome_text,
)

from .test_html_report import PLANTED, make_artifact

# Measured: 500 outcomes of this shape (two turns, one tool call, a small diff) make a 1.3 MB report.
TYPICAL_500 = 2_000_000


def _replay(i: int, model: str, *, message: str = "", diff: str = "") -> Outcome:
    transcript = [
        {"role": "system", "content": "You are a software engineer."},
        {"role": "user", "content": f"Fix add() in calc.py {PLANTED} (session {i})"},
        {"role": "assistant", "content": message or "Looking at calc.py.",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "write_file", "arguments": json.dumps(
             {"path": "calc.py", "content": "def add(a, b):\n    return a + b  # <b>\n"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "wrote calc.py (40 characters)"},
        {"role": "user", "content": "Also keep the docstring."},
        {"role": "assistant", "content": "Done: the answer is a + b."},
    ]
    evidence = {
        "replay": {"mode": "agent", "transcript": transcript, "model_calls": 2, "prompt_tokens": 1170,
                   "completion_tokens": 726, "cached_calls": 1, "http_attempts": 3,
                   "retried_errors": ["RateLimitError"], "provider_models": ["m-2026"]},
        "diff": diff or "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
                        "+    return a + b  # <script>x</script>\n",
        "tests": {"before": {"passed": 0, "failed": 1, "errors": 0, "total": 1, "exit_code": 1,
                             "detail": "AssertionError: assert -1 == 5 <i>"},
                  "after": {"passed": 1, "failed": 0, "errors": 0, "total": 1, "exit_code": 0, "detail": ""}},
    }
    return Outcome(session_id=f"s{i:03d}", source="cases", model=model, intent="fix-bug", status="complete",
                   solved=True, static_score=0.8, llm_score=None, combined_score=0.8, cost_usd=0.0123,
                   duration_seconds=9.5, num_turns=2, evidence=evidence,
                   components=(ComponentScore("tests", 1.0), ComponentScore("lint", None, "no change <b>"),
                               ComponentScore("llm", None, "no judge configured (--judge MODEL)")))


class Tags(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if a.get("href"):
            self.hrefs.append(a["href"] or "")


def test_every_outcome_is_a_details_with_everything_escaped() -> None:
    outs = [_replay(1, "m/a"), _replay(1, 'evil"<b>m</b>')]
    html = render_html(make_artifact(outs))
    tags = Tags(html)
    assert "script" not in tags.tags and "img" not in tags.tags and "b" not in tags.tags
    assert tags.tags.count("details") == 2
    replays = html[html.index('id="replays"'):]
    for text in ("Fix add() in calc.py &lt;script&gt;", "tool call write_file", "path: calc.py",
                 "    return a + b  # &lt;b&gt;", "wrote calc.py (40 characters)", "follow-up",
                 "Also keep the docstring.",
                 "Done: the answer is a + b.", "+    return a + b  # &lt;script&gt;x&lt;/script&gt;",
                 "AssertionError: assert -1 == 5 &lt;i&gt;", "1 passed, 0 failed, 0 errors of 1; exit 0",
                 "missing: no change &lt;b&gt;", "missing: no judge configured (--judge MODEL)", "1.000",
                 "1170 prompt, 726 completion", "1 of 2 call(s) answered from the cache", "HTTP attempts 3",
                 "retried: RateLimitError", "$0.0123", "9.50 s"):
        assert text in replays, text


def test_heatmap_cells_and_leaderboard_rows_link_to_the_replays() -> None:
    outs = [_replay(i, m) for i in range(3) for m in ("m/a", "m/b")]
    tags = Tags(render_html(make_artifact(outs)))
    for o in outs:
        assert outcome_anchor(o.to_dict()) in tags.ids
        assert f"#{outcome_anchor(o.to_dict())}" in tags.hrefs  # its heatmap cell
    for m in ("m/a", "m/b"):
        assert model_anchor(m) in tags.ids and f"#{model_anchor(m)}" in tags.hrefs  # its leaderboard row


def test_long_texts_are_cut_with_a_visible_note() -> None:
    long_message = "x" * (MESSAGE_CHARS + 500)
    long_diff = "+" + "y" * (DIFF_CHARS + 100)
    html = render_html(make_artifact([_replay(1, "m/a", message=long_message, diff=long_diff)]))
    assert "x" * MESSAGE_CHARS in html and "x" * (MESSAGE_CHARS + 1) not in html
    assert f"cut: 500 more characters of {MESSAGE_CHARS + 500} are in the JSON artifact" in html
    assert f"cut: 101 more characters of {DIFF_CHARS + 101} are in the JSON artifact" in html


def test_a_500_outcome_report_stays_within_its_size_budget() -> None:
    outs = [_replay(i, m) for i in range(125) for m in ("m/a", "m/b", "m/c", "m/d")]
    assert len(render_html(make_artifact(outs)).encode()) < TYPICAL_500
    # The bound whatever the models wrote: long messages, many turns and huge diffs are cut per outcome.
    base = len(render_html(make_artifact([_replay(0, "m/a")])).encode())
    heavy = _replay(1, "m/a", message="z" * 50_000, diff="+" + "w" * 100_000)
    heavy.evidence["replay"]["transcript"].extend([{"role": "assistant", "content": "q" * 5000}] * 40)
    both = len(render_html(make_artifact([_replay(0, "m/a"), heavy])).encode())
    assert both - base < OUTCOME_BYTES, both - base
    assert "more message(s) are in the JSON artifact" in render_html(make_artifact([heavy]))


def test_show_outcome_in_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tmp_path / "run.json"
    artifact.write_text(json.dumps(make_artifact([_replay(1, "m/a"), _replay(2, "m/a")])))
    assert main(["show", str(artifact), "--outcome", "cases/s002[m/a]", "--store", str(tmp_path / "none.db")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outcome cases/s002[m/a]")
    assert "(session 2)" in out and "(session 1)" not in out
    assert re.search(r"--- prompt -+\nFix add\(\) in calc.py <script>", out)  # plain text in a terminal
    assert "[tool call write_file] path: calc.py" in out and "--- follow-up" in out
    assert "+    return a + b  # <script>x</script>" in out
    assert "check before: 0 passed, 1 failed" in out and "AssertionError: assert -1 == 5" in out
    assert "lint         missing: no change <b>" in out
    assert out.strip() == outcome_text(json.loads(artifact.read_text())["outcomes"][1]).strip()
    assert main(["show", str(artifact), "--outcome", "cases/s009[m/a]", "--store", str(tmp_path / "none.db")]) == 2
    err = capsys.readouterr().err
    assert "--outcome cases/s009[m/a]: no such outcome" in err and "cases/s001[m/a]" in err

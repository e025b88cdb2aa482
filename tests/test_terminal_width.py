"""The terminal leaderboard fits 120 columns by default; the wide table has every column (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.report.terminal import RunSummary, render_summary

LONG = "openrouter/anthropic/claude-3.5-sonnet-20241022-with-a-long-suffix"
MODELS = (LONG, "ollama/qwen2.5-coder:32b-instruct-q8_0", "replay/gold")


class Lines:
    """Collects what render_summary writes (pytest's TerminalReporter has the same two methods)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str, **_: object) -> None:
        self.lines.append(f"{sep * 3} {title} {sep * 3}")

    def write_line(self, line: str, **_: object) -> None:
        self.lines.extend(line.splitlines())


def _outcomes() -> list[Outcome]:
    result = []
    for i in range(12):
        for j, model in enumerate(MODELS):
            solved = (i + j) % 3 != 0
            comps = (ComponentScore("tests", 1.0 if solved else 0.0),
                     ComponentScore("lint", None, "no change") if i % 2 else ComponentScore("lint", 1.0),
                     ComponentScore("llm", None, "no judge configured (--judge MODEL)"))
            result.append(Outcome(session_id=f"s{i}", source="cases", model=model, intent="fix-bug",
                                  status="complete", solved=solved, static_score=0.5, llm_score=None,
                                  combined_score=0.9 if solved else 0.1, cost_usd=1234.5678 if j == 0 else None,
                                  duration_seconds=12345.6, num_turns=37, components=comps))
    return result


def _render(wide: bool) -> list[str]:
    tr = Lines()
    render_summary(tr, RunSummary(run_id="bench_x", outcomes=_outcomes(), models=MODELS, rubric_name="default",
                                  rubric_version=2, runner="local", sessions=12, store=Path("/p/.modelbench/m.db"),
                                  wide=wide))
    return tr.lines


def _table(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if "modelbench leaderboard" in line) + 1
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_default_leaderboard_fits_120_columns() -> None:
    table = _table(_render(wide=False))
    assert len(table) == 2 + len(MODELS)
    assert max(map(len, table)) <= 120, "\n".join(table)
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header == ["rank", "model", "n", "solved", "solve rate [95% CI]", "combined [95% CI]", "$/solved",
                      "errors"]
    assert re.search(r"\| openrouter/an…-a-long-suffix +\|", "\n".join(table))  # cut in the middle, ends readable


def test_wide_leaderboard_keeps_every_column() -> None:
    table = _table(_render(wide=True))
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert {"static", "llm", "total $", "median s", "turns", "skipped"} <= set(header)
    assert LONG in "\n".join(table)
    assert max(map(len, table)) > 120  # why the wide table is not the default


def test_grading_coverage_in_plain_words() -> None:
    (line,) = [line for line in _render(wide=False) if line.startswith("grading coverage:")]
    assert "every scored replay was graded on" in line and "tests" in line.split(";")[0]
    assert "only some on lint in 50%" in line
    assert "none on llm" in line

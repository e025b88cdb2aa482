"""End of a run, end to end: ``--modelbench-html`` (and its ini twin) and the GitHub step summary, under xdist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import add_cases, read_artifacts

BASE = ("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases", "--runner", "local")


def test_html_and_step_summary_written_once_by_the_controller(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    add_cases(pytester.path / "cases")
    summary = pytester.path / "summary.md"
    summary.write_text("from an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    first = pytester.runpytest_subprocess(*BASE, "-n", "2", "--modelbench-html", "out/report.html")
    assert first.ret == 0, first.stdout.str()[-2000:]
    first.stdout.fnmatch_lines(["html report: */out/report.html",
                                "step summary: leaderboard appended to GITHUB_STEP_SUMMARY"])
    text = summary.read_text()
    assert text.startswith("from an earlier step\n")  # appended, not overwritten
    assert text.count("## modelbench — run") == 1  # the controller only, not each worker
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert f"run `{artifact['run']['id']}`" in text
    gold = next(r for r in artifact["aggregates"]["per_model"] if r["model"] == "replay/gold")
    assert f"| 1 | replay/gold | {gold['n']} | {gold['solved']} |" in text
    assert "### Regressions\n\nNo regression." in text
    page = (pytester.path / "out" / "report.html").read_text()
    for ident in ("leaderboard", "heatmap", "scatter", "pareto", "trend", "sessions", "recommendations", "caveat"):
        assert f'id="{ident}"' in page
    assert "Work on add." in page  # the first prompt line, from the artifact
    assert all(s["prompt_first_line"].startswith("Work on ") for s in artifact["sessions"])

    # The ini twin; the second run's trend has two points per model.
    pytester.makeini("[pytest]\nmodelbench_html = second.html\n")
    second = pytester.runpytest_subprocess(*BASE)
    assert second.ret == 0
    page = (pytester.path / "second.html").read_text()
    trend = re.search(r'<section id="trend">(.*?)</section>', page, re.S).group(1)
    assert "2 run(s)" in trend and trend.count('class="trend-line"') == 2
    assert summary.read_text().count("## modelbench — run") == 2


def test_unwritable_html_path_is_a_warning_not_a_crash(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    add_cases(pytester.path / "cases")
    (pytester.path / "blocker").write_text("a file, not a folder")
    result = pytester.runpytest_subprocess(*BASE, "-k", "add", "--modelbench-html", "blocker/report.html")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*warning: --modelbench-html */blocker/report.html: not written*"])
    assert not Path(pytester.path / "blocker").is_dir()

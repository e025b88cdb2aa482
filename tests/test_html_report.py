"""The HTML report and the markdown summary as pure functions: sections, numbers from the artifact, escaping, and
nothing that could fetch or run anything."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.report import CAVEAT
from pytest_modelbench.report.html import heatmap_cells, pareto_front, render_html
from pytest_modelbench.report.markdown import cell, summary_markdown
from pytest_modelbench.report.runs import RunNotFound, artifact_from_store, load_run, trend_history
from pytest_modelbench.store.artifact import aggregates, prompt_first_line
from pytest_modelbench.store.sqlite import Store

from .test_regression_gate import add_run, outcomes

PLANTED = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
EVIL_MODEL = 'evil"<b>model</b>|x'
SECTIONS = ("leaderboard", "heatmap", "scatter", "pareto", "trend", "sessions", "recommendations", "caveat",
            "regressions")


def _outcome(session: str, model: str, *, combined: float | None, solved: bool | None, status: str = "complete",
             cost: float | None = 0.0, reason: str = "", repeat: int = 0) -> Outcome:
    return Outcome(session_id=session, source="cases", model=model, intent="fix-bug", status=status,  # type: ignore[arg-type]
                   solved=solved, static_score=combined, llm_score=None, combined_score=combined, cost_usd=cost,
                   duration_seconds=1.0, num_turns=2, skip_reason=reason, repeat_index=repeat,
                   components=(ComponentScore("tests", 1.0 if solved else 0.0),
                               ComponentScore("llm", None, "no judge")))


def make_artifact(outs: list[Outcome], *, prompts: dict[str, str] | None = None, recommendations: list | None = None,
                  regressions: list | None = None) -> dict:
    models = list(dict.fromkeys(o.model for o in outs))
    keys = sorted({o.session_key for o in outs})
    prompts = prompts or {}
    return {
        "schema_version": 1,
        "run": {"id": "bench_0000000a_20261129_120000", "name": "nightly <i>", "status": "complete",
                "interrupted": False, "created": "2026-11-29T12:00:00+00:00", "completed": "2026-11-29T12:01:00+00:00",
                "config": {"rubric": {"name": "default", "version": 1, "weights": {}}, "runner": "local",
                           "sample_seed": 0, "git_commit": None}},
        "candidates": [{"model": m, "reference": False, "fingerprint": {}} for m in models],
        "sessions": [{"key": k, "intent": "fix-bug", "size_band": "small", "content_hash": "",
                      "prompt_first_line": prompt_first_line(prompts.get(k, f"Work on {k}.\nsecond line"))}
                     for k in keys],
        "outcomes": [o.to_dict() for o in outs],
        "aggregates": aggregates(outs, models),
        "budget": {"cap_usd": None, "spent_usd": 0.0, "skipped": 0},
        "regressions": regressions or [],
        "recommendations": recommendations if recommendations is not None else [],
        "warnings": ["judge <u>warning</u>"],
        "extra": {},
    }


@pytest.fixture
def outs() -> list[Outcome]:
    return [
        _outcome("a", "m/cheap", combined=0.6, solved=False, cost=0.01),
        _outcome("b", "m/cheap", combined=0.9, solved=True, cost=0.01),
        _outcome("a", "m/dear", combined=0.95, solved=True, cost=0.50),
        _outcome("b", "m/dear", combined=0.85, solved=True, cost=0.50),
        _outcome("a", "m/bad", combined=0.3, solved=False, cost=0.40),
        _outcome("b", "m/bad", combined=None, solved=None, status="skipped", cost=None, reason="cloud <needs> opt-in"),
        _outcome("a", EVIL_MODEL, combined=0.5, solved=False, cost=None),
    ]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html_text: str) -> _Collect:
    p = _Collect()
    p.feed(html_text)
    return p


def test_every_section_is_there_with_the_artifacts_numbers(outs: list[Outcome]) -> None:
    artifact = make_artifact(outs)
    page = parse(render_html(artifact))
    ids = {a.get("id") for _, a in page.tags}
    assert set(SECTIONS) <= ids
    text = " ".join(page.text)
    # The leaderboard shows the artifact's aggregates: m/dear first with combined 0.90 (mean of 0.95 and 0.85).
    first = artifact["aggregates"]["per_model"][0]
    assert first["model"] == "m/dear" and first["combined"] == pytest.approx(0.9)
    assert "0.90" in text and CAVEAT in text
    assert "no recommendation data" in text
    assert "not plotted: " + EVIL_MODEL + " (cost unknown)" in text


def test_planted_markup_is_text_everywhere(outs: list[Outcome]) -> None:
    artifact = make_artifact(outs, prompts={"cases/a": PLANTED + "\nmore"})
    out = render_html(artifact)
    page = parse(out)
    assert [t for t, _ in page.tags].count("script") == 0
    assert not any(t == "img" for t, _ in page.tags)
    assert not any(k.startswith("on") for _, a in page.tags for k in a)
    assert "<b>" not in out and "<i>" not in out and "<u>" not in out
    text = "".join(page.text)
    assert PLANTED in text  # shown, as text, in the sessions table
    assert EVIL_MODEL in text and "judge <u>warning</u>" in text and "cloud <needs> opt-in" in text


def test_nothing_is_fetched(outs: list[Outcome]) -> None:
    out = render_html(make_artifact(outs, prompts={"cases/a": '<link rel="stylesheet" href="https://cdn.example/x.css">'}))
    page = parse(out)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for key in ("src", "href", "xlink:href", "action", "data"):
            value = attrs.get(key)
            assert value is None or value.startswith("#"), (tag, key, value)
    assert not re.search(r"url\(", out)
    assert re.search(r"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';", out)


def test_heatmap_cells_mark_solved_and_unscored(outs: list[Outcome]) -> None:
    cells = heatmap_cells([o.to_dict() for o in outs])
    assert cells[("cases/b", "m/cheap")].solved == 1 and cells[("cases/a", "m/cheap")].solved == 0
    skipped = cells[("cases/b", "m/bad")]
    assert skipped.combined is None and skipped.reasons == ("cloud <needs> opt-in",)
    out = render_html(make_artifact(outs))
    solved_pairs = sum(1 for o in outs if o.solved)
    assert out.count('class="cell solved"') == solved_pairs
    assert out.count('class="cell unscored"') == 1


def test_repeats_share_one_cell() -> None:
    outs = [_outcome("a", "m/x", combined=v, solved=s, repeat=i)
            for i, (v, s) in enumerate([(1.0, True), (0.5, False)])]
    (c,) = heatmap_cells([o.to_dict() for o in outs]).values()
    assert (c.combined, c.solved, c.scored) == (0.75, 1, 2)
    assert "1/2 0.75" in render_html(make_artifact(outs))


@pytest.mark.parametrize("points, front", [
    ([("a", 0.0, 0.5), ("b", 1.0, 0.9), ("c", 2.0, 0.8)], ["a", "b"]),
    ([("a", 1.0, 0.5), ("b", 1.0, 0.7)], ["b"]),
    ([("a", 0.0, 0.9), ("b", 1.0, 0.9)], ["a"]),
    ([("x", 3.0, 0.1)], ["x"]),
    ([("a", 0.1, 0.2), ("b", 0.2, 0.4), ("c", 0.3, 0.6)], ["a", "b", "c"]),
])
def test_pareto_front(points: list[tuple[str, float, float]], front: list[str]) -> None:
    assert [p[0] for p in pareto_front(points)] == front


def test_scatter_draws_the_frontier_through_the_right_models(outs: list[Outcome]) -> None:
    out = render_html(make_artifact(outs))
    pareto = re.search(r'<g id="pareto">(.*?)</g>', out).group(1)
    # m/cheap ($0.02, 0.75) and m/dear ($1.00, 0.90) are on it; m/bad ($0.40, 0.30) is dominated by m/cheap.
    assert pareto.count("<circle") == 2
    assert "Pareto frontier: m/cheap" in pareto and "Pareto frontier: m/dear" in pareto and "m/bad" not in pareto


def test_recommendations_rendered_when_present(outs: list[Outcome]) -> None:
    recs = [{"intent": "fix-bug", "model": "m/dear", "confidence": "low", "combined": 0.9, "combined_low": 0.85,
             "combined_high": 0.95, "n": 2, "runner_up": "m/cheap", "runner_up_combined": 0.75,
             "runner_up_low": 0.6, "runner_up_high": 0.9, "reason": ""},
            {"intent": "docs", "model": None, "confidence": "none", "combined": None, "n": 0,
             "reason": "fewer than 5 <scored> replays"}]
    text = "".join(parse(render_html(make_artifact(outs, recommendations=recs))).text)
    assert "0.900 [0.850, 0.950]" in text and "m/cheap 0.750 [0.600, 0.900]" in text
    assert "insufficient evidence (fewer than 5 <scored> replays)" in text
    assert "no recommendation data" not in text


def test_trend_plots_one_line_per_model_with_several_runs(outs: list[Outcome]) -> None:
    artifact = make_artifact(outs)
    history = [{"run_id": f"r{i}", "created": f"2026-11-2{i}T00:00:00+00:00",
                "combined": {"m/dear": 0.8 + i / 100, "m/cheap": 0.7}, "session_set": "s"} for i in range(3)]
    out = render_html(artifact, history)
    trend = re.search(r'<section id="trend">(.*?)</section>', out, re.S).group(1)
    assert trend.count('class="trend-line"') == 2  # this run is not in the history: it is added as a 4th point
    assert "4 run(s)" in trend
    alone = re.search(r'<section id="trend">(.*?)</section>', render_html(artifact), re.S).group(1)
    assert "One run only" in alone and 'class="trend-line"' not in alone


def test_prompt_first_line_is_redacted_and_cut() -> None:
    assert prompt_first_line("\n\n  Fix it  \nmore") == "Fix it"
    secret = "sk-" + "a1B2c3D4" * 5
    assert secret not in prompt_first_line(f"use OPENAI_API_KEY={secret} please")
    long = prompt_first_line("x" * 500)
    assert len(long) == 200 and long.endswith("…")


def outs_models(outs: list[Outcome]) -> set[str]:
    return {o.model for o in outs}


def test_markdown_summary_escapes_cells(outs: list[Outcome]) -> None:
    regs = [{"model": "m/dear", "metric": "combined", "baseline": 0.9, "current": 0.7, "delta": -0.2,
             "evidence": {"pairs": 30, "ci": [-0.25, -0.15], "baseline_run": "r1"}}]
    md = summary_markdown(make_artifact(outs, regressions=regs))
    assert "### Leaderboard" in md and "| 1 | m/dear |" in md
    assert "evil\"&lt;b&gt;model&lt;/b&gt;\\|x" in md and "<b>" not in md
    assert "**1 regression(s)**" in md and "| m/dear | combined | 0.900 | 0.700 | -0.200 | 30 pairs vs r1" in md
    board = md.split("### Leaderboard")[1].split("###")[0].strip().splitlines()
    widths = {len(re.findall(r"(?<!\\)\|", line)) for line in board}
    assert len(board) == 2 + len(outs_models(outs)) and len(widths) == 1  # the | in a model name did not split a cell
    assert cell("a|b\nc <x>") == "a\\|b c &lt;x&gt;"
    assert "No regression." in summary_markdown(make_artifact(outs))


def test_load_run_from_store_without_artifact_and_trend(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    store = Store(db)
    add_run(store, "r1", outcomes(0.8), name="nightly")
    add_run(store, "r2", outcomes(0.7), rubric_version=2)
    add_run(store, "r3", outcomes(0.6) + outcomes(0.5, model="m/b"))
    history = trend_history(store, "r3")
    assert [p["run_id"] for p in history] == ["r1", "r3"]  # oldest first, same rubric version only
    assert history[1]["combined"] == {"m/a": pytest.approx(0.6), "m/b": pytest.approx(0.5)}
    rebuilt = artifact_from_store(store, "r3")
    store.close()
    assert len(rebuilt["outcomes"]) == 10 and rebuilt["extra"]["rebuilt_from_store"]
    assert [r["model"] for r in rebuilt["aggregates"]["per_model"]] == ["m/a", "m/b"]
    doc = load_run("latest", db, tmp_path)
    assert doc.artifact["run"]["id"] == "r3" and "no JSON artifact" in doc.origin
    assert load_run("nightly", db, tmp_path).artifact["run"]["id"] == "r1"
    with pytest.raises(RunNotFound, match="nope: no complete run"):
        load_run("nope", db, tmp_path)
    with pytest.raises(RunNotFound, match="no such store"):
        load_run("latest", tmp_path / "missing.db", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RunNotFound, match="bad.json: not JSON"):
        load_run("bad.json", db, tmp_path)
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(RunNotFound, match="not a modelbench JSON artifact"):
        load_run(str(tmp_path / "other.json"), db, tmp_path)


def test_reference_candidates_are_drawn_hollow_and_kept_off_the_frontier(outs: list[Outcome]) -> None:
    gold = [_outcome(s, "replay/gold", combined=1.0, solved=True, cost=0.0) for s in ("a", "b")]
    artifact = make_artifact(outs + gold)
    for c in artifact["candidates"]:
        c["reference"] = c["model"] == "replay/gold"
    out = render_html(artifact)
    pareto = re.search(r'<g id="pareto">(.*?)</g>', out).group(1)
    assert "replay/gold" not in pareto and "Pareto frontier: m/cheap" in pareto
    assert re.search(r'<circle class="point"[^>]*fill="#fff"[^>]*><title>replay/gold:', out)
    alone = make_artifact(gold)
    alone["candidates"][0]["reference"] = True
    assert "Pareto frontier: replay/gold" in render_html(alone)  # nothing else scored: the references are all there is

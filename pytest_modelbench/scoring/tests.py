"""The ``tests`` component.

Rubric v2 (the default): the change the replay made (``test_pass_delta``). The tests to fix are the check's tests
that did not pass at the start (the hidden check's tests included); the tests to keep are those that passed. Both
sets are taken from the gold run when its per-test results are known: gold passes every one of them, and tests a
candidate adds to the check's folders do not count. The score is (fixed − broken) / tests to fix, floored at 0: a
replay that changes nothing scores 0, one that breaks tests it should keep loses a fixed test's worth for each.

Rubric v1 (kept for old runs): the share of the check's tests passing after the replay, whatever passed before.
"""

from __future__ import annotations

from typing import Any

from pytest_modelbench.records import ComponentScore, TestCounts

PASSED = "passed"
NOTHING_TO_FIX = "the check already passes at the start: no failing test to fix"
NAMES_SHOWN = 20  # evidence lists at most this many test ids per kind; the counts are always complete


def counts_summary(counts: TestCounts) -> dict[str, Any]:
    """The counts of one check run without its per-test list (evidence stays small on large suites)."""
    d = counts.to_dict()
    d.pop("cases", None)
    return d


def _ran(counts: TestCounts) -> bool:
    return counts.result_file_found and not counts.timed_out


def _results(counts: TestCounts) -> dict[str, str]:
    """Test id -> state; a run that produced no honest result file passed nothing."""
    return dict(counts.cases) if _ran(counts) else {}


def score_tests_v1(before: TestCounts, after: TestCounts) -> tuple[ComponentScore, dict[str, Any]]:
    """v1: the share of the check's tests passing after the replay (the level, not the change).

    A check that never produced a result file (timeout, early exit, crash) scores 0: the replay ran and its tests did
    not pass. That is a measured result, not missing data.
    """
    evidence: dict[str, Any] = {"before": counts_summary(before), "after": counts_summary(after)}
    total = after.total or before.total
    if total == 0:
        value = 0.0
    else:
        value = after.passed / total if _ran(after) else 0.0
    before_fraction = before.passed / before.total if before.total else 0.0
    evidence["test_pass_delta"] = round(value - before_fraction, 6)
    evidence["solved"] = after.all_passed
    return ComponentScore("tests", round(value, 6)), evidence


def tests_change(before: TestCounts, after: TestCounts,
                gold: TestCounts | None = None) -> dict[str, Any]:
    """How many tests the replay fixed and broke, against which tests to fix and to keep (evidence of v2).

    Per test when the check named its tests (JUnit); from the counts otherwise (a function check has one test).
    """
    start, now = _results(before), _results(after)
    reference = dict(gold.cases) if gold is not None and gold.all_passed and gold.cases else None
    if reference is not None or before.cases or after.cases:
        if reference is not None:
            universe = {t for t, s in reference.items() if s == PASSED}
        else:  # no gold record: every test either run judged (a test skipped on both sides is not a test here)
            universe = {t for t, s in (*start.items(), *now.items()) if s != "skipped"}
        to_fix = sorted(t for t in universe if start.get(t) != PASSED)
        to_keep = sorted(t for t in universe if start.get(t) == PASSED)
        fixed = [t for t in to_fix if now.get(t) == PASSED]
        broken = [t for t in to_keep if now.get(t) != PASSED]
        return {"per_test": True, "to_fix": len(to_fix), "to_keep": len(to_keep), "fixed": len(fixed),
                "broken": len(broken), "fixed_tests": fixed[:NAMES_SHOWN], "broken_tests": broken[:NAMES_SHOWN],
                "still_failing": [t for t in to_fix if now.get(t) != PASSED][:NAMES_SHOWN]}
    # Counts only: the net change in passing tests, against the tests the gold run passes.
    reference_total = gold.passed if gold is not None and gold.all_passed else max(before.total, after.total)
    start_pass = before.passed if _ran(before) else 0
    now_pass = after.passed if _ran(after) else 0
    change = now_pass - start_pass
    return {"per_test": False, "to_fix": max(0, reference_total - start_pass), "to_keep": start_pass,
            "fixed": max(0, change), "broken": max(0, -change)}


def score_tests(before: TestCounts, after: TestCounts, gold: TestCounts | None = None,
                version: int = 2) -> tuple[ComponentScore, dict[str, Any]]:
    """Return the component and its evidence (counts before and after, the change, ``test_pass_delta``, solved).

    ``gold``: the gold change's check run (every test passes), the reference for which tests count. ``version``: the
    rubric version; 1 scores the level instead of the change.
    """
    if version < 2:
        return score_tests_v1(before, after)
    change = tests_change(before, after, gold)
    evidence: dict[str, Any] = {"before": counts_summary(before), "after": counts_summary(after), **change,
                                "solved": after.all_passed}
    to_fix, fixed, broken = change["to_fix"], change["fixed"], change["broken"]
    if to_fix == 0:
        evidence["test_pass_delta"] = None
        if broken:
            return ComponentScore("tests", 0.0), evidence
        return ComponentScore("tests", None, NOTHING_TO_FIX), evidence
    # Signed in the evidence (below 0 when the replay broke more than it fixed), floored at 0 in the component.
    delta = (fixed - broken) / to_fix
    evidence["test_pass_delta"] = round(delta, 6)
    return ComponentScore("tests", round(min(1.0, max(0.0, delta)), 6)), evidence

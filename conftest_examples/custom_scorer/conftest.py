"""A scorer of your own: ``docstrings`` = share of the functions the candidate touched that have a docstring.

The rubric in this folder (rubric.yaml) declares the component with ``custom: true`` and a weight; this hook
measures it. A component that cannot be measured is returned missing, with its reason: never a made-up number.
Run: ``pytest --modelbench`` in this folder.
"""

from __future__ import annotations

import ast

from pytest_modelbench.records import ComponentScore


def pytest_modelbench_score(config, context):
    total = documented = 0
    for text in context.candidate_files.values():  # touched Python files after the replay
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return [ComponentScore("docstrings", None, "a touched file does not parse")]
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                total += 1
                documented += ast.get_docstring(node) is not None
    context.evidence["docstrings"] = {"functions": total, "documented": documented}
    if total == 0:
        return [ComponentScore("docstrings", None, "no function in the touched files")]
    return [ComponentScore("docstrings", round(documented / total, 6))]

import ast
import doctest
import re

import pytest

from stats import summary


def test_behaviour_unchanged():
    assert summary.mean([2, 4]) == 3
    assert summary.median([5, 1, 3]) == 3
    assert summary.mode([3, 3, 1, 1, 2]) == 1
    with pytest.raises(ValueError):
        summary.median([])


@pytest.mark.parametrize("name", ["mean", "median", "mode"])
def test_docstring_has_example_and_error(name):
    func = getattr(summary, name)
    tests = doctest.DocTestFinder().find(func, name, globs={name: func})
    assert sum(len(t.examples) for t in tests) >= 1, f"{name} has no >>> example"
    assert "ValueError" in func.__doc__
    assert len(func.__doc__.strip().splitlines()) >= 3


def test_doctests_pass():
    failed, attempted = doctest.testmod(summary, verbose=False, report=False)
    assert attempted >= 3
    assert failed == 0


def test_mode_example_shows_tie():
    for example in doctest.DocTestParser().get_examples(summary.mode.__doc__ or ""):
        for literal in re.findall(r"mode\((\[[^\]]*\]|\([^)]*\))\)", example.source):
            try:
                values = list(ast.literal_eval(literal))
            except (ValueError, SyntaxError):
                continue
            counts = sorted(values.count(v) for v in set(values))
            if len(counts) > 1 and counts[-1] == counts[-2]:
                return
    pytest.fail("no mode() example demonstrating a tie")

import doctest
from pathlib import Path

from tokenkit import count_tokens, tokenize

README = Path(__file__).resolve().parents[1] / "README.md"


def test_api_behaviour():
    assert tokenize("Don't STOP", lowercase=False) == ["Don't", "STOP"]
    assert count_tokens("a b a") == {"a": 2, "b": 1}


def test_readme_examples_run():
    failed, attempted = doctest.testfile(str(README), module_relative=False, report=False)
    assert attempted >= 3
    assert failed == 0


def test_readme_drops_old_name():
    assert "split_words" not in README.read_text(encoding="utf-8")


def test_readme_covers_current_api():
    examples = doctest.DocTestParser().get_examples(README.read_text(encoding="utf-8"))
    sources = "".join(e.source for e in examples)
    assert "count_tokens(" in sources
    assert "lowercase=False" in sources
    assert "tokenize(" in sources

"""A source of your own: three tiny katas defined in Python, selectable as ``--sessions kata``.

Run: ``pytest --modelbench`` in this folder (pytest.ini already selects the source).
"""

from __future__ import annotations

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
from pytest_modelbench.sources import StaticSource

KATAS = {
    "fizzbuzz": (
        "def fizzbuzz(n: int) -> str:\n    return str(n)\n",
        "def fizzbuzz(n: int) -> str:\n"
        "    if n % 15 == 0:\n        return 'FizzBuzz'\n"
        "    if n % 3 == 0:\n        return 'Fizz'\n"
        "    if n % 5 == 0:\n        return 'Buzz'\n"
        "    return str(n)\n",
        "from kata import fizzbuzz\n\n\n"
        "def test_numbers():\n    assert fizzbuzz(1) == '1'\n\n\n"
        "def test_fizz():\n    assert fizzbuzz(9) == 'Fizz'\n\n\n"
        "def test_fizzbuzz():\n    assert fizzbuzz(30) == 'FizzBuzz'\n",
    ),
    "leap-year": (
        "def is_leap(year: int) -> bool:\n    return year % 4 == 0\n",
        "def is_leap(year: int) -> bool:\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n",
        "from kata import is_leap\n\n\n"
        "def test_common():\n    assert is_leap(2024) and not is_leap(2023)\n\n\n"
        "def test_centuries():\n    assert not is_leap(1900) and is_leap(2000)\n",
    ),
}


def _session(name: str, start: str, gold: str, test: str) -> Session:
    return Session(
        id=name,
        source="kata",
        intent="fix-bug",
        prompt=f"kata.py has a bug in {name}; fix it so the tests pass.",
        workspace=FileSet(files=(("kata.py", start),)),
        check=CheckSpec(kind="pytest", paths=("tests",), timeout=30,
                        files=FileSet(files=(("tests/test_kata.py", test),))),
        gold=GoldSpec(files=FileSet(files=(("kata.py", gold),))),
    )


def pytest_modelbench_source(config, spec):
    if spec != "kata":
        return None
    return StaticSource("kata", tuple(_session(name, *parts) for name, parts in sorted(KATAS.items())))

import importlib
import importlib.util
import inspect

import ledger
from ledger import core

CSV = [
    "date,description,amount\n",
    "2024-01-03,salary,\"2,500.00\"\n",
    "2024-01-10,rent,-1200\n",
    "2024-02-01,coffee,-3.5\n",
]


def test_balance_unchanged():
    assert ledger.balance(CSV) == 129650


def test_by_month_unchanged():
    assert ledger.by_month(CSV) == {"2024-01": 130000, "2024-02": -350}


def test_parsing_module_provides_helpers():
    parsing = importlib.import_module("ledger.parsing")
    assert parsing.parse_amount("-0.07") == -7
    assert parsing.read_rows(CSV[:2]) == [("2024-01-03", "salary", 250000)]


def test_utils_module_removed():
    assert importlib.util.find_spec("ledger.utils") is None


def test_core_uses_parsing_module():
    source = inspect.getsource(core)
    assert "ledger.utils" not in source
    assert "parsing" in source

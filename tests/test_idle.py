"""With --modelbench off the plugin is loaded but imports nothing heavy and collects nothing of its own."""

from __future__ import annotations

import pytest

HEAVY = ("litellm", "openai", "coverage", "radon", "tabulate", "yaml", "sqlite3", "pytest_modelbench.run.session")


def test_plugin_is_loaded_but_imports_nothing_heavy_when_off(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_probe=f"""
import sys

def test_probe(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("modelbench"), "the plugin must be loaded for this test to mean much"
    heavy = [m for m in {HEAVY!r} if m in sys.modules]
    assert heavy == [], heavy
""")
    # Autoload off, then the plugin alone: other installed plugins may import yaml or coverage themselves.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "modelbench", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_probe_can_fail(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: with --modelbench on, the heavy modules are imported."""
    pytester.makepyfile(test_probe=f"""
import sys

def test_probe():
    assert [m for m in {HEAVY!r} if m in sys.modules] == []
""")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "modelbench", "-p", "no:cacheprovider", "--modelbench",
                                           "--modelbench-with-tests", "--models", "replay/noop", "-k", "probe")
    result.assert_outcomes(failed=1, deselected=12)


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    for flag in ("--modelbench", "--models", "--sessions", "--sample-size", "--sample-seed", "--intent",
                 "--modelbench-name", "--modelbench-store", "--modelbench-json", "--runner", "--rubric",
                 "--modelbench-with-tests"):
        result.stdout.fnmatch_lines([f"*{flag}*"])
    result.stdout.fnmatch_lines(["*modelbench_models*", "*modelbench_sessions*"])

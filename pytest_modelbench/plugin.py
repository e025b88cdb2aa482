"""pytest glue only: options and ini twins, hook specs, and one registered object when ``--modelbench`` is on.

With ``--modelbench`` off this module does nothing and imports nothing heavy (see tests/test_idle.py).
"""

from __future__ import annotations

import pytest

from pytest_modelbench import hookspecs
from pytest_modelbench.run.options import add_options

PLUGIN_NAME = "modelbench-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("modelbench", default=False):
        return
    from pytest_modelbench.run.session import BenchmarkSession

    bench = BenchmarkSession.from_config(config)
    config.pluginmanager.register(bench, PLUGIN_NAME)

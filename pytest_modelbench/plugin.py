"""pytest glue only: options and ini twins, hook specs, and one registered object when ``--modelbench`` is on
(also kept in ``config.stash``, see ``run/stash.py``).

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
    from pytest_modelbench.errors import UserError
    from pytest_modelbench.run.session import BenchmarkSession
    from pytest_modelbench.run.stash import BENCH_KEY

    try:
        bench = BenchmarkSession.from_config(config)
    except UserError as exc:
        # The one place a user's mistake (option, case file, rubric, manifest, store, baseline, resume, runner)
        # becomes pytest's usage error: its message, no traceback.
        raise pytest.UsageError(str(exc)) from None
    config.stash[BENCH_KEY] = bench
    config.pluginmanager.register(bench, PLUGIN_NAME)

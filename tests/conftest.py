from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .helpers import DATA, REQUIRE_SANDBOX, fuzz_is_derandomized, prerequisite_problem, sandbox_required

# Case-file workspaces and hidden checks live under data/: they are inputs, not tests of this project.
collect_ignore = ["data"]

# Hypothesis (tests/test_fuzz.py). In CI every run tries the same examples, so a failure found there fails again on
# a re-run; locally the examples vary from run to run, and a failing one is kept in .hypothesis/ and tried first the
# next time. Both print the @reproduce_failure blob of a failure. Loaded here, before the test modules build their
# settings from the current profile.
# Hypothesis is a test extra: the README's command (a) installs the plugin alone and runs `pytest --modelbench` in
# this repository, which loads this conftest (testpaths) and must not fail on it.
try:
    from hypothesis import settings as hypothesis_settings
except ImportError:
    pass
else:
    hypothesis_settings.register_profile("modelbench-ci", derandomize=True, database=None, print_blob=True)
    hypothesis_settings.register_profile("modelbench-local", print_blob=True)
    hypothesis_settings.load_profile("modelbench-ci" if fuzz_is_derandomized() else "modelbench-local")


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def offline_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package index with one local wheel (``tinyunits``) and pip pointed at it alone: installs never reach the
    network (test_envs.py, test_check_selection.py)."""
    from .test_envs import SCALE, make_wheel

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinyunits", "1.0", {"tinyunits/__init__.py": SCALE})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return wheels


@pytest.fixture(autouse=True)
def _no_ci_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of this suite inside GitHub Actions must not append every pytester run to the job's summary;
    the tests of that feature set the variable themselves."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (whole pytest --modelbench runs of many seconds each); "
                          ".ci/run does, so CI runs every test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --run-slow the slow tests are skipped (shown as skipped, with how to run them), never dropped
    silently: the quick loop of `pytest -n 2` stays short, and CI runs everything."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (.ci/run and CI do)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def _restore_ctrl_c() -> None:
    """A suite started in the background by a shell without job control (nohup, `cmd &` in a script, some CI
    runners) inherits SIGINT *ignored*, and every run it starts would inherit that too: the tests that press Ctrl-C
    on a run would then press it in vain. Restored here, in the controller and each xdist worker; a child started by
    exec then gets the default disposition back."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: pytest.Config) -> None:
    _restore_ctrl_c()
    config.addinivalue_line("markers", "prerequisite(name): needs bwrap, landlock or chromium; skipped without it, "
                                       f"failed without it when {REQUIRE_SANDBOX}=1")
    from pytest_modelbench.models.broker import LITELLM_QUIET

    # The warnings litellm silences when imported: a test that imports it inside its own warning capture loses
    # litellm's filters when it ends, and pydantic's warnings about litellm's types would land on later tests.
    for message in LITELLM_QUIET:
        config.addinivalue_line("filterwarnings", f"ignore:{message}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("prerequisite"):
        problem = prerequisite_problem(mark.args[0])
        if problem is None:
            continue
        if sandbox_required():
            pytest.fail(f"{problem} ({REQUIRE_SANDBOX}=1: this machine must run every sandbox test; "
                        "unset the variable to skip them locally)", pytrace=False)
        pytest.skip(problem)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not sandbox_required():
        return None
    found = {name: prerequisite_problem(name) or "ok" for name in ("bwrap", "landlock", "chromium")}
    return f"{REQUIRE_SANDBOX}=1, sandbox prerequisites: " + "; ".join(f"{k}: {v}" for k, v in found.items())

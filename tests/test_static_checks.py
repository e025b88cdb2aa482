"""The source tree is ruff clean and type-checks with mypy (configuration in pyproject.toml).

Both run as subprocesses from the repository root, so they read the same configuration as a developer's run.
Skipped only when the sources are not next to the tests (an installed package without its source tree).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelbench.scoring.lint import ruff_executable

ROOT = Path(__file__).resolve().parent.parent
LINTED = ("pytest_modelbench", "tests", "conftest_examples", "bench")

pytestmark = pytest.mark.skipif(
    not ((ROOT / "pyproject.toml").is_file() and (ROOT / "pytest_modelbench" / "__init__.py").is_file()),
    reason=f"the repository sources are not next to the tests (no pyproject.toml and pytest_modelbench/ in {ROOT})",
)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _show(res: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(map(str, res.args))} exited {res.returncode}\n{res.stdout}\n{res.stderr}"


def test_ruff_is_clean() -> None:
    res = _run([*ruff_executable(), "check", "--no-cache", *LINTED])
    assert res.returncode == 0, _show(res)


# ~10 s with a cold cache: litellm is not analysed (pyproject.toml)
def test_mypy_is_clean(tmp_path: Path) -> None:
    # A cache in tmp_path: nothing is left in the checkout, and a stale cache cannot hide an error.
    res = _run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache"), "pytest_modelbench"])
    assert res.returncode == 0, _show(res)
    assert "Success: no issues found" in res.stdout, _show(res)


def test_the_suites_conftest_loads_without_the_test_extras() -> None:
    """The README's command (a) installs the plugin without the test extras and runs `pytest --modelbench` in this
    repository: pytest then loads tests/conftest.py (testpaths), which must not need Hypothesis."""
    code = "import sys; sys.modules['hypothesis'] = None; import tests.conftest; print('loaded')"
    res = _run([sys.executable, "-c", code])
    assert res.returncode == 0 and "loaded" in res.stdout, _show(res)

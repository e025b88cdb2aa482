"""The options and hooks reference pages are generated from the code; this fails when they are stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "docs" / "generate.py"


@pytest.mark.skipif(not GENERATOR.is_file(), reason=f"the repository's docs/ are not next to the tests ({ROOT})")
def test_reference_pages_are_current() -> None:
    run = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr


@pytest.mark.skipif(not GENERATOR.is_file(), reason=f"the repository's docs/ are not next to the tests ({ROOT})")
def test_every_option_and_hook_is_on_its_page() -> None:
    from pytest_modelbench import hookspecs
    from pytest_modelbench.run.options import OPTIONS

    options = (ROOT / "docs" / "reference" / "options.md").read_text()
    hooks = (ROOT / "docs" / "reference" / "hooks.md").read_text()
    assert all(f"`{o.flag}" in options for o in OPTIONS)
    assert all(f"## `{name}`" in hooks for name in dir(hookspecs) if name.startswith("pytest_modelbench_"))


def test_readme_is_short_and_every_relative_link_resolves() -> None:
    import re

    readme = ROOT / "README.md"
    if not (ROOT / "docs").is_dir():
        pytest.skip(f"the repository's docs/ are not next to the tests ({ROOT})")
    assert len(readme.read_text().splitlines()) <= 300
    broken = []
    for page in [readme, *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []

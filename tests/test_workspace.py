"""Workspaces: pytest_modelbench.replay.workspace (files, gold, check preparation, touched files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
from pytest_modelbench.replay.workspace import (
    WorkspaceError,
    apply_gold,
    copy_workspace,
    prepare_check,
    touched_files,
    write_fileset,
)

START = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "conftest.py": "# start conftest\n",
    "tests/test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "tests/helpers.py": "X = 1\n",
    "docs/readme.md": "hello\n",
}
PATCH = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""


def read_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


NO_FILES = FileSet()


def session(paths: tuple[str, ...] = ("tests",), check_files: FileSet = NO_FILES) -> Session:
    return Session(id="c", source="s", intent="fix-bug", prompt="p", workspace=FileSet(tuple(START.items())),
                   check=CheckSpec(paths=paths, files=check_files), gold=GoldSpec(patch=PATCH))


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """(pristine, workspace): the start written once and copied as the candidate's workspace."""
    pristine = tmp_path / "pristine"
    write_fileset(FileSet(tuple(START.items())), pristine)
    return pristine, copy_workspace(pristine, tmp_path / "work")


def test_write_fileset_inline_files_win_over_directory(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("dir a")
    (src / "pkg" / "b.py").write_text("dir b")
    (src / "pkg" / "__pycache__" / "a.pyc").write_text("cache")
    write_fileset(FileSet(files=(("pkg/a.py", "inline a"), ("new/c.py", "c")), directory=src), tmp_path / "out")
    assert read_tree(tmp_path / "out") == {"new/c.py": "c", "pkg/a.py": "inline a", "pkg/b.py": "dir b"}


def test_apply_gold_files_delete_and_patch(trees: tuple[Path, Path]) -> None:
    _, work = trees
    gold = GoldSpec(files=FileSet((("tests/test_new.py", "def test_x(): pass\n"),)),
                    delete=("docs", "tests/helpers.py", "not-there.txt"), patch=PATCH)
    apply_gold(gold, work)
    tree = read_tree(work)
    assert tree["calc.py"] == "def add(a, b):\n    return a + b\n"
    assert tree["tests/test_new.py"] == "def test_x(): pass\n"
    assert "tests/helpers.py" not in tree and not (work / "docs").exists()


def test_apply_gold_bad_patch_raises(trees: tuple[Path, Path]) -> None:
    _, work = trees
    with pytest.raises(WorkspaceError, match="gold patch does not apply"):
        apply_gold(GoldSpec(patch=PATCH.replace("a - b", "a * b")), work)
    assert (work / "calc.py").read_text() == START["calc.py"]


def test_prepare_check_restores_and_removes(trees: tuple[Path, Path]) -> None:
    pristine, work = trees
    (work / "tests" / "test_calc.py").write_text("def test_add():\n    pass\n")  # candidate weakens the test
    (work / "conftest.py").write_text("import pytest\n# candidate skips everything\n")
    (work / "tests" / "conftest.py").write_text("collect_ignore = ['test_calc.py']\n")
    (work / "sitecustomize.py").write_text("import os\n")
    (work / "evil.pth").write_text("import os\n")
    (work / "tests" / "test_candidate.py").write_text("def test_ok(): pass\n")
    (work / "tests" / "helpers.py").unlink()
    (work / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    hidden = FileSet((("tests/test_hidden.py", "def test_hidden(): pass\n"),))
    got = prepare_check(session(check_files=hidden), work, pristine)
    assert got == ["tests/test_calc.py", "tests/test_hidden.py"]
    tree = read_tree(work)
    assert tree["tests/test_calc.py"] == START["tests/test_calc.py"]
    assert tree["conftest.py"] == START["conftest.py"]
    assert tree["tests/helpers.py"] == START["tests/helpers.py"]
    assert tree["calc.py"] == "def add(a, b):\n    return a + b\n"  # the candidate's solution is kept
    assert tree["tests/test_hidden.py"] == "def test_hidden(): pass\n"
    for gone in ("tests/conftest.py", "sitecustomize.py", "evil.pth"):
        assert gone not in tree


@pytest.mark.parametrize("replacement", ["symlink", "directory"])
def test_prepare_check_replaces_symlink_or_directory(trees: tuple[Path, Path], tmp_path: Path,
                                                     replacement: str) -> None:
    pristine, work = trees
    target = work / "tests" / "test_calc.py"
    target.unlink()
    if replacement == "symlink":
        (tmp_path / "outside.py").write_text("def test_add(): pass\n")
        target.symlink_to(tmp_path / "outside.py")
    else:
        (target / "sub").mkdir(parents=True)
    prepare_check(session(), work, pristine)
    assert not target.is_symlink() and target.is_file()
    assert target.read_text() == START["tests/test_calc.py"]
    assert (tmp_path / "outside.py").exists() or replacement == "directory"


@pytest.mark.parametrize("paths, expected", [
    (("tests",), ["tests/test_calc.py", "tests/test_hidden.py"]),
    (("tests/test_calc.py",), ["tests/test_calc.py"]),
    ((".",), ["tests/test_calc.py", "tests/test_hidden.py"]),
    (("docs",), []),
    (("./tests",), ["tests/test_calc.py", "tests/test_hidden.py"]),
])
def test_prepare_check_returns_start_tests_under_the_paths(trees: tuple[Path, Path], paths: tuple[str, ...],
                                                           expected: list[str]) -> None:
    pristine, work = trees
    hidden = FileSet((("tests/test_hidden.py", "def test_hidden(): pass\n"),))
    assert prepare_check(session(paths, hidden), work, pristine) == expected


def test_prepare_check_removes_new_symlinked_conftest(trees: tuple[Path, Path]) -> None:
    pristine, work = trees
    (work / "evil.py").write_text("collect_ignore_glob = ['*']\n")
    os.symlink("../evil.py", work / "tests" / "conftest.py")
    prepare_check(session(), work, pristine)
    assert not os.path.lexists(work / "tests" / "conftest.py")


def test_touched_files(trees: tuple[Path, Path]) -> None:
    pristine, work = trees
    apply_gold(GoldSpec(files=FileSet((("new.py", "x\n"),)), delete=("docs/readme.md",), patch=PATCH), work)
    (work / "__pycache__").mkdir()
    (work / "__pycache__" / "calc.pyc").write_text("cache")
    assert touched_files(pristine, work) == {"added": ["new.py"], "modified": ["calc.py"],
                                             "deleted": ["docs/readme.md"]}
    assert touched_files(pristine, pristine) == {"added": [], "modified": [], "deleted": []}

import logging

import pytest

from syncer.cli import main


@pytest.fixture(autouse=True)
def restore_logging():
    root, logger = logging.getLogger(), logging.getLogger("syncer")
    saved = (root.level, root.handlers[:], logger.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logger.setLevel(saved[2])


def test_cli_still_syncs(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("x")
    assert main([str(tmp_path / "src"), str(tmp_path / "dst")]) == 0
    assert "1 file(s) copied" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("verbosity", "level"),
    [(0, logging.WARNING), (1, logging.INFO), (3, logging.DEBUG), (-1, logging.ERROR)],
)
def test_configure_logging_levels(verbosity, level):
    from syncer.logging_setup import configure_logging

    assert configure_logging(verbosity) == level
    assert logging.getLogger("syncer").level == level


@pytest.mark.parametrize(("flags", "level"), [([], logging.WARNING), (["-vv"], logging.DEBUG), (["--quiet"], logging.ERROR)])
def test_cli_flags_set_level(tmp_path, capsys, flags, level):
    (tmp_path / "src").mkdir()
    main([*flags, str(tmp_path / "src"), str(tmp_path / "dst")])
    assert logging.getLogger("syncer").getEffectiveLevel() == level


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == "syncer 1.4.0"

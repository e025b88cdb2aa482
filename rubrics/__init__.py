"""Rubric files shipped with pytest-modelbench (installed as ``pytest_modelbench.rubrics``)."""

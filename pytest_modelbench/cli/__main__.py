"""``python -m pytest_modelbench.cli``: the ``modelbench`` command without the console script."""

from __future__ import annotations

import sys

from pytest_modelbench.cli.main import main

sys.exit(main())

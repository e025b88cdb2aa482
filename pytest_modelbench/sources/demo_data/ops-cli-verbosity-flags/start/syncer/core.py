"""Copy new or changed files from one directory to another."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def sync(src: Path, dst: Path) -> int:
    """Copy files under *src* missing from *dst* or differing in size; return the count."""
    copied = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        if target.exists() and target.stat().st_size == path.stat().st_size:
            log.debug("unchanged %s", target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        log.info("copied %s", target)
        copied += 1
    return copied

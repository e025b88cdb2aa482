"""Sample manifests (``--sample-manifest PATH``): the sample frozen in a file, so later runs compare like with like.

The first run with a manifest path that does not exist samples as usual and writes the manifest; every later run
reuses it: the sessions named there are run, whatever ``--sample-size`` and ``--sample-seed`` say. A session whose
content hash changed since is still run, with a warning. Format (JSON, ``"manifest_version": 1``)::

    {"manifest_version": 1, "seed": 0, "sample_size": 10, "sources": ["claude-code"],
     "strata": {"claude-code": {"fix-bug × small": 3, ...}},
     "sessions": [{"key": "claude-code/4c2d…", "content_hash": "9f2c…", "stratum": ["fix-bug", "small"]}, ...]}

Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Session
from pytest_modelbench.sampling.sample import default_stratum
from pytest_modelbench.schemas.validate import first_error

MANIFEST_VERSION = 1


class ManifestError(UserError, ValueError):
    """A manifest that cannot be used: names the file and the field."""


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    content_hash: str
    stratum: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    seed: int
    sample_size: int | None
    sources: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]
    strata: dict[str, dict[str, int]]

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION, "seed": self.seed, "sample_size": self.sample_size,
            "sources": list(self.sources), "strata": self.strata,
            "sessions": [{"key": e.key, "content_hash": e.content_hash, "stratum": list(e.stratum)}
                         for e in self.entries],
        }

    def digest(self) -> str:
        """A short hash of the manifest's content (for run records)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def build_manifest(sessions: Sequence[Session], seed: int, sample_size: int | None, sources: Sequence[str],
                   strata: dict[str, dict[str, int]]) -> Manifest:
    entries = tuple(ManifestEntry(s.key, s.content_hash(), default_stratum(s)) for s in sessions)
    return Manifest(seed, sample_size, tuple(sources), entries, strata)


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write atomically (a concurrent reader sees the old file or the new one, never half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest.to_dict(), fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest; every problem is a ManifestError naming the file and the field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the sample manifest: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ManifestError(f"{path}: not a JSON sample manifest: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a JSON object, got {type(data).__name__}")
    err = first_error(data, "manifest")  # schemas/manifest.schema.json
    if err:
        field, message = err
        raise ManifestError(f"{path}: field '{field}': {message}")
    entries = []
    seen: set[str] = set()
    for i, item in enumerate(data["sessions"]):
        key = item["key"]
        if key in seen:
            raise ManifestError(f"{path}: field 'sessions[{i}].key': {key!r} is listed twice")
        seen.add(key)
        entries.append(ManifestEntry(key, item.get("content_hash", ""), tuple(item.get("stratum", []))))
    # JSON Schema's "integer" includes 7.0 (as editors read it); the record holds ints.
    seed = int(data.get("seed", 0))
    size = data.get("sample_size")
    size = None if size is None else int(size)
    sources = data.get("sources", [])
    strata = {source: {label: int(n) for label, n in counts.items()}
              for source, counts in data.get("strata", {}).items()}
    return Manifest(seed, size, tuple(sources), tuple(entries), strata)

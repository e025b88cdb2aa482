"""Read-only access to a local git repository: the commit a session started from, and its files.

Pure module: no pytest.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.sources.transcripts.simulate import UNKNOWN


def _git(args: Sequence[str], cwd: str | Path, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, input=input_, env=env, timeout=120)


@dataclass
class GitRepo:
    """Read-only access to a local repository: nothing here writes to it."""

    root: Path
    _blobs: dict[tuple[str, str], Any] = field(default_factory=dict)

    @classmethod
    def find(cls, cwd: str) -> GitRepo | None:
        if not cwd or not os.path.isdir(cwd):
            return None
        try:
            res = _git(["rev-parse", "--show-toplevel"], cwd)
        except (OSError, subprocess.SubprocessError):
            return None
        if res.returncode != 0:
            return None
        return cls(Path(res.stdout.decode().strip()))

    def commit_before(self, timestamp: str | None, branch: str | None) -> str | None:
        """The last commit before ``timestamp`` on ``branch`` (when it exists here), else on HEAD."""
        if not timestamp:
            return None
        when = timestamp[:19] + "Z" if len(timestamp) >= 19 else timestamp
        for ref in [r for r in (branch, "HEAD") if r]:
            res = _git(["rev-list", "-1", f"--before={when}", ref, "--"], self.root)
            sha = res.stdout.decode().strip()
            if res.returncode == 0 and sha:
                return sha
        return None

    def has_commit(self, sha: str) -> bool:
        return _git(["cat-file", "-e", f"{sha}^{{commit}}"], self.root).returncode == 0

    def show(self, commit: str, path: str) -> Any:
        """Text of ``path`` at ``commit``: str, None when absent, UNKNOWN when not text."""
        key = (commit, path)
        if key not in self._blobs:
            res = _git(["cat-file", "blob", f"{commit}:{path}"], self.root)
            if res.returncode != 0:
                self._blobs[key] = None
            else:
                try:
                    self._blobs[key] = res.stdout.decode("utf-8")
                except UnicodeDecodeError:
                    self._blobs[key] = UNKNOWN
        return self._blobs[key]

    def archive(self, commit: str, subdir: str, dest: Path) -> None:
        """Extract the tree of ``commit`` (below ``subdir``) into ``dest``: a fresh copy, the repository untouched."""
        tree = f"{commit}:{subdir}" if subdir else commit
        res = _git(["archive", "--format=tar", tree], self.root)
        if res.returncode != 0:
            raise OSError(f"git archive {tree} failed: {res.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
            tar.extractall(dest, filter="data")

"""What the controller writes besides the artifact at the end of a run: the HTML report (``--modelbench-html``)
and, in GitHub Actions (``GITHUB_STEP_SUMMARY`` set), the markdown leaderboard and regressions appended to the step
summary. Failures to write are reported as warnings: the run's own result stands."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def write_html(path: Path, text: str) -> None:
    """Atomic like the artifact (a temporary file in the same folder, then rename), with the umask's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def html_report(artifact: Mapping[str, Any], store: Any, run_id: str) -> str:
    from pytest_modelbench import __version__
    from pytest_modelbench.report.html import render_html
    from pytest_modelbench.report.runs import trend_history

    history = trend_history(store, run_id) if store is not None else []
    return render_html(artifact, history, generator=f"pytest-modelbench {__version__}")


def write_outputs(artifact: Mapping[str, Any], store: Any, run_id: str, html_path: Path | None,
                  environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Write the HTML report and the step summary (both redacted); returns (notes, warnings) for the terminal."""
    from pytest_modelbench.models.redact import redact_obj

    artifact = redact_obj(artifact)
    environ = os.environ if environ is None else environ
    notes: list[str] = []
    warnings: list[str] = []
    if html_path is not None:
        try:
            write_html(html_path, html_report(artifact, store, run_id))
            notes.append(f"html report: {html_path}")
        except OSError as exc:
            warnings.append(f"--modelbench-html {html_path}: not written ({exc.strerror or exc})")
    summary = environ.get(STEP_SUMMARY_ENV)
    if summary:
        from pytest_modelbench.report.markdown import summary_markdown

        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(summary_markdown(artifact))
            notes.append(f"step summary: leaderboard appended to {STEP_SUMMARY_ENV}")
        except OSError as exc:
            warnings.append(f"{STEP_SUMMARY_ENV}={summary}: not written ({exc.strerror or exc})")
    return notes, warnings


__all__ = ["STEP_SUMMARY_ENV", "html_report", "write_html", "write_outputs"]

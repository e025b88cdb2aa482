"""Projected cost of a sample per model, without calling any model (``modelbench estimate``).

Tokens per replay come from the original session when its transcript recorded them; otherwise from the sizes of
what a replay sends and writes: prompt plus starting files (as the zero-shot context, capped like the replay caps
it) in, the gold change out, at about four characters a token, one call. Agent replays without recorded tokens take
more calls than that, so those rows are a floor and say so. Prices: ``--price`` and per-model settings first, then
litellm's price map (read locally, never fetched); local models cost $0; an unknown price stays unknown, never $0.

Pure module: no pytest. litellm is imported only when a price has to be looked up in its map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.records import MAX_CONTEXT_CHARS, REFERENCE_MODELS, FileSet, Session

CHARS_PER_TOKEN = 4
MIN_OUTPUT_TOKENS = 64
BASIS_ORIGINAL = "original session tokens"
BASIS_ORIGINAL_TOTAL = "original session total (input/output split estimated)"
BASIS_SIZES = "prompt, files and gold size (one call)"
BASIS_SIZES_AGENT = "prompt, files and gold size (one call; an agent replay makes more: a floor)"


@dataclass(frozen=True)
class TokenEstimate:
    input: int
    output: int
    calls: int
    basis: str


@dataclass(frozen=True)
class ModelEstimate:
    model: str
    sessions: int
    calls: int
    input_tokens: int
    output_tokens: int
    price_in_per_m: float | None  # $ per million tokens; None = unknown
    price_out_per_m: float | None
    cost_usd: float | None  # None = unknown price, never a made-up $0
    local: bool
    reference: bool
    basis: dict[str, int] = field(default_factory=dict)  # basis -> sessions

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "sessions": self.sessions, "calls": self.calls,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "price_in_per_m": self.price_in_per_m, "price_out_per_m": self.price_out_per_m,
                "cost_usd": self.cost_usd, "local": self.local, "reference": self.reference, "basis": self.basis}


def _fileset_chars(fs: FileSet, budget: int) -> int:
    """Characters of the text files of ``fs`` (inline first, then the directory), stopping at ``budget``."""
    total = sum(len(text) for _, text in fs.files)
    if fs.directory is not None and total < budget:
        inline = {path for path, _ in fs.files}
        for p in sorted(fs.directory.rglob("*")):
            if total >= budget:
                break
            rel = p.relative_to(fs.directory).as_posix()
            if not p.is_file() or rel in inline or any(part.startswith(".") for part in Path(rel).parts):
                continue
            try:
                total += len(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue  # binary files never reach a prompt
    return min(total, budget)


def session_tokens(session: Session, recorded: Mapping[str, int] | None = None,
                   mode: str | None = None) -> TokenEstimate:
    """Tokens one replay of ``session`` is expected to use; ``recorded``: the transcript's input/output/cache counts."""
    gold_chars = _fileset_chars(session.gold.files, MAX_CONTEXT_CHARS) + len(session.gold.patch)
    output = max(MIN_OUTPUT_TOKENS, gold_chars // CHARS_PER_TOKEN)
    calls = session.original.turns or 1
    if recorded and recorded.get("total"):
        full_input = recorded.get("input", 0) + recorded.get("cache_read", 0) + recorded.get("cache_create", 0)
        return TokenEstimate(full_input, recorded.get("output", 0), calls, BASIS_ORIGINAL)
    context_chars = len(session.prompt) + sum(len(t) for t in session.turns) + _fileset_chars(
        session.workspace, MAX_CONTEXT_CHARS)
    context = min(context_chars, MAX_CONTEXT_CHARS) // CHARS_PER_TOKEN + 16
    if session.original.tokens:
        out = min(output, session.original.tokens)
        return TokenEstimate(max(session.original.tokens - out, 0), out, calls, BASIS_ORIGINAL_TOTAL)
    mode = mode or ("zero-shot" if session.check.kind == "function" else "agent")
    return TokenEstimate(context, output, 1, BASIS_SIZES_AGENT if mode == "agent" else BASIS_SIZES)


def estimate(sessions: Sequence[tuple[Session, Mapping[str, int] | None]], models: Iterable[str],
             price: Any, is_local: Any, mode: str | None = None) -> list[ModelEstimate]:
    """Per model: ``price(model)`` -> ($/token in, $/token out) or None; ``is_local(model)`` -> bool."""
    per_session = [session_tokens(s, recorded, mode) for s, recorded in sessions]
    out = []
    for model in models:
        if model in REFERENCE_MODELS or model.startswith("replay/"):
            out.append(ModelEstimate(model, len(per_session), 0, 0, 0, 0.0, 0.0, 0.0, True, True,
                                     {"reference candidate: no model calls": len(per_session)}))
            continue
        tokens_in = sum(t.input for t in per_session)
        tokens_out = sum(t.output for t in per_session)
        basis: dict[str, int] = {}
        for t in per_session:
            basis[t.basis] = basis.get(t.basis, 0) + 1
        p = price(model)
        cost = None if p is None else round(tokens_in * p[0] + tokens_out * p[1], 6)
        out.append(ModelEstimate(
            model, len(per_session), sum(t.calls for t in per_session), tokens_in, tokens_out,
            None if p is None else round(p[0] * 1e6, 6), None if p is None else round(p[1] * 1e6, 6), cost,
            bool(is_local(model)), False, basis))
    return out


__all__ = ["ModelEstimate", "TokenEstimate", "estimate", "session_tokens"]

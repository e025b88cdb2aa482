"""Redaction of secrets, recognised by the shape of the VALUE, never by a variable's name alone.

What it finds (the shapes are in :mod:`pytest_modelbench.models.secretshapes`):

* provider keys by prefix, length and alphabet: OpenAI / Anthropic ``sk-``, Stripe ``sk_live_`` / ``rk_live_`` /
  ``sk_test_`` / ``whsec_``, GitHub ``ghp_`` / ``gho_`` / ``ghu_`` / ``ghs_`` / ``ghr_`` / ``github_pat_``, GitLab
  ``glpat-`` and its siblings, npm ``npm_``, SendGrid ``SG.x.y``, PyPI ``pypi-AgE…``, Slack ``xox?-`` / ``xapp-`` /
  webhooks, AWS ``AKIA…`` (and the 40-character secret key written beside it), Google ``AIza…``, Hugging Face
  ``hf_…``, JWTs, PEM private key blocks;
* context shapes: the password of a URL (``postgres://user:…@host``: user and host are kept), ``Bearer`` /
  ``Basic`` credentials, connection-string keys (``AccountKey=…;``, ``Password=…;``) and values assigned to
  secret-named settings (``KEY=value``, ``export TOKEN=…``, ``"client_secret": "…"``, ``DB_PASSWORD: …``) when the
  value looks like a secret: a literal (not an identifier, attribute chain or code expression), long enough, with
  digits or mixed case and enough entropy, and not a placeholder. ``thread_key = tool_use_id``, ``const STORAGE_KEY =
  'todos'``, ``_csrf_token: csrfToken`` and ``'mean_std_per_token': np.mean([...])`` are code and stay as written.

Every secret becomes ``[REDACTED:<kind>:<digest>]``: the same secret gets the same placeholder everywhere (the digest
is a keyed hash, so a short password cannot be guessed back from it). Redacting redacted text changes nothing.

Used where text leaves the machine or can be shared (cloud request bodies, the store's prompt / transcript / diff
columns, artifacts, reports, exports, the API); never on the files a replay is built from. Pure module (no pytest).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_modelbench.models.secretshapes import IDENT_CHAIN, SHAPE_PLACEHOLDERS, SHAPES, entropy, mixed, secret_value

REDACTED = "[REDACTED"  # how every placeholder starts: ``[REDACTED:<kind>:<digest>]``
KEY_ENV = "MODELBENCH_REDACTION_KEY"


# -- placeholders -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digest_key() -> bytes:
    """The key of the placeholder digests: ``$MODELBENCH_REDACTION_KEY``, else a random key kept in the user's cache
    folder (created once, mode 0600), so placeholders agree across processes and runs on this machine."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-modelbench"
    path = base / "redaction-key"
    try:
        return path.read_bytes().strip() or _new_key(path)
    except FileNotFoundError:
        return _new_key(path)
    except OSError:
        return secrets.token_hex(32).encode()  # unreadable: consistent within this process only


def _new_key(path: Path) -> bytes:
    key = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        try:
            os.link(tmp, path)  # atomic and never over an existing key: the first complete key wins
        except FileExistsError:
            key = path.read_bytes().strip() or key
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass  # no cache folder: consistent within this process only
    return key


def placeholder(kind: str, secret: str) -> str:
    """``[REDACTED:<kind>:<8 hex>]`` for ``secret``: a keyed hash, the same for the same secret everywhere."""
    digest = hmac.new(_digest_key(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:8]
    return f"{REDACTED}:{kind}:{digest}]"


# The AWS secret access key written beside its key id (CSV rows, `aws configure` transcripts): 40 base64 characters.
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_WINDOW = 300
# user:password@ right after a scheme's ://
_URL_AUTH = re.compile(rb"[^\s:/?#@\"'`<>\[\]{}]{1,256}:([^\s/?#@\"'`<>]{1,256})@")
_AUTH_HEADER = re.compile(rb"(bearer|basic)[ \t]+([A-Za-z0-9._~+/=\-]{8,})", re.I)
# Names of secret settings (lower-cased), and parts that make a name a non-secret role (max_tokens, KEY_FILE …).
_SECRET_WORDS = (b"secret", b"token", b"passw", b"pwd", b"key", b"credential")
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_PARTS = ("secret", "secrets", "token", "password", "passwd", "passwords", "pwd", "credential",
                 "credentials", "key")
_NOT_SECRET_PART = frozenset({
    "public", "publishable", "pub", "cache", "sort", "primary", "foreign", "max", "min", "num", "count", "limit",
    "length", "len", "size", "type", "name", "path", "file", "filename", "dir", "url", "uri", "endpoint", "header",
    "field", "prefix", "suffix", "format", "kind", "usage", "id", "index", "label", "hotkey", "monkey", "turkey",
})
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NAME_CHARS = _WORD | frozenset(b"-.")
_ASSIGN = re.compile(
    rb"""(["'`]?)([ \t]*)(=>|:=|=|:)([ \t]*)(?:(["'`])([^"'`\s\\]{1,1000})\5|([^\s"'`,;)\]}{\\]{1,1000}))""")
_CONN_NEXT = re.compile(rb";[ \t]*[A-Z][A-Za-z ]*=")
_REDACTED_B = REDACTED.encode()

Span = tuple[int, int, str]  # start, end (byte offsets), kind
_CONTEXT_KINDS = frozenset({"password", "azure", "secret", "url-password", "bearer", "basic-auth"})


def _word_start(data: bytes, i: int) -> bool:
    return i == 0 or data[i - 1] not in _WORD


def _shape_ok(value: str) -> bool:
    low = value.lower()
    return not any(p in low for p in SHAPE_PLACEHOLDERS)


def _shape_spans(data: bytes, spans: list[Span]) -> None:
    for shape in SHAPES:
        for anchor in shape.anchors:
            i = data.find(anchor)
            while i >= 0:
                at = i - shape.back
                m = shape.pattern.match(data, at) if at >= 0 and (
                    not shape.word_start or _word_start(data, at)) else None
                if m:
                    found = m.group().decode("latin-1")
                    if (shape.check is None or shape.check(found)) and _shape_ok(found):
                        spans.append((m.start(), m.end(), shape.kind))
                        if shape.kind == "aws":
                            _aws_secret(data, m.end(), spans)
                        i = data.find(anchor, m.end())
                        continue
                i = data.find(anchor, i + 1)


def _aws_secret(data: bytes, after: int, spans: list[Span]) -> None:
    s = _AWS_SECRET.search(data, after, after + _AWS_WINDOW)
    if s:
        value = s.group().decode("ascii")
        if mixed(value) and entropy(value) >= 3.5:
            spans.append((s.start(), s.end(), "aws"))


def _context_spans(data: bytes, lowered: bytes, spans: list[Span]) -> None:
    i = data.find(b"://")
    while i >= 0:
        m = _URL_AUTH.match(data, i + 3)
        if m:
            pw = m.group(1)
            # Not a template ({password}, $PASS, %s, <password>) nor elided (…, ***).
            if pw[:1] not in b"{$%<*[." and b"${" not in pw and not pw.startswith(_REDACTED_B) \
                    and not pw.startswith("\u2026".encode()):
                spans.append((m.start(1), m.end(1), "url-password"))
        i = data.find(b"://", i + 3)
    for word in (b"bearer", b"basic"):
        i = lowered.find(word)
        while i >= 0:
            m = _AUTH_HEADER.match(data, i) if _word_start(data, i) else None
            if m:
                value = m.group(2).decode("ascii")
                basic = word == b"basic"
                if (not IDENT_CHAIN.fullmatch(value) or any(c.isdigit() for c in value)) and _shape_ok(value) \
                        and (not basic or b"authorization" in lowered[max(0, i - 40):i]):
                    spans.append((m.start(2), m.end(2), "basic-auth" if basic else "bearer"))
            i = lowered.find(word, i + 1)
    seen: set[int] = set()  # name starts already looked at: secret_key holds two secret words
    for word in _SECRET_WORDS:
        i = lowered.find(word)
        while i >= 0:
            _assignment(data, i, spans, seen)
            i = lowered.find(word, i + len(word))


def _assignment(data: bytes, i: int, spans: list[Span], seen: set[int]) -> None:
    """A value assigned to the name around byte ``i`` (which holds a secret word), when it looks secret."""
    s = i
    while s > 0 and data[s - 1] in _NAME_CHARS:
        s -= 1
    if s in seen or data[max(0, s - 10):s] == b"[REDACTED:":  # a placeholder's kind is no setting
        return
    seen.add(s)
    e = i
    n = len(data)
    while e < n and data[e] in _NAME_CHARS:
        e += 1
    m = _ASSIGN.match(data, e)
    if m is None:
        return
    raw = data[s:e].decode("ascii").strip(".-")
    parts = [p.lower() for p in _NAME_PARTS.findall(raw)]
    # A secret setting: a part that is, or ends in, a secret word (apiKey, DB_PASSWORD, authtoken), and no part
    # naming a non-secret role (max_tokens, KEY_FILE, token_count); a bare `key` / `token` is too common in code.
    if len(parts) < 2 and raw.lower() in ("key", "keys", "token", "tokens"):
        return
    if not any(p.endswith(_SECRET_PARTS) for p in parts) or any(p in _NOT_SECRET_PART for p in parts):
        return
    op = m.group(3)
    quoted = m.group(6) is not None
    group = 6 if quoted else 7
    value = m.group(group).decode("utf-8", "replace")
    start, end = m.start(group), m.end(group)
    spaced = op == b"=" and bool(m.group(2) or m.group(4))
    conn = op == b"=" and not spaced and (data[s - 1:s] == b";" or bool(_CONN_NEXT.match(data, end)))
    if value.startswith(REDACTED) or not secret_value(value, quoted=quoted, spaced=spaced, conn=conn):
        return
    lowered = raw.lower()
    if "passw" in lowered or "pwd" in lowered:
        kind = "password"
    elif "accountkey" in lowered or "sharedaccess" in lowered:
        kind = "azure"
    else:
        kind = "secret"
    spans.append((start, end, kind))


def _find(data: bytes, known: Iterable[tuple[bytes, str]] = ()) -> list[Span]:
    spans: list[Span] = []
    _shape_spans(data, spans)
    _context_spans(data, data.lower(), spans)
    # The same secret everywhere: a value found by its context (an assignment, a URL) or known from another string
    # is replaced wherever else it stands as a whole word.
    values = {data[a:b]: k for a, b, k in spans if k in _CONTEXT_KINDS and b - a >= 6}
    values.update((v, k) for v, k in known if len(v) >= 6)
    n = len(data)
    for value, kind in values.items():
        i = data.find(value)
        while i >= 0:
            end = i + len(value)
            if _word_start(data, i) and (end >= n or data[end] not in _WORD):
                spans.append((i, end, kind))
            i = data.find(value, end)
    if not spans:
        return []
    spans.sort(key=lambda sp: (sp[0], -sp[1]))
    out: list[Span] = []
    for span in spans:
        if out and span[0] < out[-1][1]:
            if span[1] > out[-1][1]:  # overlapping: one span covering both, named by the first
                out[-1] = (out[-1][0], span[1], out[-1][2])
            continue
        out.append(span)
    return out


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # JSON may hold lone surrogates: keep them, never fail


def find_secrets(text: str) -> list[tuple[str, str]]:
    """``(value, kind)`` of every secret in ``text``, in order."""
    data = _encode(text)
    return [(data[a:b].decode("utf-8", "surrogatepass"), k) for a, b, k in _find(data)]


def _apply(data: bytes, spans: list[Span]) -> bytes:
    parts: list[bytes] = []
    last = 0
    for start, end, kind in spans:
        parts.append(data[last:start])
        parts.append(placeholder(kind, data[start:end].decode("utf-8", "surrogatepass")).encode())
        last = end
    parts.append(data[last:])
    return b"".join(parts)


def redact(text: str, known: Iterable[tuple[str, str]] = ()) -> str:
    """``text`` with every secret replaced by ``[REDACTED:<kind>:<digest>]`` (see the module doc for the shapes);
    ``known``: ``(value, kind)`` secrets found elsewhere, replaced here too."""
    if not text:
        return text
    data = _encode(text)
    spans = _find(data, [(_encode(v), k) for v, k in known])
    return _apply(data, spans).decode("utf-8", "surrogatepass") if spans else text


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list | tuple):
        for v in value:
            _strings(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dict keys are kept). A secret found by its context in one string
    (``DB_PASSWORD=…`` in a prompt) is also replaced where it stands bare in another (a model's reply)."""
    strings: list[str] = []
    _strings(value, strings)
    found: dict[str, tuple[bytes, list[Span]]] = {}
    known: dict[bytes, str] = {}
    for s in strings:
        if s and s not in found:
            data = _encode(s)
            spans = _find(data)
            found[s] = (data, spans)
            known.update((data[a:b], kind) for a, b, kind in spans if kind in _CONTEXT_KINDS)
    pairs = tuple(known.items())

    def one(s: str) -> str:
        if not s:
            return s
        data, spans = found[s]
        if pairs and any(v in data for v, _k in pairs):  # a secret seen elsewhere stands here too: look again
            spans = _find(data, pairs)
        return _apply(data, spans).decode("utf-8", "surrogatepass") if spans else s

    return _map_strings(value, one)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple(_map_strings(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


__all__ = ["KEY_ENV", "REDACTED", "SHAPES", "entropy", "find_secrets", "placeholder", "redact", "redact_obj",
           "secret_value"]

"""The pure parts of the model door: redaction, provider classification, the ledger, edit parsing, the tool box."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pytest_modelbench.models.budget import Ledger
from pytest_modelbench.models.door import prompt_token_bound
from pytest_modelbench.models.providers import is_local, parse_model_settings, provider_of
from pytest_modelbench.models.redact import REDACTED, placeholder, redact, redact_obj
from pytest_modelbench.replay.agent import ToolBox, ToolCall, text_tool_calls
from pytest_modelbench.replay.edits import SearchReplace, WholeFile, apply_edits, extract_code, parse_edits
from pytest_modelbench.runners.local import LocalRunner


def _k(*parts: str) -> str:
    """A fake key assembled at run time: the repository itself holds no secret-shaped literal."""
    return "".join(parts)


@pytest.mark.parametrize("secret", [
    _k("sk-ant-", "api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    _k("sk-proj-", "abcdefghijklmnopqrstuvwx12"),
    _k("ghp_", "abcdefghijklmnopqrstuvwxyz0123456789"),
    _k("github_pat_", "11ABCDEFG0123456789_abcdefghijklmnop"),
    _k("xoxb-", "1234567890-abcdefghij"),
    _k("AKIA", "IOSFODNN7EXAMPLE"),
    _k("AIza", "SyA-abcdefghijklmnopqrstuvwxyz01234"),
    _k("hf_", "abcdefghijklmnopqrstuvwxyzABCDEFGH"),
    _k("eyJhbGciOiJIUzI1NiJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIn0", ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
])
def test_known_key_shapes_are_redacted(secret: str) -> None:
    out = redact(f"use {secret} please")
    assert secret not in out and REDACTED in out and out.startswith("use ")


@pytest.mark.parametrize(("kept", "value", "end"), [
    ("OPENAI_API_KEY=", "abcd1234efgh", ""),
    ("export MY_SERVICE_TOKEN='", "tok-999-secret", "'"),
    ('{"db_password": "', "hunter2hunter2", '"}'),
    ("AWS_SECRET=", "wJalrXUtnFEMI/K7MDENG", ""),
    ("Authorization: Bearer ", "abc.def.ghi-jkl", ""),
])
def test_assignments_keep_their_name_and_lose_their_value(kept: str, value: str, end: str) -> None:
    out = redact(kept + value + end)
    assert out.startswith(kept + REDACTED) and out.endswith(end)
    assert value not in out


def test_private_key_block_and_ordinary_text() -> None:
    pem = _k("-----BEGIN RSA PRIVATE KEY-----\n", "MIIE" + "a1B2c3D4" * 4, "\n-----END RSA PRIVATE KEY-----")
    assert redact(f"key:\n{pem}\nend") == f"key:\n{placeholder('private-key', pem)}\nend"
    ordinary = "def add(a, b):\n    return a + b  # the key idea: token counts differ\n"
    assert redact(ordinary) == ordinary
    key = _k("sk-", "abcdefghij0123456789xyz")
    assert redact_obj({"m": [f"x {key} y"], "n": 3}) == {"m": [f"x {placeholder('openai', key)} y"], "n": 3}


@pytest.mark.parametrize(("model", "api_base", "forced", "local"), [
    ("ollama/qwen2.5-coder:7b", None, None, True),
    ("lm_studio/x", None, None, True),
    ("openai/anything", "http://127.0.0.1:8000/v1", None, True),
    ("openai/anything", "http://localhost:11434", None, True),
    ("openai/anything", "http://[::1]:8080", None, True),
    ("gpt-4.1", None, None, False),
    ("anthropic/claude-sonnet-4-5", None, None, False),
    ("openai/anything", "https://api.example.com/v1", None, False),
    ("openai/anything", "http://10.0.0.5:8000", None, False),
    ("openai/anything", "http://127.0.0.1:8000", True, False),
    ("gpt-4.1", None, False, True),
])
def test_local_or_cloud(model: str, api_base: str | None, forced: bool | None, local: bool) -> None:
    assert is_local(model, api_base, forced) is local


def test_provider_of() -> None:
    assert [provider_of(m) for m in ("ollama/x", "gpt-4.1", "claude-3", "anthropic/y", "weird/z")] == \
        ["ollama", "openai", "anthropic", "anthropic", "openai"]


def test_model_settings_parsing_and_errors() -> None:
    parsed = parse_model_settings(["openai/x api_base=http://127.0.0.1:1 cloud=true price_in=1.5 price_out=2 "
                                   "max_tokens=300 tools=text"])
    s = parsed["openai/x"]
    assert (s.api_base, s.cloud, s.price_in, s.price_out, s.max_tokens, s.tools) == \
        ("http://127.0.0.1:1", True, 1.5, 2.0, 300, "text")
    for bad, message in [("m cloud=maybe", "cloud must be true or false"), ("m price_in=x", "price_in must be"),
                         ("m colour=red", "unknown key 'colour'"), ("m novalue", "expected key=value"),
                         ("m tools=psychic", "tools must be native or text")]:
        with pytest.raises(ValueError, match=message):
            parse_model_settings([bad])


def test_ledger_never_lets_spent_pass_the_cap_under_threads() -> None:
    ledger = Ledger(cap_usd=1.0)
    granted: list[int] = []

    def worker() -> None:
        for _ in range(50):
            ticket = ledger.reserve(0.05, wait=5)
            if ticket is None:
                return
            granted.append(ticket)
            ledger.settle(ticket, 0.03)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = ledger.state()
    assert state.spent_usd <= 1.0 and state.exhausted and state.reserved_usd == 0
    # After k settled calls, one more fits while 0.03 * k + 0.05 <= 1.0, i.e. k <= 31: so 32 calls in all.
    assert len(granted) == 32
    assert ledger.reserve(0.0001) is None  # exhausted stays exhausted


def test_ledger_without_cap_tracks_spend() -> None:
    ledger = Ledger(cap_usd=None)
    ticket = ledger.reserve(100.0)
    assert ticket is not None
    ledger.settle(ticket, 0.25)
    ledger.settle(ledger.reserve(0.0), None)
    assert ledger.state().spent_usd == 0.25 and not ledger.state().exhausted


def test_prompt_token_bound_is_at_least_the_bytes() -> None:
    messages = [{"role": "user", "content": "héllo wörld " * 10}]
    assert prompt_token_bound(messages, None) >= len("héllo wörld ".encode() * 10)


def test_parse_whole_files_and_search_replace(tmp_path: Path) -> None:
    answer = ("Here you go.\n\n```python path=pkg/a.py\nA = 1\n```\n\n"
              "pkg/b.py\n```python\nB = 2\n```\n\n```python\n# no path: ignored\n```\n")
    assert parse_edits(answer) == [WholeFile("pkg/a.py", "A = 1\n"), WholeFile("pkg/b.py", "B = 2\n")]
    (tmp_path / "m.py").write_text("x = 1\ny = 2\n")
    sr = "m.py\n<<<<<<< SEARCH\ny = 2\n=======\ny = 3\n>>>>>>> REPLACE\n"
    edits = parse_edits(sr)
    assert edits == [SearchReplace("m.py", "y = 2\n", "y = 3\n")]
    applied = apply_edits(tmp_path, edits + [SearchReplace("m.py", "nope\n", "x\n"),
                                             WholeFile("../escape.py", "bad"), WholeFile("/abs.py", "bad")])
    assert (tmp_path / "m.py").read_text() == "x = 1\ny = 3\n"
    assert applied.changed == ["m.py"] and len(applied.errors) == 3
    assert not (tmp_path.parent / "escape.py").exists()


def test_extract_code_for_function_sessions() -> None:
    assert extract_code("Sure!\n```python\ndef f():\n    return 1\n```\nDone.") == "def f():\n    return 1\n"
    assert extract_code("def f():\n    return 2\n") == "def f():\n    return 2\n"
    assert extract_code("I cannot help with that.") is None
    assert extract_code("") is None


def test_toolbox_executes_and_reports_errors(tmp_path: Path) -> None:
    box = ToolBox(tmp_path, LocalRunner())
    assert box.call(ToolCall("1", "write_file", json.dumps({"path": "a/b.txt", "content": "hi"}))).startswith("wrote")
    assert box.call(ToolCall("2", "read_file", json.dumps({"path": "a/b.txt"}))) == "hi"
    assert box.call(ToolCall("3", "edit_file", json.dumps({"path": "a/b.txt", "old_text": "hi",
                                                           "new_text": "ho"}))) == "edited a/b.txt"
    assert box.call(ToolCall("4", "list_files", "{}")) == "a/b.txt"
    out = box.call(ToolCall("5", "run_command", json.dumps({"command": "cat a/b.txt; echo $HOME"})))
    assert out.startswith("exit code 0") and "ho" in out and str(tmp_path) in out
    assert box.call(ToolCall("6", "read_file", json.dumps({"path": "../../etc/passwd"}))).startswith("error")
    assert box.call(ToolCall("7", "write_file", "{broken")).startswith("error: malformed arguments")
    assert box.call(ToolCall("8", "fly", "{}")) == "error: unknown tool 'fly'"
    assert box.call(ToolCall("9", "write_file", json.dumps({"path": "x"}))).startswith("error: bad arguments")
    assert not box.finished
    box.call(ToolCall("10", "finish", "{}"))
    assert box.finished and len(box.errors) == 4


def test_text_protocol_blocks() -> None:
    content = ('I will read it.\n```tool\n{"tool": "read_file", "arguments": {"path": "a.py"}}\n```\n'
               '```tool\nnot json\n```')
    calls = text_tool_calls(content, 3)
    assert [(c.name, json.loads(c.arguments) if c.name != "invalid" else c.arguments) for c in calls] == \
        [("read_file", {"path": "a.py"}), ("invalid", "not json")]

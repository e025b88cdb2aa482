"""The Claude Code importer (sources/transcripts/claude_code.py) on the real transcripts and on small traps.

The real files are unmodified copies of ../shared/fixtures/transcripts/claude (see each .source.txt).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_modelbench.sources.transcripts.claude_code import ClaudeParser, prompt_text, read_content
from pytest_modelbench.sources.transcripts.common import Tokens, model_price, read_new_lines
from pytest_modelbench.sources.transcripts.features import summarize
from pytest_modelbench.sources.transcripts.index import HistoryIndex, feed_lines
from pytest_modelbench.sources.transcripts.state import ParserState

from .helpers import DATA
from .transcript_builders import SESSION_START, ClaudeTranscript

CLAUDE = DATA / "transcripts" / "claude"
PRIVATE = CLAUDE / "-tmp-private" / "4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl"
WARMUP = CLAUDE / "-tmp-private" / "agent-36541525.jsonl"
SNIFFLY = CLAUDE / "-Users-chip-dev-ai-music" / "ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl"
SPOTTER = CLAUDE / "-home-marco-projects-spotter" / "tool_heavy.jsonl"


def parse(path: Path) -> ParserState:
    parser = ClaudeParser(path)
    lines, _end, _size = read_new_lines(path, 0)
    feed_lines(parser, lines, 1)
    return parser.dump()


def tokens_of(state: ParserState) -> Tokens:
    total = Tokens()
    for inp, out, create, _hour, read, *_rest in state.groups.values():
        total += Tokens(inp, out, read, create)
    return total


def test_private_trunk_tokens_grouped_by_message_id() -> None:
    # 10 assistant lines, 7 message ids. msg_bdrk_013SYv… is streamed over 4 lines with output 4, 4, 4, 395: the
    # last line holds the final count. Per message id (input, output, cache_create, cache_read):
    #   013SYv (3, 395, 35066, 0)      0123Pi (7, 82, 570, 35089)    01UZFP (3, 87, 9, 35745)
    #   016b4Z (6, 153, 238, 35754)    01XgV4 (5, 1, 396, 35992)     015MEi (3, 76, 761, 35659)
    #   01RHTZ (6, 12, 132, 36388)
    # input        3+7+3+6+5+3+6                                   = 33
    # output       395+82+87+153+1+76+12                           = 806
    # cache_create 35066+570+9+238+396+761+132                     = 37172
    # cache_read   0+35089+35745+35754+35992+35659+36388           = 214627
    state = parse(PRIVATE)
    assert len(state.groups) == 7
    assert tokens_of(state) == Tokens(input=33, output=806, cache_read=214627, cache_create=37172)
    # Taking the first line of each stream (the old ccusage bug) would give 806 - 395 + 4 = 415 output tokens.
    assert tokens_of(state).output != 415
    assert state.session_id == "4c2ddfdc-b619-4525-8d03-1950fb1b0257"
    assert state.broken == 0 and state.role == "trunk"


def test_sniffly_tokens_with_heavy_streaming_duplication() -> None:
    # 40 assistant lines, 24 message ids (up to 8 lines each). Per id, in file order, (in, out, cache_create,
    # cache_read) with the final output count of the group:
    #   (4,5,3877,10215) (8,4,437,14092) (8,22,570,14529) (8,420,2142,15099) (7,1,452,17241) (4,427,365,17693)
    #   (6,23,614,18058) (5,142,596,18672) (5,297,172,19268) (4,22,596,19440) (4,295,2002,20036)
    #   (3,308,592,22038) (3,1,589,22630) (0,1,218,23219) (3,25,91,23437) (3,216,1257,23528) (2,1,474,24785)
    #   (0,5,63,25259) (4,26,102,25322) (0,1,40,25424) (3,1,573,25464) (0,1,52,26037) (4,21,105,26089)
    #   (3,1,93,26194)
    # input:  4+8+8+8+7+4+6+5+5+4+4+3+3+0+3+3+2+0+4+0+3+0+4+3 = 91
    # output: 5+4+22+420+1+427+23+142+297+22+295+308+1+1+25+216+1+5+26+1+1+1+21+1 = 2266
    # cache_create: 3877+437+570+2142+452+365+614+596+172+596+2002+592+589+218+91+1257+474+63+102+40+573+52+105+93
    #             = 16072
    # cache_read: 10215+14092+14529+15099+17241+17693+18058+18672+19268+19440+20036+22038+22630+23219+23437+23528
    #             +24785+25259+25322+25424+25464+26037+26089+26194 = 503769
    # Summing every line instead would count the 8-line group (4, 5, 3877, 10215) six times over.
    state = parse(SNIFFLY)
    assert len(state.groups) == 24
    assert tokens_of(state) == Tokens(input=91, output=2266, cache_read=503769, cache_create=16072)
    assert state.session_id == "ba79134d-b6e9-4867-af0c-6941038c9e4b"


def test_spotter_tokens_cache_creation_object_and_session_id_from_lines() -> None:
    # 2.1.x: cache creation comes from cache_creation{ephemeral_5m, ephemeral_1h} (all 1h here). 4 message ids:
    #   0167kg (3, 27, 7883, 17915)  01NUXW (1, 1, 208, 25798)  01Lbyj (3, 11, 8490, 18014)
    #   019BN3 (47, 173, 1115, 26504)   (its two lines say output 25 then 173)
    # input 3+1+3+47 = 54; output 27+1+11+173 = 212; cache_create 7883+208+8490+1115 = 17696;
    # cache_read 17915+25798+18014+26504 = 88231
    state = parse(SPOTTER)
    assert tokens_of(state) == Tokens(input=54, output=212, cache_read=88231, cache_create=17696)
    assert sum(g[3] for g in state.groups.values()) == 17696  # all of it written to the 1-hour cache
    # The file stem "tool_heavy" is not a session id: the id comes from the lines.
    assert state.session_id == "d6e0bada-1959-4eec-a9d2-0bfade768d8f"
    # progress, file-history-snapshot, queue-operation and system lines are not conversation
    assert state.ignored == 10 + 3 + 2 + 2


def test_prompts_are_typed_text_only() -> None:
    spotter = summarize("k", [parse(SPOTTER)], str(SPOTTER))
    assert spotter is not None
    # Not prompts: the local /mcp command, its caveat and stdout, "[Request interrupted by user]".
    assert spotter.prompt == "start phoenix in background"
    assert len(spotter.followups) == 1 and spotter.followups[0].startswith("scrolling back in xterm.js")
    sniffly = summarize("k", [parse(SNIFFLY)], str(SNIFFLY))
    assert sniffly is not None
    # /init calls the model (it writes CLAUDE.md): it is the first prompt, and a docs intent.
    assert sniffly.prompt == "/init" and sniffly.intent == "docs"
    assert sniffly.followups[0] == "ok, now write the program using the instruction in README.md"
    assert len(sniffly.followups) == 5


def test_subagent_file_is_attached_to_its_parent(tmp_path: Path) -> None:
    with HistoryIndex(tmp_path / "store.db") as index:
        index.import_paths([CLAUDE / "-tmp-private"])
        files = {Path(r["path"]).name: r for r in index.file_rows()}
        rows = index.sessions()
        features = index.features("claude-code/4c2ddfdc-b619-4525-8d03-1950fb1b0257")
    agent = files["agent-36541525.jsonl"]
    assert agent["role"] == "subagent"
    assert agent["session_key"] == "claude-code/4c2ddfdc-b619-4525-8d03-1950fb1b0257"
    # One session, not two: the Warmup sidechain is no session of its own.
    assert [r.key for r in rows] == ["claude-code/4c2ddfdc-b619-4525-8d03-1950fb1b0257"]
    assert features["subagents"] == 1
    # Its one API call (3, 3, 16976, 0) counts towards the session:
    # input 33+3 = 36, output 806+3 = 809, cache_create 37172+16976 = 54148, cache_read 214627+0 = 214627
    assert features["tokens"] == {"input": 36, "output": 809, "cache_read": 214627, "cache_create": 54148,
                                  "total": 36 + 809 + 214627 + 54148}
    assert features["calls"] == 8
    assert features["prompt"] == "create hello.py, md and js"
    assert features["followups"] == ["update py with one liner comment", "delete js"]
    assert features["files_touched"] == ["hello.py", "hello.md", "hello.js"]
    assert features["tools"] == {"Bash": 1, "Edit": 1, "Read": 1, "Write": 3}
    assert features["model"] == "claude-sonnet-4-5-20250929"


def test_estimated_cost_uses_the_price_map_and_1h_cache_price() -> None:
    state = parse(SPOTTER)
    f = summarize("k", [state], str(SPOTTER))
    assert f is not None and f.cost_estimated
    price = model_price("claude-opus-4-6")
    assert price is not None
    expected = 54 * price["input"] + 212 * price["output"] + 88231 * price["cache_read"] \
        + 17696 * price["cache_create_1h"]
    assert f.cost_usd == pytest.approx(expected, abs=1e-6)


def test_cost_usd_field_is_used_when_present_and_unknown_price_is_none(tmp_path: Path) -> None:
    t = ClaudeTranscript("aaaaaaaa-0000-4000-8000-000000000001", "/nowhere", SESSION_START)
    t.user("hello")
    t.say("hi", usage=(10, 20, 0, 0))
    t.say("again", usage=(1, 2, 0, 0))
    t.lines[1]["costUSD"] = 0.25
    t.lines[2]["costUSD"] = 0.5
    state = parse(t.save(tmp_path / "a.jsonl"))
    f = summarize("k", [state], "a")
    assert f is not None and f.cost_usd == 0.75 and not f.cost_estimated
    u = ClaudeTranscript("aaaaaaaa-0000-4000-8000-000000000002", "/nowhere", SESSION_START, model="some-new-model")
    u.user("hello").say("hi")
    g = summarize("k", [parse(u.save(tmp_path / "b.jsonl"))], "b")
    assert g is not None and g.cost_usd is None  # unknown, never a silent $0


def test_duplicate_uuids_sidechain_replays_and_compaction(tmp_path: Path) -> None:
    t = ClaudeTranscript("aaaaaaaa-0000-4000-8000-000000000003", "/nowhere", SESSION_START)
    t.user("first prompt")
    t.say("answer", usage=(5, 50, 0, 100))
    t.lines.append(dict(t.lines[-1]))  # the same line again (same uuid): counted once
    boundary = {"type": "system", "subtype": "compact_boundary", "parentUuid": None,
                "content": "Conversation compacted"}
    t.lines.append(boundary)
    t.user("This session is being continued from a previous conversation that ran out of context. Summary: …")
    t.lines[-1]["isCompactSummary"] = True
    t.user("<system-reminder>injected</system-reminder>")
    t.user("second prompt")
    state = parse(t.save(tmp_path / "c.jsonl"))
    assert state.duplicates == 1
    f = summarize("k", [state], "c")
    assert f is not None
    assert f.tokens == Tokens(5, 50, 100, 0)
    assert (f.prompt, f.followups) == ("first prompt", ("second prompt",))


def test_trunk_copy_wins_over_a_sidechain_replay_of_the_same_message() -> None:
    trunk = ParserState(role="trunk", format="claude-code", session_id="s", first_ts="1", last_ts="2",
                        groups={"msg_1": [5, 40, 0, 0, 1000, "m", 0, None, "1"]}, prompts=[["1", "p"]], cwd="/x")
    side = dataclasses.replace(trunk, role="subagent", prompts=[], groups={
        "msg_1": [5, 45, 0, 0, 1000, "m", 1, None, "1"], "msg_2": [1, 1, 0, 0, 0, "m", 1, None, "2"]})
    f = summarize("k", [side, trunk], "t")
    assert f is not None
    assert f.tokens == Tokens(5 + 1, 40 + 1, 1000, 0)
    assert f.subagents == 1


@pytest.mark.parametrize("text, expected", [
    ("fix the bug", "fix the bug"),
    ("<command-message>init is analyzing…</command-message>\n<command-name>/init</command-name>", "/init"),
    ("<command-name>/review</command-name><command-args>PR 12</command-args>", "/review PR 12"),
    ("<command-name>/mcp</command-name>", None),
    ("<local-command-stdout>Reconnected</local-command-stdout>", None),
    ("[Request interrupted by user]", None),
    ("<bash-input>ls</bash-input>", None),
    ("  ", None),
    ("<ide_opened_file>a.py</ide_opened_file> explain this", "explain this"),
])
def test_prompt_text(text: str, expected: str | None) -> None:
    assert prompt_text(text) == expected


def test_read_content_both_arrow_forms() -> None:
    assert read_content("     1→a\n     2→  b\n\n<system-reminder>x</system-reminder>") == "a\n  b\n"
    assert read_content("     1\t# ai-music\n     2\t") == "# ai-music\n\n"


def test_fixture_lines_are_compact_json() -> None:
    # The parser relies on nothing but JSON; this guards the copies against reformatting.
    for path in (PRIVATE, WARMUP, SNIFFLY, SPOTTER):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert isinstance(json.loads(line), dict)

"""Sample manifests (--sample-manifest): written on first use, reused afterwards, validated with named fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sampling.manifest import ManifestError, build_manifest, read_manifest, write_manifest

from .transcript_builders import PROMPTS, history_of

BASE = ("--modelbench", "-p", "no:cacheprovider", "--co", "-q")


def _items(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith(("claude-code/", "demo/"))]


def _session(sid: str, intent: str = "fix-bug", model: str | None = None) -> Session:
    return Session(id=sid, source="src", intent=intent, prompt="p", workspace=FileSet(files=(("a.py", sid),)),
                   check=CheckSpec(), gold=GoldSpec(delete=("a.py",)), original=Original(model=model))


def test_round_trip(tmp_path: Path) -> None:
    sessions = [_session("a"), _session("b", "docs", "gpt")]
    manifest = build_manifest(sessions, 7, 2, ["src"], {"src": {"docs × small × gpt": 1, "fix-bug × small": 1}})
    path = tmp_path / "sub" / "m.json"
    write_manifest(path, manifest)
    again = read_manifest(path)
    assert again == manifest
    assert again.keys == ["src/a", "src/b"]
    assert again.entries[1].stratum == ("docs", "small", "gpt")
    assert again.entries[0].content_hash == sessions[0].content_hash()
    assert again.digest() == manifest.digest()


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON sample manifest"),
    ("[]", "expected a JSON object"),
    ('{"manifest_version": 2, "sessions": []}', "field 'manifest_version': expected 1, got 2"),
    ('{"manifest_version": 1}', "field 'sessions': required field is missing"),
    ('{"manifest_version": 1, "sessions": {}}', "field 'sessions': expected array, got dict"),
    ('{"manifest_version": 1, "seed": "x", "sessions": []}', "field 'seed': expected integer, got str"),
    ('{"manifest_version": 1, "sessions": [{"key": "a"}]}',
     "field 'sessions[0].key': expected '<source>/<session id>', got 'a'"),
    ('{"manifest_version": 1, "sessions": [{"key": "src/a"}, {"key": 3}]}', "field 'sessions[1].key'"),
    ('{"manifest_version": 1, "sessions": [{"key": "src/a"}, {"key": "src/a"}]}', "'src/a' is listed twice"),
    ('{"manifest_version": 1, "sessions": [{"key": "src/a", "stratum": "x"}]}', "field 'sessions[0].stratum'"),
])
def test_bad_manifests_name_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_manifest_is_written_then_reused_whatever_the_seed(pytester: pytest.Pytester) -> None:
    history_of(pytester.path / "history", 14, PROMPTS)
    args = (*BASE, "--sessions", "history", "--sample-manifest", "m.json")
    first = pytester.runpytest_subprocess(*args, "--sample-seed", "1")
    assert first.ret == 0, first.stdout.str() + first.stderr.str()
    items = _items(first)
    assert len(items) == 20  # 10 sessions (the transcript default) x the two reference candidates
    manifest = json.loads((pytester.path / "m.json").read_text())
    assert [e["key"] for e in manifest["sessions"]] == sorted({i.split("[")[0] for i in items})
    assert manifest["seed"] == 1 and all(e["content_hash"] and e["stratum"] for e in manifest["sessions"])
    reused = pytester.runpytest_subprocess(*args, "--sample-seed", "2", "--sample-size", "3")
    assert _items(reused) == items
    fresh = pytester.runpytest_subprocess(*BASE, "--sessions", "history", "--sample-seed", "2")
    assert _items(fresh) != items
    # Reuse under xdist: every worker reads the same manifest.
    parallel = pytester.runpytest_subprocess(*args, "-n", "2")
    assert parallel.ret == 0


def test_a_missing_session_or_a_broken_manifest_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "m.json").write_text(json.dumps({"manifest_version": 1, "sessions": [
        {"key": "demo/fix-bug-slugify-unicode"}, {"key": "demo/no-such-session"}]}))
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "demo", "--sample-manifest", "m.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (f"{pytester.path / 'm.json'}: field 'sessions[1].key': demo/no-such-session is not provided by "
            "--sessions demo") in result.stderr.str()
    (pytester.path / "m.json").write_text("{")
    broken = pytester.runpytest_subprocess(*BASE, "--sessions", "demo", "--sample-manifest", "m.json")
    assert broken.ret == pytest.ExitCode.USAGE_ERROR
    assert "m.json: not a JSON sample manifest" in broken.stderr.str()


def test_manifest_with_case_files_and_a_changed_session_warns(pytester: pytest.Pytester) -> None:
    first = pytester.runpytest_subprocess(*BASE, "--sessions", "demo", "--sample-size", "3",
                                          "--sample-manifest", "m.json")
    assert len(_items(first)) == 6
    data = json.loads((pytester.path / "m.json").read_text())
    data["sessions"][0]["content_hash"] = "0" * 16
    (pytester.path / "m.json").write_text(json.dumps(data))
    again = pytester.runpytest_subprocess(*BASE, "--sessions", "demo", "--sample-manifest", "m.json")
    assert _items(again) == _items(first)
    assert "1 session(s) changed since the manifest was written" in again.stdout.str()

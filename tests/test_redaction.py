"""Redaction (models/redact.py): secrets found by the shape of their value, never by a variable's name alone.

* precision: every text file of this repository and the code of real public sessions comes out unchanged;
* recall: one case per shape, consistent placeholders, idempotent;
* what a replay is built from is kept as the session saw it, while what leaves the machine is redacted (end to end).

The fake secrets are assembled at run time (prefix + random body), so this repository holds no secret-shaped literal
and the precision test needs no exclusion.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.models.redact import REDACTED, find_secrets, placeholder, redact, redact_obj
from pytest_modelbench.sources.transcripts.index import HistoryIndex
from pytest_modelbench.sources.transcripts.rebuild import build_session
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts
from .transcript_builders import SESSION_START, ClaudeTranscript, git

ROOT = Path(__file__).resolve().parents[1]
REAL_SESSIONS = ROOT.parent / "shared" / "fixtures" / "real-sessions"
_RNG = random.Random(20261201)
ALNUM = string.ascii_letters + string.digits


def body(n: int, alphabet: str = ALNUM) -> str:
    """A random key body that always mixes a digit, a lower and an upper case letter (as real keys do)."""
    return "a7Q" + "".join(_RNG.choice(alphabet) for _ in range(n - 3))


def b64(n_bytes: int) -> str:
    return base64.b64encode(bytes(_RNG.randrange(256) for _ in range(n_bytes))).decode()


def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# -- precision --------------------------------------------------------------------------------------------------

TEXT_SUFFIXES = {".py", ".js", ".ts", ".md", ".txt", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".cfg", ".ini",
                 ".sh", ".html", ".css", ".csv", ".rst"}


def _repository_text_files() -> list[Path]:
    out = []
    for top in ("pytest_modelbench", "tests", "bench", "docs", "conftest_examples", "rubrics"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                out.append(path)
    out += [p for p in (ROOT / "pyproject.toml", ROOT / "tox.ini") if p.is_file()]
    return out


def test_every_text_file_of_the_repository_comes_out_unchanged() -> None:
    files = _repository_text_files()
    assert len(files) > 100 and any("demo_data" in p.parts for p in files)
    changed = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        out = redact(text)
        if out != text:
            lines = [a for a, b in zip(text.splitlines(), out.splitlines(), strict=False) if a != b]
            changed.append(f"{path.relative_to(ROOT)}: {lines[:2]}")
    assert changed == []


@pytest.mark.parametrize("line", [
    "thread_key = tool_use_id",
    "const STORAGE_KEY = 'todos'",
    "      _csrf_token: csrfToken,",
    "'mean_std_per_token': np.mean([np.std(emb) for emb in embeddings])",
    "MAX_TOKENS = 4096",
    "api_key = os.environ['OPENAI_API_KEY']",
    "password=form.password_confirm",
    "headers = {'Authorization': f'Bearer {token}'}",
    "url = f'postgres://{user}:{password}@{host}/db'",
    "token_count: 12345678",
    'KEY_FILE = "secrets/prod-key.pem"',
    "API_KEY_HEADER = 'X-Api-Key'",
    "return self.token_cache[session_key]",
    'print(f"tokens per second: {tokens / elapsed:.1f}")',
])
def test_code_with_secret_looking_names_is_code(line: str) -> None:
    assert redact(line) == line
    assert find_secrets(line) == []


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


@pytest.mark.skipif(not REAL_SESSIONS.is_dir(), reason="../shared/fixtures/real-sessions is not here (a user clone)")
def test_real_public_sessions_come_out_unchanged() -> None:
    seen = {"STORAGE_KEY = 'todos'": False, "_csrf_token: csrfToken": False, "'mean_std_per_token': np.mean": False}
    changed = []
    for path in sorted(REAL_SESSIONS.rglob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            for text in _strings(obj):
                for needle in seen:
                    seen[needle] = seen[needle] or needle in text
                if redact(text) != text:
                    changed.append(f"{path.name}:{n}: {find_secrets(text)[:2]}")
            if redact_obj(obj) != obj:
                changed.append(f"{path.name}:{n}: redact_obj")
    assert all(seen.values()), seen  # the lines the issue names are really in what was checked
    assert changed == []


# -- recall -----------------------------------------------------------------------------------------------------


def _pem() -> str:
    lines = "\n".join(b64(48) for _ in range(6))
    return "-----BEGIN " + "RSA PRIVATE KEY-----\n" + lines + "\n-----END " + "RSA PRIVATE KEY-----"


def _jwt() -> str:
    return ".".join((b64url({"alg": "HS256", "typ": "JWT"}), b64url({"sub": "1234567890", "name": "x", "iat": 1}),
                     body(43, ALNUM + "-_")))


# (kind, text around the secret with {s} where it stands, the secret)
RECALL = [
    ("openai", "use {s} please", "sk-" + "proj-" + body(48, ALNUM + "_-")),
    ("openai", "OPENAI_API_KEY={s}", "sk-" + body(48)),
    ("anthropic", "export ANTHROPIC_API_KEY={s}", "sk-" + "ant-api03-" + body(93, ALNUM + "_-") + "AA"),
    ("stripe", "stripe.api_key = '{s}'", "sk_" + "live_" + body(24)),
    ("stripe", "restricted {s} key", "rk_" + "live_" + body(24)),
    ("stripe", "test mode {s}", "sk_" + "test_" + body(24)),
    ("stripe", "STRIPE_WEBHOOK={s}", "whsec_" + body(32)),
    ("github", "git clone https://{s}@github.com/o/r", "ghp_" + body(36)),
    ("github", "oauth {s}", "gho_" + body(36)),
    ("github", "app token {s}", "ghs_" + body(36)),
    ("github", "GH_TOKEN={s}", "github_" + "pat_" + body(22) + "_" + body(59)),
    ("gitlab", "PRIVATE-TOKEN: {s}", "glpat-" + body(20, ALNUM + "_-")),
    ("npm", "//registry.npmjs.org/:_authToken={s}", "npm_" + body(36)),
    ("sendgrid", "SENDGRID_API_KEY={s}", "SG." + body(22, ALNUM + "_-") + "." + body(43, ALNUM + "_-")),
    ("pypi", "password = {s}", "pypi-" + "AgEIcHlwaS5vcmc" + body(60, ALNUM + "_-")),
    ("slack", "bot {s} here", "xoxb-" + "1234567890" + "12-" + "2345678901" + "23-" + body(24)),
    ("slack", "user {s} here", "xoxp-" + "1234567890" + "12-" + body(30)),
    ("slack", "hook https://{s}", "hooks.slack.com/services/T" + body(8).upper() + "/B" + body(10).upper() + "/"
     + body(24)),
    ("aws", "aws_access_key_id = {s}", "AKIA" + "".join(_RNG.choice(string.ascii_uppercase + "234567")
                                                        for _ in range(16))),
    ("google", "key={s}&q=x", "AIza" + body(35, ALNUM + "_-")),
    ("huggingface", "HF_TOKEN={s}", "hf_" + body(34)),
    ("jwt", "Cookie: session={s}", _jwt()),
    ("private-key", "key:\n{s}\nend", _pem()),
    ("url-password", "DATABASE_URL=postgres://app:{s}@db.internal:5432/prod", "pw-" + body(16)),
    ("url-password", "redis://default:{s}@cache:6379", "hunter" + "2" + "hunter" + "2"),
    ("azure", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=core.windows.net",
     b64(64)),
    ("password", "Server=tcp:db;Database=app;User Id=sa;Password={s};", "Winter" + "2024" + "!"),
    ("password", "DB_PASSWORD: {s}", "hunter" + "2" + "hunter" + "2"),
    ("password", '{{"db_password": "{s}"}}', "Tr0ub4dor" + "&3"),
    ("secret", "export MY_SERVICE_TOKEN='{s}'", "tok-" + body(20)),
    ("secret", '{{"client_secret": "{s}"}}', "abcd" + "1234"),
    ("secret", "SECRET_KEY = '{s}'", "django-insecure-" + "q8#k2!zp$0l@x9" + body(10)),
    ("secret", "in my .env: API_TOKEN={s} (do not share)", body(32)),
    ("bearer", "Authorization: Bearer {s}", body(40, ALNUM + "._-")),
    ("basic-auth", "Authorization: Basic {s}", base64.b64encode(b"admin:" + body(12).encode()).decode()),
]


@pytest.mark.parametrize(("kind", "around", "secret"), RECALL, ids=[f"{k}-{i}" for i, (k, _a, _s) in enumerate(RECALL)])
def test_each_shape_is_found_and_replaced(kind: str, around: str, secret: str) -> None:
    text = around.format(s=secret)
    out = redact(text)
    assert secret not in out
    assert placeholder(kind, secret) in out, out
    before, after = around.split("{s}")
    assert out.startswith(before.replace("{{", "{")) and out.endswith(after.replace("}}", "}"))  # the rest is kept
    assert redact(out) == out  # idempotent


def test_aws_secret_key_beside_its_key_id() -> None:
    key_id = "AKIA" + "".join(_RNG.choice(string.ascii_uppercase + "234567") for _ in range(16))
    secret = body(40, ALNUM + "/+")
    out = redact(f"User,Access key ID,Secret access key\nci,{key_id},{secret}\n")
    assert key_id not in out and secret not in out
    assert out.startswith("User,Access key ID,Secret access key\nci,[REDACTED:aws:")


def test_same_secret_same_placeholder_everywhere() -> None:
    pw = "hunter" + "7" + "hunter" + "7"
    stripe = "sk_" + "live_" + body(24)
    prompt = f"DB_PASSWORD={pw} and {stripe}"
    reply = f"I used {pw} to log in; the key {stripe} works"
    out = redact_obj({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]})
    text = json.dumps(out)
    assert pw not in text and stripe not in text
    assert text.count(placeholder("password", pw)) == 2 and text.count(placeholder("stripe", stripe)) == 2
    other = "sk_" + "live_" + body(24)
    assert placeholder("stripe", other) != placeholder("stripe", stripe)
    assert redact(prompt) == redact(prompt)
    assert all(p.startswith(REDACTED) for p in (placeholder("stripe", stripe), placeholder("password", pw)))


def test_placeholders_and_templates_are_not_secrets() -> None:
    for text in ("OPENAI_API_KEY=your-api-key-here", "export API_TOKEN=${API_TOKEN}", "DB_PASSWORD=changeme",
                 "SECRET_KEY=<your secret>", "password: '{{ vault_password }}'", "postgres://user:***@host/db",
                 "TOKEN=$(cat ~/.token)"):
        assert redact(text) == text, text


# -- kept locally, redacted where it leaves ---------------------------------------------------------------------

CONFIG = (
    '"""Settings: the names look secret, the values are code."""\n'
    "import os\n\n"
    "STORAGE_KEY = 'todos'\n"
    "MAX_TOKENS = 4096\n"
    "API_KEY_HEADER = 'X-Api-Key'\n\n\n"
    "def api_key():\n"
    "    return os.environ.get('SERVICE_API_KEY', '')\n\n\n"
    "def token_stats(embeddings):\n"
    "    return {'mean_std_per_token': sum(len(e) for e in embeddings) / max(len(embeddings), 1)}\n\n\n"
    "def thread_of(tool_use_id):\n"
    "    thread_key = tool_use_id\n"
    "    return {'_csrf_token': thread_key, 'secret_name': STORAGE_KEY}\n"
)
BUGGY = ("from config import MAX_TOKENS\n\n\ndef add(a, b):\n    return a - b\n\n\n"
         "def budget():\n    return MAX_TOKENS\n")
FIXED = BUGGY.replace("return a - b", "return a + b")
STORE_JS = "const STORAGE_KEY = 'todos';\nexport const save = (csrfToken) => ({ _csrf_token: csrfToken });\n"
CHECK = ("from calc import add, budget\nfrom config import STORAGE_KEY, thread_of, token_stats\n\n\n"
         "def test_add():\n    assert add(2, 3) == 5\n\n\n"
         "def test_settings_are_code():\n    assert STORAGE_KEY == 'todos' and budget() == 4096\n"
         "    assert thread_of('toolu_1')['_csrf_token'] == 'toolu_1'\n"
         "    assert token_stats([[1, 2], [3]])['mean_std_per_token'] == 1.5\n")
SID = "5ec12e75-0000-4000-8000-00000000c0de"


def _pasted() -> dict[str, str]:
    return {"openai": "sk-" + "proj-" + body(48), "stripe": "sk_" + "live_" + body(24),
            "github": "ghp_" + body(36), "url-password": "pg-" + body(18), "password": "Sunset" + "99" + "Lake",
            "secret": "tok-" + body(24)}


def _secret_session(repo: Path, pasted: dict[str, str]) -> ClaudeTranscript:
    (repo / "tests").mkdir(parents=True)
    (repo / "config.py").write_text(CONFIG)
    (repo / "calc.py").write_text(BUGGY)
    (repo / "store.js").write_text(STORE_JS)
    (repo / "tests" / "test_calc.py").write_text(CHECK)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    t = ClaudeTranscript(SID, str(repo), SESSION_START)
    t.user(f"add() returns the wrong result and test_add fails. Creds if you need them: OPENAI_API_KEY="
           f"{pasted['openai']} and {pasted['stripe']}, git token {pasted['github']}, "
           f"DATABASE_URL=postgres://app:{pasted['url-password']}@db.internal/app, DB_PASSWORD={pasted['password']}")
    t.read("config.py", CONFIG).read("calc.py", BUGGY).read("tests/test_calc.py", CHECK)
    t.bash(f"SERVICE_TOKEN={pasted['secret']} python -m pytest -q", "F.\n1 failed, 1 passed", exit_code=1)
    t.edit("calc.py", "return a - b", "return a + b", BUGGY)
    t.bash(f"SERVICE_TOKEN={pasted['secret']} python -m pytest -q", "..\n2 passed")
    t.say("Fixed: add() adds.")
    return t


def test_the_replay_is_built_from_the_code_as_written(tmp_path: Path) -> None:
    pasted = _pasted()
    repo = tmp_path / "repo"
    _secret_session(repo, pasted).save(tmp_path / "h" / "p" / f"{SID}.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([tmp_path / "h"])
        (row,) = index.sessions()
        session = build_session(index, row, None, tmp_path / "workspaces")
    assert dict(session.gold.files.files) == {"calc.py": FIXED}
    assert session.workspace.directory is not None
    assert (session.workspace.directory / "config.py").read_text() == CONFIG
    assert (session.workspace.directory / "store.js").read_text() == STORE_JS
    for value in pasted.values():
        assert value not in session.prompt
    assert "OPENAI_API_KEY=[REDACTED:openai:" in session.prompt and "postgres://app:[REDACTED:" in session.prompt


def test_a_secret_inside_the_code_stays_in_the_replay_and_is_redacted_in_what_is_shared(tmp_path: Path) -> None:
    key = "sk_" + "live_" + body(24)
    settings = f"STRIPE_KEY = '{key}'\n\n\ndef charge():\n    return STRIPE_KEY\n"
    t = ClaudeTranscript(SID, "/nonexistent/shop", SESSION_START)
    t.user("charge() should return the key").read("settings.py", settings)
    t.edit("settings.py", "return STRIPE_KEY", "return STRIPE_KEY.strip()", settings)
    t.bash("python -m pytest -q", "1 passed")
    t.save(tmp_path / "h" / "p" / f"{SID}.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([tmp_path / "h"])
        (row,) = index.sessions()
        session = build_session(index, row, None, tmp_path / "workspaces")
    assert dict(session.workspace.files)["settings.py"] == settings  # byte for byte: the check runs on it
    assert key in dict(session.gold.files.files)["settings.py"]
    shared = redact_obj({"files": dict(session.gold.files.files)})
    assert key not in json.dumps(shared) and placeholder("stripe", key) in shared["files"]["settings.py"]


@pytest.fixture
def shared_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One digest key for this process and the run it starts (pytester gives the run another HOME, so another
    key file): the placeholders this test computes are then the ones the run writes."""
    from pytest_modelbench.models import redact as redaction

    monkeypatch.setenv(redaction.KEY_ENV, "e2e-" + body(16))
    redaction._digest_key.cache_clear()
    yield
    redaction._digest_key.cache_clear()


@pytest.mark.slow
@pytest.mark.usefixtures("shared_key")
def test_end_to_end_nothing_secret_leaves_and_the_code_is_untouched(pytester: pytest.Pytester) -> None:
    pasted = _pasted()
    repo = pytester.path / "repo"
    _secret_session(repo, pasted).save(pytester.path / "projects" / "-repo" / f"{SID}.jsonl")
    with FakeOpenAI(lifetime=600) as server:
        server.teach("add() returns the wrong result", {"calc.py": FIXED})
        pytester.makeini(f"[pytest]\nmodelbench_model_settings =\n    openai/solver api_base={server.base_url} "
                         "cloud=true\n")
        result = pytester.runpytest_subprocess(
            "--modelbench", "-p", "no:cacheprovider", "--sessions", "projects", "--runner", "local",
            "--models", "replay/gold,replay/noop,openai/solver", "--allow-cloud", "--budget-cap-usd", "5",
            "--price", "openai/solver=1,2", "--replay-mode", "zero-shot", "--modelbench-html", "report.html")
        requests = list(server.requests)
    assert result.ret == 0, result.stdout.str()[-3000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    solved = {o["model"]: o["solved"] for o in artifact["outcomes"]}
    assert solved == {"replay/gold": True, "replay/noop": False, "openai/solver": True}
    assert requests, "the cloud model was not called"
    # The start the candidates got is the repository's code, byte for byte.
    (workspace,) = (pytester.path / ".modelbench" / "workspaces").iterdir()
    assert (workspace / "config.py").read_text() == CONFIG and (workspace / "store.js").read_text() == STORE_JS

    store = pytester.path / ".modelbench" / "modelbench.db"
    exports = {}
    for fmt in ("csv", "md", "json"):
        out = pytester.path / f"export.{fmt}"
        assert main(["export", "latest", "--format", fmt, "--store", str(store), "-o", str(out)]) == 0
        exports[fmt] = out.read_text()
    assert main(["report", "latest", "--store", str(store), "-o", str(pytester.path / "cli-report.html")]) == 0

    shared = {"requests": json.dumps(requests), "artifact": json.dumps(artifact),
              "html": (pytester.path / "report.html").read_text(),
              "cli-html": (pytester.path / "cli-report.html").read_text(), **exports}
    files = [p for p in (pytester.path / ".modelbench").rglob("*") if p.is_file()]
    for value in pasted.values():
        for name, text in shared.items():
            assert value not in text, (name, value)
        for path in files:
            assert value.encode() not in path.read_bytes(), (path, value)
    # What was sent and shared still says where a secret was, with the same placeholder everywhere.
    mark = placeholder("openai", pasted["openai"])
    assert mark in shared["requests"] and mark in shared["artifact"]
    assert "STORAGE_KEY = 'todos'" in shared["requests"]  # the code the cloud model saw is the code as written


def test_placeholders_agree_across_processes_and_follow_the_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = "from pytest_modelbench.models.redact import placeholder; print(placeholder('stripe', 'abc'))"

    def run(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "MODELBENCH_REDACTION_KEY"}
        return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                              check=True).stdout.strip()

    first, second = run(XDG_CACHE_HOME=str(tmp_path)), run(XDG_CACHE_HOME=str(tmp_path))
    assert first == second and first.startswith("[REDACTED:stripe:")
    key = tmp_path / "pytest-modelbench" / "redaction-key"
    assert key.stat().st_mode & 0o077 == 0  # only the user reads the key
    assert run(XDG_CACHE_HOME=str(tmp_path / "other")) != first  # another machine, another key
    assert run(XDG_CACHE_HOME=str(tmp_path), MODELBENCH_REDACTION_KEY="shared") == \
        run(XDG_CACHE_HOME=str(tmp_path / "other"), MODELBENCH_REDACTION_KEY="shared")

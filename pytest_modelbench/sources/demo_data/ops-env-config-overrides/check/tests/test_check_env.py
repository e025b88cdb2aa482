import json
import os

import pytest

from svc import ConfigError, load_config
from svc.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SVC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "svc.json"
    path.write_text('{"port": 9000, "host": "0.0.0.0"}')
    return path


def test_defaults_and_file(config_file):
    assert load_config()["workers"] == 2
    assert load_config(config_file)["port"] == 9000


def test_env_overrides_file_with_int_coercion(monkeypatch, config_file):
    monkeypatch.setenv("SVC_PORT", "7000")
    monkeypatch.setenv("SVC_WORKERS", "8")
    config = load_config(config_file)
    assert (config["port"], config["workers"], config["host"]) == (7000, 8, "0.0.0.0")


@pytest.mark.parametrize(("raw", "expected"), [("YES", True), ("1", True), ("false", False), ("No", False)])
def test_bool_coercion(monkeypatch, tmp_path, raw, expected):
    path = tmp_path / "svc.json"
    path.write_text(json.dumps({"debug": not expected}))
    monkeypatch.setenv("SVC_DEBUG", raw)
    assert load_config(path)["debug"] is expected


def test_invalid_value_names_variable(monkeypatch):
    monkeypatch.setenv("SVC_PORT", "abc")
    with pytest.raises(ConfigError, match="SVC_PORT"):
        load_config()


def test_unknown_env_vars_ignored(monkeypatch):
    monkeypatch.setenv("SVC_TOKEN", "secret")
    assert "token" not in load_config()


def test_cli_reports_env_override(monkeypatch, capsys, config_file):
    monkeypatch.setenv("SVC_HOST", "db.internal")
    assert main(["--config", str(config_file)]) == 0
    assert json.loads(capsys.readouterr().out)["host"] == "db.internal"

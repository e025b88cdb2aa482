import pytest

from svc import ConfigError, load_config


def test_file_overrides_defaults(tmp_path):
    path = tmp_path / "svc.json"
    path.write_text('{"port": 9000}')
    assert load_config(path)["port"] == 9000


def test_unknown_file_key(tmp_path):
    path = tmp_path / "svc.json"
    path.write_text('{"colour": "red"}')
    with pytest.raises(ConfigError):
        load_config(path)

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safe_pip.errors import UsageError
from safe_pip.resolve.pipconfig import (
    config_files,
    load_pip_config,
    normalize_key,
    pip_config_origins,
)


class TestNormalizeKey:
    def test_lowercases_and_dashes(self) -> None:
        assert normalize_key("--Extra_Index_URL") == "extra-index-url"


class TestConfigFiles:
    def test_devnull_disables_every_file(self, tmp_path: Path) -> None:
        assert config_files({"PIP_CONFIG_FILE": os.devnull}, tmp_path) == []

    def test_order_is_global_user_site_then_env_file(self, tmp_path: Path) -> None:
        env_file = tmp_path / "env.conf"
        files = config_files(
            {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": "/xdg", "PIP_CONFIG_FILE": str(env_file)},
            tmp_path / "venv",
        )
        assert files[0] == Path("/xdg/pip/pip.conf")
        assert files[-2:] == [tmp_path / "venv" / "pip.conf", env_file]
        assert tmp_path / ".pip" / "pip.conf" in files

    def test_an_existing_env_file_replaces_the_user_files(self, tmp_path: Path) -> None:
        env_file = tmp_path / "env.conf"
        env_file.write_text("")
        files = config_files({"HOME": str(tmp_path), "PIP_CONFIG_FILE": str(env_file)}, None)
        assert tmp_path / ".pip" / "pip.conf" not in files

    def test_isolated_skips_user_files(self, tmp_path: Path) -> None:
        files = config_files({"HOME": str(tmp_path)}, None, isolated=True)
        assert tmp_path / ".pip" / "pip.conf" not in files


class TestLoadPipConfig:
    def _environ(self, tmp_path: Path, **extra: str) -> dict[str, str]:
        return {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none"), **extra}

    def test_command_section_beats_global_of_any_file(self, tmp_path: Path) -> None:
        user = tmp_path / ".config" / "pip"
        user.mkdir(parents=True)
        (user / "pip.conf").write_text("[global]\nindex-url = https://user.example/simple\n")
        site = tmp_path / "venv"
        site.mkdir()
        (site / "pip.conf").write_text("[install]\nindex_url = https://site.example/simple\n")
        config = load_pip_config("install", self._environ(tmp_path), site)
        assert config["index-url"] == "https://site.example/simple"

    def test_environment_variables_win(self, tmp_path: Path) -> None:
        (tmp_path / ".pip").mkdir()
        (tmp_path / ".pip" / "pip.conf").write_text("[global]\ntimeout = 3\n")
        environ = self._environ(tmp_path, PIP_TIMEOUT="9", PIP_NO_INPUT="1")
        config = load_pip_config("install", environ, None)
        assert config["timeout"] == "9"
        assert config["no-input"] == "1"

    def test_isolated_ignores_environment_variables(self, tmp_path: Path) -> None:
        config = load_pip_config(
            "install", self._environ(tmp_path, PIP_TIMEOUT="9"), None, isolated=True
        )
        assert "timeout" not in config

    def test_other_commands_sections_are_ignored(self, tmp_path: Path) -> None:
        env_file = tmp_path / "pip.conf"
        env_file.write_text("[download]\ntimeout = 1\n[install]\nretries = 2\n")
        config = load_pip_config(
            "install", self._environ(tmp_path, PIP_CONFIG_FILE=str(env_file)), None
        )
        assert config["retries"] == "2"
        assert "timeout" not in config

    def test_malformed_file_is_a_usage_error(self, tmp_path: Path) -> None:
        env_file = tmp_path / "pip.conf"
        env_file.write_text("not an ini file\n")
        with pytest.raises(UsageError, match="cannot be parsed"):
            load_pip_config("install", self._environ(tmp_path, PIP_CONFIG_FILE=str(env_file)), None)


class TestOrigins:
    def test_each_option_names_the_file_and_section_or_the_variable(self, tmp_path: Path) -> None:
        conf = tmp_path / "pip.conf"
        conf.write_text(
            "[global]\nindex-url = https://a.example/\nfind-links = /w\n"
            "[install]\nindex-url = https://b.example/\n",
            encoding="utf-8",
        )
        environ = {
            "HOME": str(tmp_path),
            "XDG_CONFIG_DIRS": str(tmp_path / "none"),
            "PIP_CONFIG_FILE": str(conf),
            "PIP_EXTRA_INDEX_URL": "https://c.example/",
        }
        origins = pip_config_origins("install", environ, None)
        assert origins["index-url"] == f"pip configuration file {conf} [install]"
        assert origins["find-links"] == f"pip configuration file {conf} [global]"
        assert origins["extra-index-url"] == "environment variable PIP_EXTRA_INDEX_URL"
        assert load_pip_config("install", environ, None)["index-url"] == "https://b.example/"

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from safe_pip.errors import UsageError
from safe_pip.models import SourceKind
from safe_pip.settings import (
    build_pins,
    build_sources,
    default_home,
    is_unattended,
    load_file_settings,
    release_cutoff,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class TestHome:
    def test_safe_pip_home_wins(self, tmp_path: Path) -> None:
        assert default_home({"SAFE_PIP_HOME": str(tmp_path)}) == tmp_path

    def test_xdg_data_home(self, tmp_path: Path) -> None:
        home = default_home({"HOME": "/h", "XDG_DATA_HOME": str(tmp_path)})
        assert home in (tmp_path / "safe-pip", Path("/h/Library/Application Support/safe-pip"))


class TestUnattended:
    @pytest.mark.parametrize(
        ("no_input", "environ", "tty", "expected"),
        [
            (False, {}, True, False),
            (True, {}, True, True),
            (False, {}, False, True),
            (False, {"CI": "true"}, True, True),
            (False, {"CI": "false"}, True, False),
            (False, {"PIP_NO_INPUT": "1"}, True, True),
        ],
    )
    def test_rules(
        self, no_input: bool, environ: dict[str, str], tty: bool, expected: bool
    ) -> None:
        assert is_unattended(no_input, environ, stdin_tty=tty) is expected


class TestFileSettings:
    def test_layers_merge_lists_and_later_scalars_win(self, tmp_path: Path) -> None:
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.toml").write_text('trust = ["a"]\nmin-release-age = 3\n')
        project = tmp_path / "project" / "sub"
        project.mkdir(parents=True)
        (tmp_path / "project" / "pyproject.toml").write_text(
            '[tool.safe-pip]\ntrust = ["b"]\nmin-release-age = 5\n'
            '[tool.safe-pip.sources]\ncorp = "https://corp/simple"\n'
        )
        settings = load_file_settings(project, home, {"SAFE_PIP_TRUST": "c, d"})
        assert settings.trust == ("a", "b", "c", "d")
        assert settings.min_release_age == 5
        assert settings.sources == {"corp": "https://corp/simple"}
        assert len(settings.files) == 2

    def test_trusted_is_the_same_as_trust(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[tool.safe-pip]\ntrust = ["a"]\ntrusted = ["b", "c"]\n'
        )
        settings = load_file_settings(tmp_path, tmp_path / "h", {"SAFE_PIP_TRUSTED": "d"})
        assert settings.trust == ("a", "b", "c", "d")

    def test_pyproject_without_table_is_skipped(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        (tmp_path.parent / "safe-pip.toml").write_text("")
        assert load_file_settings(tmp_path, tmp_path / "h", {}).trust == ()

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("trusty = ['x']\n", "unknown safe-pip setting"),
            ("trust = 3\n", "list of strings"),
            ("min-release-age = 'soon'\n", "number of days"),
            ("[pins]\nx = 1\n", "table of strings"),
            ("trust = [\n", "cannot be read"),
        ],
    )
    def test_invalid_files_are_usage_errors(
        self, tmp_path: Path, content: str, message: str
    ) -> None:
        (tmp_path / "safe-pip.toml").write_text(content)
        with pytest.raises(UsageError, match=message):
            load_file_settings(tmp_path, tmp_path / "h", {})


class TestReleaseCutoff:
    def test_days(self) -> None:
        assert release_cutoff(7, None, NOW) == NOW - timedelta(days=7)

    def test_the_stricter_of_both_wins(self) -> None:
        assert release_cutoff(7, "P10D", NOW) == NOW - timedelta(days=10)
        assert release_cutoff(7, "2026-05-30T00:00:00+00:00", NOW) == NOW - timedelta(days=7)

    def test_none(self) -> None:
        assert release_cutoff(None, None, NOW) is None
        assert release_cutoff(0, None, NOW) is None

    def test_bad_value(self) -> None:
        with pytest.raises(UsageError, match="uploaded-prior-to"):
            release_cutoff(None, "yesterday", NOW)


class TestSources:
    def test_priority_order_and_credentials(self) -> None:
        sources = build_sources(
            index_url="https://u:pw-secret@main.example/simple",
            extra_index_urls=["https://a.example/simple", "https://b.example/simple"],
            find_links=["/wheels"],
            no_index=False,
            named={"corp": "https://a.example/simple"},
        )
        assert [s.name for s in sources] == [
            "/wheels",
            "corp",
            "https://b.example/simple",
            "https://main.example/simple",
        ]
        assert sources[0].kind is SourceKind.FIND_LINKS
        assert (sources[-1].username, sources[-1].password) == ("u", "pw-secret")
        assert "pw-secret" not in repr(sources[-1]) + str(sources[-1])

    def test_default_index_is_pypi(self) -> None:
        (source,) = build_sources(
            index_url=None, extra_index_urls=[], find_links=[], no_index=False, named={}
        )
        assert source.name == "pypi"

    def test_no_index_keeps_only_find_links(self) -> None:
        sources = build_sources(
            index_url=None,
            extra_index_urls=["https://x/simple"],
            find_links=["/w"],
            no_index=True,
            named={},
        )
        assert [s.kind for s in sources] == [SourceKind.FIND_LINKS]

    def test_pins_must_name_known_sources(self) -> None:
        (pin,) = build_pins({"corp-*": "corp"}, {"corp": "https://corp/simple"})
        assert pin.source.name == "corp"
        with pytest.raises(UsageError, match="no source named"):
            build_pins({"corp-*": "nope"}, {})

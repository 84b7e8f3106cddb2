from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from safe_pip.errors import UsageError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.models import NameSet, SourceKind, SourceMarks
from safe_pip.policy.trust import parse_exemption
from safe_pip.settings.cooldown import cooldown_policy, release_cutoff, split_trust
from safe_pip.settings.files import load_file_settings
from safe_pip.settings.limits import checked_network, parsed_days
from safe_pip.settings.options import default_home, is_unattended
from safe_pip.settings.sources import build_pins, build_sources, source_table
from safe_pip.settings.validation import validated

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


class TestOneLayer:
    """One layer checked on its own, as each file and the variables are before merging."""

    def test_lists_are_split_and_the_sources_table_gives_urls_and_marks(self) -> None:
        values = validated(
            "environment",
            {
                "trust": " a, ,b ",
                "min-release-age": "2",
                "sources": {"corp": {"url": "https://corp/simple", "private": True}},
            },
        )
        assert values["trust"] == ["a", "b"]
        assert values["min-release-age"] == 2.0
        assert values["sources"] == {"corp": "https://corp/simple"}
        assert values["source-marks"] == {"corp": SourceMarks(private=True)}

    def test_an_unknown_key_names_the_layer(self) -> None:
        with pytest.raises(UsageError, match=r"^environment: unknown safe-pip setting"):
            validated("environment", {"trusty": "x"})


class TestSourcesTable:
    def test_urls_and_marks(self) -> None:
        urls, marks = source_table(
            "f",
            {
                "plain": "https://plain/simple",
                "cache": {"url": "file:///srv", "public": True, "mirror-of": "pypi"},
            },
        )
        assert urls == {"plain": "https://plain/simple", "cache": "file:///srv"}
        assert marks == {"cache": SourceMarks(private=False, mirror_of="pypi")}

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ({"private": True}, r"sources\.corp must be a URL.*\(no url\)"),
            ({"url": "u", "privat": True}, r"\(wrong: privat\)"),
            ({"url": "u", "private": "yes"}, r"\(wrong: private\)"),
            ({"url": "u", "private": True, "public": True}, "both private and public"),
        ],
    )
    def test_a_malformed_entry_names_the_file_and_source(
        self, entry: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(UsageError, match=f"^f: .*{message}"):
            source_table("f", {"corp": entry})


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


class TestNumbersOfDays:
    """A number of days that is not one a date can use: refused, naming the setting.
    ``nan`` compares false with every age, which turned the cooldown off without a word;
    ``inf`` and huge values overflowed a date (a traceback)."""

    @pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-1", "36526", '"nan"'])
    @pytest.mark.parametrize("key", ["min-release-age", "advisories-max-age"])
    def test_in_a_settings_file(self, tmp_path: Path, key: str, value: str) -> None:
        (tmp_path / "safe-pip.toml").write_text(f"{key} = {value}\n")
        with pytest.raises(UsageError, match=f"safe-pip.toml: {key} must be a number of days"):
            load_file_settings(tmp_path, tmp_path / "h", {})

    @pytest.mark.parametrize("value", ["nan", "NaN", "inf", "infinity", "1e400", "-0.5"])
    def test_in_a_variable(self, tmp_path: Path, value: str) -> None:
        with pytest.raises(UsageError, match="min-release-age must be a number of days"):
            load_file_settings(tmp_path, tmp_path / "h", {"SAFE_PIP_MIN_RELEASE_AGE": value})

    @pytest.mark.parametrize("value", ["true", "[7]", "{ days = 7 }"])
    def test_other_types(self, tmp_path: Path, value: str) -> None:
        (tmp_path / "safe-pip.toml").write_text(f"min-release-age = {value}\n")
        with pytest.raises(UsageError, match="min-release-age must be a number of days"):
            load_file_settings(tmp_path, tmp_path / "h", {})

    @pytest.mark.parametrize(("value", "days"), [("0", 0.0), ("7", 7.0), ("1.5", 1.5), ('"3"', 3)])
    def test_sane_values_pass(self, tmp_path: Path, value: str, days: float) -> None:
        (tmp_path / "safe-pip.toml").write_text(f"min-release-age = {value}\n")
        assert load_file_settings(tmp_path, tmp_path / "h", {}).min_release_age == days

    @pytest.mark.parametrize(("raw", "days"), [("3", 3.0), (2, 2.0), (0.5, 0.5)])
    def test_parsed_from_text_or_a_number(self, raw: object, days: float) -> None:
        assert parsed_days(raw, "x") == days

    @pytest.mark.parametrize("raw", [True, [1], "soon"])
    def test_parsed_refuses_what_is_not_a_number_showing_it(self, raw: object) -> None:
        with pytest.raises(
            UsageError, match=rf"^x must be a number of days .*, not {re.escape(repr(raw))}$"
        ):
            parsed_days(raw, "x")

    @pytest.mark.parametrize("days", [float("nan"), float("inf"), -1.0, 1e300])
    def test_on_the_command_line(self, days: float) -> None:
        with pytest.raises(UsageError, match="--min-release-age must be a number of days"):
            release_cutoff(days, None, NOW)

    @pytest.mark.parametrize("value", ["P99999999D", "P" + "9" * 5000 + "D"])
    def test_uploaded_prior_to_too_many_days(self, value: str) -> None:
        with pytest.raises(UsageError, match="--uploaded-prior-to must be a number of days"):
            release_cutoff(None, value, NOW)


class TestNetworkNumbers:
    @pytest.mark.parametrize(
        ("timeout", "retries", "message"),
        [
            (float("nan"), 5, "--timeout must be more than 0"),
            (float("inf"), 5, "--timeout must be more than 0"),
            (-1.0, 5, "--timeout must be more than 0"),
            (0.0, 5, "--timeout must be more than 0"),
            (1e10, 5, "--timeout must be more than 0"),
            (15.0, -1, "--retries must be 0 or more"),
        ],
    )
    def test_unusable_values_are_refused_naming_the_option(
        self, timeout: float, retries: int, message: str
    ) -> None:
        """nan, inf or a negative timeout failed deep inside a socket (a traceback)."""
        with pytest.raises(UsageError, match=message):
            checked_network(timeout, retries)

    def test_usable_values_pass(self) -> None:
        assert checked_network(15.0, 5) == (15.0, 5)
        assert checked_network(0.5, 0) == (0.5, 0)


class TestSettingsOfTheWrongShape:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("index-url = 5\n", "index-url must be a string, not int"),
            ("index-url = ['https://x/simple']\n", "index-url must be a string, not list"),
            ("advisories = true\n", "advisories must be a string, not bool"),
        ],
    )
    def test_a_value_of_the_wrong_type_names_the_file_and_key(
        self, tmp_path: Path, content: str, message: str
    ) -> None:
        """Not silently ignored: a setting the user wrote must take effect or fail."""
        (tmp_path / "safe-pip.toml").write_text(content)
        with pytest.raises(UsageError, match=f"safe-pip.toml: {message}"):
            load_file_settings(tmp_path, tmp_path / "h", {})

    def test_a_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        (tmp_path / "safe-pip.toml").write_bytes(b'trust = ["caf\xe9"]\n')
        with pytest.raises(UsageError, match=r"safe-pip\.toml cannot be read: it is not UTF-8"):
            load_file_settings(tmp_path, tmp_path / "h", {})

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ('tool = "safe-pip"\n', "tool must be a table"),
            ("[tool]\nsafe-pip = 5\n", "tool.safe-pip must be a table"),
            ('[tool]\nsafe-pip = ["trust"]\n', "tool.safe-pip must be a table"),
        ],
    )
    def test_a_pyproject_whose_tables_are_not_tables(
        self, tmp_path: Path, content: str, message: str
    ) -> None:
        (tmp_path / "pyproject.toml").write_text(content)
        with pytest.raises(UsageError, match=f"pyproject.toml: {message}"):
            load_file_settings(tmp_path, tmp_path / "h", {})


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


class TestLineBreaksAndNul:
    """No setting holds a line break of any kind, or a NUL: the rest would become a line of
    its own in a file pip reads."""

    @pytest.mark.parametrize(
        ("body", "setting"),
        [
            (
                'index-url = "https://a.example/simple/\\n--extra-index-url=https://evil/"',
                "index-url",
            ),
            ('extra-index-url = ["https://a.example/\\u2028x"]', "extra-index-url"),
            ('trust = ["alpha\\u0085beta"]', "trust"),
            ('allow-sdist = "alpha,\\rbeta"', "allow-sdist"),
            ('sources = { corp = "https://corp.example/\\u000bsimple/" }', "sources.corp"),
            ('pins = { "corp-*\\u001c" = "corp" }', "pins"),
            ('min-release-age = "1\\u0000"', "min-release-age"),
        ],
    )
    def test_in_a_project_file_are_refused_naming_the_file_and_setting(
        self, tmp_path: Path, body: str, setting: str
    ) -> None:
        project = tmp_path / "pyproject.toml"
        project.write_text(f"[tool.safe-pip]\n{body}\n", encoding="utf-8")
        with pytest.raises(UsageError) as caught:
            load_file_settings(tmp_path, tmp_path / "home", {})
        message = str(caught.value)
        assert str(project) in message and f"setting {setting} contains" in message

    def test_in_the_user_file(self, tmp_path: Path) -> None:
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "config.toml").write_text('trust = ["a\\u2029b"]\n')
        with pytest.raises(UsageError, match=r"config\.toml: the setting trust contains"):
            load_file_settings(tmp_path, tmp_path / "home", {})

    @pytest.mark.parametrize("brk", ["\n", "\r", "\x0c", "\x1e", "\u2028", "\x00"])
    def test_in_a_variable_are_refused_naming_it(self, tmp_path: Path, brk: str) -> None:
        with pytest.raises(UsageError, match="SAFE_PIP_EXTRA_INDEX_URL contains"):
            load_file_settings(
                tmp_path, tmp_path, {"SAFE_PIP_EXTRA_INDEX_URL": f"https://a.example/{brk}x"}
            )

    @pytest.mark.parametrize(
        ("where", "url"),
        [
            ("index_url", "https://a.example/simple/\n--pre"),
            ("extra_index_urls", "https://b.example/\u2028"),
            ("find_links", "/srv/wheels\x00"),
        ],
    )
    def test_in_a_source_from_flags_or_pip_configuration(self, where: str, url: str) -> None:
        with pytest.raises(UsageError, match=r"source .* contains"):
            build_sources(
                index_url=url if where == "index_url" else None,
                extra_index_urls=[url] if where == "extra_index_urls" else [],
                find_links=[url] if where == "find_links" else [],
                no_index=False,
                named={},
            )


class TestCooldown:
    """A 7-day cooldown by default (DESIGN invariant 9), exemptions with a reason and an expiry."""

    NOW = datetime(2026, 12, 1, tzinfo=UTC)

    def _policy(self, **overrides: Any) -> FilePolicy:
        fields: dict[str, Any] = {
            "age_flag": None,
            "age_setting": None,
            "uploaded_prior_to": None,
            "hash_locked": False,
            "exemptions": (),
            "now": self.NOW,
        }
        fields.update(overrides)
        return cooldown_policy(NameSet(), **fields)

    def test_seven_days_by_default_zero_turns_it_off_hash_locks_are_exempt(self) -> None:
        default = self._policy()
        assert default.cutoff == self.NOW - timedelta(days=7)
        assert default.min_release_age == 7
        assert self._policy(age_flag=0.0).cutoff is None
        assert self._policy(age_setting=0.0).cutoff is None
        assert self._policy(hash_locked=True).cutoff is None
        locked_but_asked = self._policy(hash_locked=True, age_flag=3.0)
        assert locked_but_asked.cutoff == self.NOW - timedelta(days=3)

    def test_expired_exemptions_are_set_apart(self) -> None:
        live = parse_exemption("a==1", "fix", "2026-12-01", "x")
        dead = parse_exemption("b", "fix", "2026-11-30", "x")
        policy = self._policy(exemptions=(live, dead))
        assert policy.exemptions == (live,)
        assert policy.expired == (dead,)

    def test_trust_name_version_approves_the_name_and_exempts_the_release(self) -> None:
        names, exemptions = split_trust(["a,Num2Words==0.5.15", ":all:"])
        assert names == ["a", "num2words", ":all:"]
        assert [e.label for e in exemptions] == ["num2words==0.5.15"]
        with pytest.raises(UsageError, match="--trust x==nope"):
            split_trust(["x==nope"])

    def test_allow_new_setting_takes_a_reason_and_an_until_date(self, tmp_path: Path) -> None:
        from datetime import date

        (tmp_path / "safe-pip.toml").write_text(
            '[allow-new]\n"num2words==0.5.15" = {reason = "urgent fix", until = 2026-12-31}\n'
            'other = "any version, a reason"\n'
        )
        files = load_file_settings(tmp_path, tmp_path / "home", {})
        first, second = files.allow_new
        assert (first.label, first.until, first.origin) == (
            "num2words==0.5.15",
            date(2026, 12, 31),
            str(tmp_path / "safe-pip.toml"),
        )
        assert (second.label, second.reason) == ("other", "any version, a reason")

    @pytest.mark.parametrize(
        "body",
        ['demo = ""', "demo = {until = 2026-01-01}", 'demo = {reason = "r", by = "me"}', "x = 3"],
    )
    def test_an_allow_new_without_a_reason_is_refused(self, tmp_path: Path, body: str) -> None:
        (tmp_path / "safe-pip.toml").write_text(f"[allow-new]\n{body}\n")
        with pytest.raises(UsageError, match="allow-new"):
            load_file_settings(tmp_path, tmp_path / "home", {})

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pip._internal.commands import create_command

from safe_pip.cli.options import (
    INSTALL_OPTIONS,
    Group,
    config_defaults,
    markdown_tables,
    options_for,
    parse_args,
    resolver_args,
    split_command,
)
from safe_pip.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]

# pip's own options that safe-pip's option table leaves to argparse, and why.
NOT_IN_THE_TABLE = {
    "-h": "argparse's own help (add_help)",
    "--help": "argparse's own help (add_help)",
}


def pip_install_flags() -> set[str]:
    """Every option string of the installed pip's ``install``, long and short, read from
    pip's own parser: its command options, index options and general options."""
    parser = create_command("install").parser
    options = [*parser.option_list]
    for group in parser.option_groups:
        options += group.option_list
    return {flag for option in options for flag in (*option._short_opts, *option._long_opts)}


class TestTable:
    def test_every_pip_install_option_is_accepted(self) -> None:
        flags = {flag for option in options_for("install") for flag in option.flags}
        pip_flags = pip_install_flags()
        assert "--prefer-binary" in pip_flags and "--disable-pip-version-check" in pip_flags
        assert pip_flags - flags - NOT_IN_THE_TABLE.keys() == set()

    def test_the_options_left_out_of_the_table_are_pips_and_still_accepted(self) -> None:
        assert NOT_IN_THE_TABLE.keys() <= pip_install_flags()
        for flag in NOT_IN_THE_TABLE:
            with pytest.raises(SystemExit) as done:
                parse_args("install", [flag])
            assert done.value.code == 0

    def test_readme_tables_match_the_option_table(self) -> None:
        readme = (ROOT / "README.md").read_text()
        assert markdown_tables() in readme, "run: python scripts/options_table.py"
        for option in INSTALL_OPTIONS:
            assert f"`{option.flags[0]}`" in readme, option.flags

    def test_download_takes_no_install_only_option(self) -> None:
        dests = {o.dest for o in options_for("download")}
        assert "target" not in dests and "dest" in dests and "wheel_dir" not in dests


class TestParse:
    def test_requirements_and_options_interleave(self) -> None:
        args = parse_args("install", ["a", "-U", "b", "--index-url", "https://x/simple"])
        assert args.requirements_args == ["a", "b"]
        assert args.upgrade is True
        assert args.index_url == "https://x/simple"

    def test_unknown_option_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="--bogus"):
            parse_args("install", ["--bogus", "x"])

    def test_invalid_choice_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError):
            parse_args("install", ["--progress-bar", "sometimes", "x"])

    def test_config_values_are_defaults_and_appends_accumulate(self) -> None:
        config = {
            "extra-index-url": "https://a/simple https://b/simple",
            "no-deps": "yes",
            "default-timeout": "7",
        }
        args = parse_args("install", ["--extra-index-url", "https://c/simple", "x"], config)
        assert args.extra_index_urls == ["https://a/simple", "https://b/simple", "https://c/simple"]
        assert args.no_deps is True
        assert args.timeout == 7.0

    def test_flags_override_config(self) -> None:
        args = parse_args("install", ["--timeout", "2", "x"], {"timeout": "9"})
        assert args.timeout == 2.0

    def test_bad_boolean_in_config_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="not a valid boolean"):
            config_defaults({"no-deps": "perhaps"})

    def test_negative_flag_in_config(self) -> None:
        assert config_defaults({"no-compile": "true"})["compile"] is False


class TestResolverArgs:
    def test_only_resolver_options_that_differ_from_defaults(self) -> None:
        args = parse_args(
            "install",
            [
                "-U",
                "--no-deps",
                "--pre",
                "--no-build-isolation",
                "-C",
                "k=v",
                "--target",
                "t",
                "--trust",
                "x",
                "req",
            ],
        )
        tokens = resolver_args(args)
        assert tokens == [
            "--no-deps",
            "--upgrade",
            "--no-build-isolation",
            "--config-settings",
            "k=v",
            "--pre",
        ]

    def test_defaults_produce_nothing(self) -> None:
        assert resolver_args(parse_args("install", ["req"])) == []


class TestSplitCommand:
    def test_general_options_before_the_command(self) -> None:
        general, command, rest = split_command(["--python", "/p", "-v", "install", "x"])
        assert (general, command, rest) == (["--python", "/p", "-v"], "install", ["x"])

    def test_equals_form_takes_no_extra_argument(self) -> None:
        assert split_command(["--log=f", "list"]) == (["--log=f"], "list", [])

    def test_no_command(self) -> None:
        assert split_command(["--version"]) == (["--version"], None, [])


def test_every_group_has_options() -> None:
    for group in Group:
        assert any(o.group is group for o in INSTALL_OPTIONS), group


def test_help_texts_end_with_a_full_stop() -> None:
    for option in INSTALL_OPTIONS:
        assert re.search(r"[.)]$", option.help), option.flags

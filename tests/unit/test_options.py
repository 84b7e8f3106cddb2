from __future__ import annotations

import re
from pathlib import Path

import pytest

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

# Every option of `pip install` in pip 26.3 (from pip's own parser), long and short spellings.
PIP_26_INSTALL_FLAGS = """
-r --requirement -c --constraint --build-constraint --requirements-from-script --no-deps
--no-dependencies --only-deps --only-dependencies -e --editable --dry-run -t --target
--platform --python-version --implementation --abi --user --no-user --root --prefix --src
--source --source-dir --source-directory -U --upgrade --upgrade-strategy --force-reinstall -I
--ignore-installed --ignore-requires-python --no-build-isolation --use-pep517
--check-build-dependencies --break-system-packages -C --config-settings --compile --no-compile
--no-warn-script-location --no-warn-conflicts --require-hashes --no-require-hashes
--progress-bar --root-user-action --report --group --no-clean --pre --all-releases
--only-final --no-binary --only-binary --prefer-binary -i --index-url --pypi-url
--extra-index-url --no-index --refresh-package -f --find-links --uploaded-prior-to --debug
--isolated --require-virtualenv --require-venv --python -v --verbose -q --quiet --log
--log-file --local-log --no-input --keyring-provider --proxy --no-proxy-env --retries --timeout
--default-timeout --exists-action --trusted-host --cert --client-cert --cache-dir
--no-cache-dir --disable-pip-version-check --no-color --no-python-version-warning --use-feature
--use-deprecated --resume-retries
"""


class TestTable:
    def test_every_pip_install_option_is_accepted(self) -> None:
        flags = {flag for option in options_for("install") for flag in option.flags}
        assert set(PIP_26_INSTALL_FLAGS.split()) - flags == set()

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

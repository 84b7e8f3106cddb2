"""safe-pip's own dependencies: found as the running safe-pip imports them, and an install
or uninstall that would leave safe-pip unable to run is refused."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.cli.guard import _uninstall_arguments, refusal_of_pip_command
from safe_pip.errors import UsageError
from safe_pip.install.installed import (
    check_install_keeps_safe_pip,
    check_uninstall_keeps_safe_pip,
    own_dependencies,
)

RICH = canonicalize_name("rich")


def _rich_dir() -> Path:
    return own_dependencies()[RICH].site_dir


def test_own_dependencies_are_the_whole_tree() -> None:
    own = own_dependencies()
    assert {"pip", "packaging", "installer", "httpx", "rich"} <= set(own)
    assert (
        "markdown-it-py" in own and "rich" in own[canonicalize_name("markdown-it-py")].required_by
    )
    assert own[RICH].specifier.contains(metadata.version("rich"))
    assert own[RICH].needs().startswith("rich>=") and "(required by safe-pip)" in own[RICH].needs()


class TestInstall:
    def test_a_version_it_cannot_run_on_where_it_imports_from(self) -> None:
        with pytest.raises(UsageError, match=r"will not install rich 1\.0 into") as caught:
            check_install_keeps_safe_pip({RICH: Version("1.0")}, [_rich_dir()])
        assert "virtual environment" in str(caught.value) and "python -m pip" in str(caught.value)

    def test_a_version_it_can_run_on(self) -> None:
        current = Version(metadata.version("rich"))
        check_install_keeps_safe_pip({RICH: current}, [_rich_dir()])

    def test_another_environment(self, tmp_path: Path) -> None:
        check_install_keeps_safe_pip({RICH: Version("1.0")}, [tmp_path])

    def test_a_directory_that_would_shadow_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        earlier = str(Path(sys.prefix) / "shadowing")
        monkeypatch.setattr(sys, "path", [earlier, *sys.path])
        with pytest.raises(UsageError, match="will not install rich"):
            check_install_keeps_safe_pip({RICH: Version("1.0")}, [Path(earlier)])


class TestUninstall:
    def test_its_own_copy(self) -> None:
        with pytest.raises(UsageError, match="will not uninstall rich"):
            check_uninstall_keeps_safe_pip(["Rich"], [str(_rich_dir())])

    def test_a_copy_found_first_elsewhere(self, tmp_path: Path) -> None:
        (tmp_path / "rich-1.0.dist-info").mkdir()
        check_uninstall_keeps_safe_pip(["rich"], [str(tmp_path), str(_rich_dir())])

    def test_names_from_arguments_and_files(self, tmp_path: Path) -> None:
        listed = tmp_path / "remove.txt"
        listed.write_text("# a comment\nHTTPX==0.28\n")
        python, names = _uninstall_arguments(
            ["-y", "--python", "/v", "Rich>=13", "-r", str(listed), "--log=x.log", "six"]
        )
        assert python == "/v"
        assert names == ["rich", "six", "httpx"]

    def test_the_command_line_guard(self, tmp_path: Path) -> None:
        ours = {"PATH": str(Path(sys.executable).parent)}
        refusal = refusal_of_pip_command([], "uninstall", ["-y", "rich"], ours)
        assert refusal is not None and refusal.exit_code == 2
        assert refusal_of_pip_command([], "uninstall", ["-y", "six"], ours) is None
        assert refusal_of_pip_command([], "list", ["rich"], ours) is None

"""Which questions may reuse a kept resolution, and what their key is made of."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.resolutions import Resolutions
from safe_pip.target import TargetEnvironment


def _target(prefix: Path, base: Path) -> TargetEnvironment:
    site = prefix / "lib" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    return TargetEnvironment(
        python=prefix / "bin" / "python",
        prefix=prefix,
        base_prefix=base,
        version=(3, 12, 1),
        cache_tag="cpython-312",
        os_name="posix",
        paths={"purelib": str(site)},
        user_paths={},
        user_site_enabled=False,
        stdlib=base / "lib",
        tags=("cp312-cp312-manylinux_2_28_x86_64", "py3-none-any"),
        sys_path=(str(base / "lib"), str(site)),
        markers={"python_version": "3.12", "platform_release": "6.1.0"},
    )


def _key(
    directory: Path, target: TargetEnvironment, *lines: str, options: tuple[str, ...] = ()
) -> Path:
    kept = Resolutions.for_question(
        directory, [RequirementLine(line, "cmd") for line in lines], options, target
    )
    assert kept is not None
    return kept.path


class TestForQuestion:
    @pytest.mark.parametrize(
        ("line", "editable", "options"),
        [
            ("./project", False, ()),
            ("demo @ https://example.org/demo-1.0.tar.gz", False, ()),
            ("./project", True, ()),
            ("demo", False, ("--group", "dev")),
            ("demo", False, ("--requirements-from-script", "tool.py")),
        ],
        ids=["path", "url", "editable", "group", "script"],
    )
    def test_inputs_the_key_cannot_see_are_never_reused(
        self, tmp_path: Path, line: str, editable: bool, options: tuple[str, ...]
    ) -> None:
        target = _target(tmp_path / "venv", tmp_path / "base")
        lines = [RequirementLine(line, "cmd", editable=editable)]
        assert Resolutions.for_question(tmp_path, lines, options, target) is None

    def test_no_cache_directory_or_unknown_markers_keep_nothing(self, tmp_path: Path) -> None:
        target = _target(tmp_path / "venv", tmp_path / "base")
        lines = [RequirementLine("demo", "cmd")]
        assert Resolutions.for_question(None, lines, (), target) is None
        unknown = dataclasses.replace(target, markers=None)
        assert Resolutions.for_question(tmp_path, lines, (), unknown) is None

    def test_a_fresh_venv_of_the_same_interpreter_asks_the_same_question(
        self, tmp_path: Path
    ) -> None:
        base = tmp_path / "base"
        one = _key(tmp_path, _target(tmp_path / "one", base), "demo")
        assert _key(tmp_path, _target(tmp_path / "two", base), "demo") == one

    def test_what_is_installed_and_what_is_asked_change_the_question(self, tmp_path: Path) -> None:
        target = _target(tmp_path / "venv", tmp_path / "base")
        empty = _key(tmp_path, target, "demo")
        assert _key(tmp_path, target, "demo", options=("--pre",)) != empty
        assert _key(tmp_path, target, "demo>=2") != empty
        other_python = dataclasses.replace(target, version=(3, 13, 0))
        assert _key(tmp_path, other_python, "demo") != empty
        other_kernel = dataclasses.replace(
            target, markers={"python_version": "3.12", "platform_release": "6.2.0"}
        )
        assert _key(tmp_path, other_kernel, "demo") != empty
        (Path(target.sys_path[1]) / "beta-1.0.dist-info").mkdir()
        assert _key(tmp_path, target, "demo") != empty

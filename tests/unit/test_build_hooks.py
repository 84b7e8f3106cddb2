"""The backend hooks run through pyproject_hooks, in a subprocess safe-pip starts itself."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.build.builder import Builder
from safe_pip.build.buildsystem import read_build_system
from safe_pip.build.hooks import BackendHooks, hook_environment
from safe_pip.build.options import BuildOptions
from safe_pip.errors import InstallError
from safe_pip.models import DistKind, NameSet, Plan, PlannedDist

# Each hook records what it saw in config_settings["record"]: its directory, its
# environment and the settings themselves.
_BACKEND = """
import json, os, pathlib


def _record(hook, config_settings):
    seen = {"cwd": os.getcwd(), "env": dict(os.environ), "settings": config_settings}
    pathlib.Path(config_settings["record"], hook + ".json").write_text(json.dumps(seen))


def get_requires_for_build_wheel(config_settings=None):
    _record("get_requires_for_build_wheel", config_settings)
    print("asking for helper")
    return ["helper>=1"]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _record("build_wheel", config_settings)
    if config_settings.get("fail"):
        raise RuntimeError("the build broke")
    name = "proj-1.0-py3-none-any.whl"
    pathlib.Path(wheel_directory, name).write_bytes(b"")
    return name
"""


def _project(root: Path, backend: str = "tree_backend") -> Path:
    root.mkdir()
    (root / "tree_backend.py").write_text(_BACKEND)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = []
            build-backend = "{backend}"
            backend-path = ["."]
            """
        )
    )
    return root


def _hooks(source: Path, environ: dict[str, str], **settings: str) -> BackendHooks:
    system = read_build_system(source, "proj 1.0")
    return BackendHooks(source, system, Path(sys.executable), environ, settings)


def _seen(record: Path, hook: str) -> dict[str, object]:
    seen: dict[str, object] = json.loads((record / f"{hook}.json").read_text())
    return seen


def test_the_environment_sees_neither_the_gateway_secrets_nor_outside_packages() -> None:
    environ = {
        "HOME": "/home/u",
        "PYTHONPATH": "/elsewhere",
        "PIP_INDEX_URL": "https://idx.example/simple",
        "HTTPS_PROXY": "http://proxy.example",
        "_PYPROJECT_HOOKS_BACKEND_PATH": "/elsewhere",
    }
    assert hook_environment(environ) == {
        "HOME": "/home/u",
        "PIP_CONFIG_FILE": os.devnull,
        "PYTHONUNBUFFERED": "1",
        "PYTHONNOUSERSITE": "1",
    }


def test_hooks_run_in_the_project_with_the_scrubbed_environment(tmp_path: Path) -> None:
    source = _project(tmp_path / "proj")
    record = tmp_path / "record"
    record.mkdir()
    environ = {**os.environ, "PYTHONPATH": str(tmp_path), "PIP_INDEX_URL": "https://x.example"}
    hooks = _hooks(source, environ, record=str(record))
    assert hooks.get_requires(editable=False) == ["helper>=1"]
    seen = _seen(record, "get_requires_for_build_wheel")
    assert seen["cwd"] == str(source.resolve())
    assert seen["settings"] == {"record": str(record)}
    env = seen["env"]
    assert isinstance(env, dict)
    assert "PYTHONPATH" not in env and "PIP_INDEX_URL" not in env
    assert env["PYTHONNOUSERSITE"] == "1"


def test_build_returns_the_wheel_name(tmp_path: Path) -> None:
    source = _project(tmp_path / "proj")
    out = tmp_path / "wheel"
    out.mkdir()
    hooks = _hooks(source, dict(os.environ), record=str(tmp_path))
    assert hooks.build(out, editable=False) == "proj-1.0-py3-none-any.whl"
    assert (out / "proj-1.0-py3-none-any.whl").is_file()


def test_a_backend_without_build_editable_gives_none(tmp_path: Path) -> None:
    source = _project(tmp_path / "proj")
    out = tmp_path / "wheel"
    out.mkdir()
    assert _hooks(source, dict(os.environ)).build(out, editable=True) is None


def test_a_failing_hook_raises_with_its_stderr_and_logs_its_output(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _project(tmp_path / "proj")
    out = tmp_path / "wheel"
    out.mkdir()
    hooks = _hooks(source, dict(os.environ), record=str(tmp_path), fail="1")
    caplog.set_level(logging.DEBUG, logger="safe_pip.build.hooks")
    with pytest.raises(InstallError, match=r"(?s)Building proj failed in build_wheel:\n.*broke"):
        hooks.build(out, editable=False)
    assert "build build_wheel: RuntimeError: the build broke" in caplog.messages
    assert not list(out.iterdir())


def test_output_of_a_hook_that_succeeds_goes_to_the_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _project(tmp_path / "proj")
    caplog.set_level(logging.DEBUG, logger="safe_pip.build.hooks")
    _hooks(source, dict(os.environ), record=str(tmp_path)).get_requires(editable=False)
    assert "build get_requires_for_build_wheel: asking for helper" in caplog.messages


@pytest.mark.parametrize("in_tree", [True, False], ids=["backend-path", "installed"])
def test_a_backend_that_cannot_be_imported_fails_the_build(tmp_path: Path, in_tree: bool) -> None:
    source = _project(tmp_path / "proj", backend="no_such_backend")
    if not in_tree:
        (source / "pyproject.toml").write_text(
            '[build-system]\nrequires = []\nbuild-backend = "no_such_backend"\n'
        )
    with pytest.raises(InstallError, match="failed in get_requires_for_build_wheel") as caught:
        _hooks(source, dict(os.environ)).get_requires(editable=False)
    assert "no_such_backend" in str(caught.value)


class TestBuilderWithoutIsolation:
    """The builder drives the hooks in the target interpreter itself."""

    def _build(self, tmp_path: Path, *, editable: bool) -> Path:
        source = _project(tmp_path / "proj")
        dist = PlannedDist(
            canonicalize_name("proj"),
            Version("1.0"),
            DistKind.LOCAL_DIR,
            True,
            {},
            local_path=str(source),
            editable=editable,
        )

        def refuse_all(plan: Plan) -> None:
            raise AssertionError("without isolation nothing is reviewed or installed")

        builder = Builder(
            cast(Any, None),
            cast(Any, SimpleNamespace(python=Path(sys.executable))),
            tmp_path / "work",
            dict(os.environ),
            BuildOptions(isolation=False, config_settings={"record": str(tmp_path)}),
            approve=refuse_all,
            allow_sdist=NameSet(),
            local_projects={source.resolve()},
        )
        return builder.build(dist, None)

    def test_the_wheel_is_built_and_requirements_are_left_to_the_user(self, tmp_path: Path) -> None:
        wheel = self._build(tmp_path, editable=False)
        assert wheel == tmp_path / "work" / "build-proj" / "wheel" / "proj-1.0-py3-none-any.whl"
        assert wheel.is_file()

    def test_an_editable_build_needs_build_editable(self, tmp_path: Path) -> None:
        with pytest.raises(InstallError, match=r"tree_backend\) does not support editable"):
            self._build(tmp_path, editable=True)

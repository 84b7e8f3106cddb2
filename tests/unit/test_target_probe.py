"""The target interpreter's description of itself: its schemes, import path, wheel tags
and markers, and nothing of safe-pip's own directory in it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import packaging
import pytest
from packaging.tags import sys_tags

from safe_pip import target_probe
from safe_pip.target_probe import (
    describe,
    main,
    marker_environment,
    scheme_name,
    scheme_paths,
    wheel_tags,
)

PACKAGING_DIR = str(Path(packaging.__file__).resolve().parent.parent)
OWN_DIR = str(Path(target_probe.__file__).resolve().parent)


def _run_by_path(*args: str, cwd: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, target_probe.__file__, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer: dict[str, object] = json.loads(completed.stdout)
    return answer


def test_describes_this_interpreter() -> None:
    described = describe(None)
    assert described["executable"] == sys.executable
    assert described["version"] == list(sys.version_info[:3])
    assert described["cache_tag"] == sys.implementation.cache_tag
    assert described["paths"] == sysconfig.get_paths()
    assert described["stdlib"] == sysconfig.get_path("stdlib")
    assert described["sys_path"] == sys.path


def test_the_scheme_for_a_prefix_is_below_it(tmp_path: Path) -> None:
    paths = scheme_paths("prefix", str(tmp_path))
    assert Path(paths["purelib"]).is_relative_to(tmp_path)
    assert Path(paths["scripts"]).is_relative_to(tmp_path)
    assert not Path(scheme_paths("prefix")["purelib"]).is_relative_to(tmp_path)


@pytest.mark.parametrize(
    ("os_name", "prefix", "user"),
    [("posix", "posix_prefix", "posix_user"), ("nt", "nt", "nt_user")],
)
def test_schemes_of_an_interpreter_that_names_no_preferred_one(
    monkeypatch: pytest.MonkeyPatch, os_name: str, prefix: str, user: str
) -> None:
    monkeypatch.delattr(sysconfig, "get_preferred_scheme")
    monkeypatch.setattr(os, "name", os_name)
    assert (scheme_name("prefix"), scheme_name("user")) == (prefix, user)


def test_tags_and_markers_as_packaging_computes_them() -> None:
    assert wheel_tags() == [str(tag) for tag in sys_tags()]
    markers = marker_environment()
    assert markers is not None
    assert markers["python_full_version"] == platform.python_version()


def test_without_packaging_there_are_no_tags_or_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "packaging.tags", None)
    monkeypatch.setitem(sys.modules, "packaging.markers", None)
    assert wheel_tags() is None
    assert marker_environment() is None


def test_main_prints_the_import_path_before_packagings_directory_joins_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    assert main([str(tmp_path), PACKAGING_DIR]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["sys_path"] == before
    assert sys.path == [PACKAGING_DIR, *before]
    assert Path(answer["paths"]["purelib"]).is_relative_to(tmp_path)
    assert answer["tags"] == wheel_tags()
    assert list(answer)[-2:] == ["tags", "markers"]


def test_run_by_path_its_import_path_is_the_interpreters_less_its_own_directory(
    tmp_path: Path,
) -> None:
    answer = _run_by_path("", PACKAGING_DIR, cwd=tmp_path)
    plain = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    sys_path = answer["sys_path"]
    assert isinstance(sys_path, list)
    assert sys_path == json.loads(plain.stdout)
    assert OWN_DIR not in [os.path.realpath(entry) for entry in sys_path]


def test_what_it_runs_sees_neither_safe_pips_modules_nor_the_working_directory(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "fake" / "packaging"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "tags.py").write_text(
        "import importlib.util\n"
        "def sys_tags():\n"
        "    names = ('packaging', 'errors', 'target', 'target_probe', 'planted')\n"
        "    return [name for name in names if importlib.util.find_spec(name)]\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "planted.py").write_text("")
    answer = _run_by_path("", str(fake.parent), cwd=work)
    assert answer["tags"] == ["packaging"]

"""End to end: every file of the hostile-input corpus (``tests/data/hostile``) is run through
the real ``safe-pip install`` with no terminal, against a fresh virtual environment and a
loopback index. Each must end in a clear error: exit status 1, 2 or 3 (the one the case
names, where it names one), an error message that names the project, file or source it is
about, no traceback, and an environment exactly as it was.

The cases are data: add a file to a folder of the corpus and it is run here (see
``tests/data/hostile/README.md`` for the format).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, _safe_pip_command, make_venv
from tests.support.dists import WheelSpec, build_wheel
from tests.support.environments import snapshot
from tests.support.hostile import Case, RawPageIndex, build_spec_wheel, cases, render_page

_STANDARD_METADATA = b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n\n"
"""What the index serves as a hostile wheel's PEP 658 metadata, unless its spec says
otherwise: the index's claim, which the wheel itself may contradict."""


def _params(found: Sequence[Case]) -> list[object]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in found
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One empty virtual environment, made once: each case gets a copy of it."""
    return make_venv(tmp_path_factory.mktemp("hostile-pristine") / "venv")


@pytest.fixture
def venv(pristine: Venv, tmp_path: Path) -> Venv:
    """A fresh virtual environment for each case: a copy of the pristine one, which costs
    a few milliseconds where making one costs a fifth of a second, times every case."""
    return Venv(Path(shutil.copytree(pristine.path, tmp_path / "venv", symlinks=True)))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawPageIndex]:
    """One index for the whole module: a valid ``alpha 1.0`` that requirements and
    settings cases ask for, and every page case's project, each with a valid wheel
    behind its hostile page."""
    dists = tmp_path_factory.mktemp("hostile-dists")
    with RawPageIndex() as index:
        index.add(build_wheel(dists, WheelSpec("alpha", "1.0")))
        for case in cases("pages"):
            project = str(case.spec["project"])
            wheel = build_wheel(dists, WheelSpec(project, "1.0"))
            index.add(wheel)
            index.raw_pages[project] = render_page(case.spec, index, wheel)
        yield index


def _assert_clear_error(
    result: subprocess.CompletedProcess[str],
    case: Case,
    venv: Venv,
    before: dict[str, str],
    *default_mentions: str,
) -> None:
    output = f"exit status {result.returncode}\n{result.stdout}{result.stderr}"
    assert result.returncode in case.exits, output
    assert "Traceback" not in result.stdout + result.stderr, output
    assert result.stderr.strip(), output
    mentions = case.mentions or default_mentions
    assert any(text in result.stderr for text in mentions), (mentions, output)
    assert venv.installed() == {}
    assert snapshot(venv.path) == before


def _expand(args: Sequence[str], **values: str) -> list[str]:
    expanded = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        expanded.append(arg)
    return expanded


def _run(safe_pip: SafePip, case: Case, *args: str) -> subprocess.CompletedProcess[str]:
    """The command, under the case's memory limit if it names one (``memory_limit_mb``):
    an input that makes safe-pip read without end must fail, not exhaust the machine."""
    limit = case.spec.get("memory_limit_mb")
    if limit is None:
        return safe_pip(*args, env=case.spec.get("env"))

    def limited() -> None:
        size = int(limit) << 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return subprocess.run(
        [*_safe_pip_command(), *args],
        cwd=safe_pip.cwd,
        env=safe_pip.env(case.spec.get("env")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        preexec_fn=limited,
    )


def _install_wheel(
    safe_pip: SafePip, venv: Venv, wheel: Path, served_metadata: bytes
) -> subprocess.CompletedProcess[str]:
    """``safe-pip install evil`` from an index of its own that serves only ``wheel``."""
    with RawPageIndex() as index:
        index.add(wheel)
        index.metadata_override[wheel.name] = served_metadata
        return safe_pip("--python", str(venv.python), "install", "-i", index.url, "evil")


_REQUIREMENTS_COMMAND = ("install", "-i", "{index}", "-r", "{file}")


def test_the_harness_installs_what_is_not_hostile(
    safe_pip: SafePip, venv: Venv, served: RawPageIndex, tmp_path: Path
) -> None:
    """Run exactly as the cases are, a well-formed wheel spec and a plain requirements file
    install: every refusal below is the input's doing, not the harness's."""
    wheel = build_spec_wheel(tmp_path / "dists", {"members": [{"name": "evil/__init__.py"}]})
    assert _install_wheel(safe_pip, venv, wheel, _STANDARD_METADATA).returncode == 0
    (safe_pip.cwd / "plain.txt").write_text("alpha==1.0\n")
    args = _expand(_REQUIREMENTS_COMMAND, index=served.url, file="plain.txt")
    result = safe_pip("--python", str(venv.python), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert venv.installed() == {"evil": "1.0", "alpha": "1.0"}


@pytest.mark.parametrize("case", _params(cases("wheels")))
def test_hostile_wheel(safe_pip: SafePip, venv: Venv, tmp_path: Path, case: Case) -> None:
    wheel = build_spec_wheel(tmp_path / "dists", case.spec)
    served = case.spec.get("served_metadata")
    before = snapshot(venv.path)
    result = _install_wheel(
        safe_pip, venv, wheel, served.encode() if served is not None else _STANDARD_METADATA
    )
    _assert_clear_error(result, case, venv, before, "evil")


@pytest.mark.parametrize("case", _params(cases("pages")))
def test_hostile_index_page(
    safe_pip: SafePip, venv: Venv, served: RawPageIndex, case: Case
) -> None:
    before = snapshot(venv.path)
    project = str(case.spec["project"])
    result = safe_pip("--python", str(venv.python), "install", "-i", served.url, project)
    # Messages name the project, or its file (whose name spells it with underscores).
    _assert_clear_error(result, case, venv, before, project, project.replace("-", "_"))


@pytest.mark.parametrize("case", _params(cases("requirements")))
def test_hostile_requirements_file(
    safe_pip: SafePip, venv: Venv, served: RawPageIndex, case: Case
) -> None:
    # The whole folder, so that files naming each other (-r loops) find each other.
    shutil.copytree(case.path.parent, safe_pip.cwd / "requirements")
    file = f"requirements/{case.path.name}"
    args = case.spec.get("args", _REQUIREMENTS_COMMAND)
    before = snapshot(venv.path)
    result = _run(
        safe_pip, case, "--python", str(venv.python), *_expand(args, index=served.url, file=file)
    )
    _assert_clear_error(result, case, venv, before, case.path.name)


_PLACES = {"project": "safe-pip.toml", "pyproject": "pyproject.toml", "user": "config.toml"}


@pytest.mark.parametrize("case", _params(cases("settings")))
def test_hostile_settings_file(
    safe_pip: SafePip, venv: Venv, served: RawPageIndex, case: Case
) -> None:
    name = _PLACES[case.spec.get("place", "project")]
    home = safe_pip.home / "safe-pip-home"
    directory = home if name == "config.toml" else safe_pip.cwd
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case.path, directory / name)
    args = case.spec.get("args", ["install", "-i", "{index}", "alpha"])
    before = snapshot(venv.path)
    result = _run(safe_pip, case, "--python", str(venv.python), *_expand(args, index=served.url))
    _assert_clear_error(result, case, venv, before, name)

"""A no-op install decided from the installed metadata alone (install/satisfied.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.utils import NormalizedName

from safe_pip.install.installed import InstalledDist, find_installed
from safe_pip.install.satisfied import already_satisfied
from safe_pip.resolve.requirement_line import RequirementLine

ENV = {key: str(value) for key, value in default_environment().items()}


def _dist(site: Path, name: str, version: str, *metadata: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    headers = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *metadata]
    (info / "METADATA").write_text("\n".join(headers) + "\n\n")


def _lines(*texts: str) -> list[RequirementLine]:
    return [RequirementLine(text, "the command line") for text in texts]


def _check(site: Path, *texts: str, no_deps: bool = False) -> list[str] | None:
    found = already_satisfied(
        _lines(*texts), find_installed([site]), ENV, follow_dependencies=not no_deps
    )
    return None if found is None else [f"{d.name}=={d.version}" for d in found]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    _dist(site, "requests", "2.32.0", "Requires-Dist: urllib3<3,>=1.21", "Requires-Dist: idna")
    _dist(
        site,
        "urllib3",
        "2.2.0",
        "Provides-Extra: socks",
        'Requires-Dist: pysocks; extra == "socks"',
    )
    _dist(site, "idna", "3.7")
    return site


def test_everything_installed_and_matching_is_satisfied(site: Path) -> None:
    assert _check(site, "requests") == ["requests==2.32.0"]
    assert _check(site, "Requests>=2", "idna") == ["idna==3.7", "requests==2.32.0"]


def test_a_version_the_requirement_excludes_needs_pip(site: Path) -> None:
    assert _check(site, "requests<2") is None
    assert _check(site, "requests==2.31.0") is None


def test_a_missing_project_needs_pip(site: Path) -> None:
    assert _check(site, "flask") is None


def test_a_missing_or_mismatched_dependency_needs_pip(site: Path) -> None:
    (site / "idna-3.7.dist-info" / "METADATA").unlink()
    for entry in (site / "idna-3.7.dist-info").iterdir():
        entry.unlink()
    (site / "idna-3.7.dist-info").rmdir()
    assert _check(site, "requests") is None
    assert _check(site, "requests", no_deps=True) == ["requests==2.32.0"]


def test_a_dependency_whose_version_conflicts_needs_pip(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "1.0", "Requires-Dist: lib>=2")
    _dist(site, "lib", "1.5")
    assert _check(site, "app") is None


def test_an_extra_brings_its_dependencies_in(site: Path) -> None:
    assert _check(site, "urllib3") == ["urllib3==2.2.0"]
    assert _check(site, "urllib3[socks]") is None
    _dist(site, "pysocks", "1.7.1")
    assert _check(site, "urllib3[socks]") == ["urllib3==2.2.0"]


def test_an_extra_the_project_does_not_declare_needs_pip(site: Path) -> None:
    assert _check(site, "idna[nonexistent]") is None


def test_a_dependency_for_another_environment_is_not_needed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "1.0", 'Requires-Dist: pywin32; sys_platform == "win32"')
    assert _check(site, "app") == ["app==1.0"]


def test_a_requirement_for_another_environment_is_skipped(site: Path) -> None:
    assert _check(site, "requests", 'pywin32; sys_platform == "win32"') == ["requests==2.32.0"]
    assert _check(site, 'pywin32; sys_platform == "win32"') is None


def test_an_installed_pre_release_meets_a_plain_specifier(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "2.0b1")
    assert _check(site, "app>=1") == ["app==2.0b1"]


def test_dependency_cycles_end(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "a", "1.0", "Requires-Dist: b")
    _dist(site, "b", "1.0", "Requires-Dist: a")
    assert _check(site, "a") == ["a==1.0"]


@pytest.mark.parametrize(
    "line",
    [
        RequirementLine("requests", "x", editable=True),
        RequirementLine("requests", "x", hashes=("sha256:" + "0" * 64,)),
        RequirementLine("requests", "x", config_settings=("a=b",)),
        RequirementLine("requests", "x", constraint=True),
        RequirementLine("requests @ https://example.org/requests-2.32.0.whl", "x"),
        RequirementLine("./local/project", "x"),
        RequirementLine("requests[", "x"),
    ],
)
def test_anything_but_a_plain_requirement_needs_pip(site: Path, line: RequirementLine) -> None:
    assert already_satisfied([line], find_installed([site]), ENV) is None


@pytest.mark.parametrize(
    "metadata",
    [
        "Requires-Dist: lib @ https://example.org/lib.whl",
        "Requires-Dist: lib[",
        'Requires-Dist: lib; unknown_marker == "x"',
    ],
)
def test_dependencies_it_cannot_read_for_certain_need_pip(tmp_path: Path, metadata: str) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "1.0", metadata)
    _dist(site, "lib", "1.0")
    assert _check(site, "app") is None


def test_metadata_that_is_not_utf8_needs_pip(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "1.0")
    (site / "app-1.0.dist-info" / "METADATA").write_bytes(
        b"Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: l\xe9b\n\n"
    )
    assert _check(site, "app") is None


def test_constraints_bind_only_the_projects_taken(site: Path) -> None:
    def check(*lines: RequirementLine) -> list[str] | None:
        found = already_satisfied([RequirementLine("requests", "x"), *lines], _inst(site), ENV)
        return None if found is None else [d.name for d in found]

    assert check(_constraint("idna>=3"), _constraint("torch<=2.14.1")) == ["requests"]
    assert check(_constraint("idna<3")) is None
    assert check(_constraint('idna<3; sys_platform == "win32"')) == ["requests"]
    assert check(_constraint("idna @ https://example.org/idna-3.7.whl")) is None


def _constraint(text: str) -> RequirementLine:
    return RequirementLine(text, "-c constraints.txt", constraint=True)


def _inst(site: Path) -> dict[NormalizedName, list[InstalledDist]]:
    return find_installed([site])


def test_nothing_requested_needs_pip(site: Path) -> None:
    assert _check(site) is None

"""A private project name registered on the public index (dependency confusion), end to end.

The private index is a real pypiserver (``--disable-fallback``); the public index is a
loopback stand-in for PyPI, declared ``public = true`` in the settings. The squatter's
release is a source archive whose build backend writes a marker file the moment any of its
code runs, and it is allowed to build (``--allow-sdist :all:``): an empty markers folder
proves the squatter's code never ran.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, make_venv
from tests.e2e.conftest import PypiServer
from tests.e2e.test_first_seen import _on_terminal
from tests.support.index import PackageIndex
from tests.support.outcomes import ran


def _settings(safe_pip: SafePip, text: str) -> None:
    (safe_pip.cwd / "pyproject.toml").write_text(text, encoding="utf-8")


def _public_pypi(safe_pip: SafePip, public: PackageIndex) -> None:
    """Settings that declare the stand-in for PyPI public, and nothing else."""
    _settings(
        safe_pip, f'[tool.safe-pip.sources]\npypi = {{ url = "{public.url}", public = true }}\n'
    )


def _marked_sources(public: PackageIndex, private: PypiServer) -> str:
    """A sources table that marks the stand-in for PyPI public and the private index
    private."""
    return (
        "[tool.safe-pip.sources]\n"
        f'pypi = {{ url = "{public.url}", public = true }}\n'
        f'corp = {{ url = "{private.url}", private = true }}\n'
    )


@pytest.fixture
def squatted(
    pypiserver: Callable[..., PypiServer],
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    sdist: Callable[..., Path],
) -> tuple[PypiServer, PackageIndex]:
    """corp-tools 1.0 on the private index, a squatter's corp-tools 99.0 on the public one."""
    private = pypiserver()
    private.add(wheel("corp-tools", "1.0"))
    public = index()
    public.add(sdist("corp-tools", "99.0"))
    public.add(wheel("public-lib", "2.0"))
    return private, public


def _install(
    safe_pip: SafePip, venv: Venv, index_url: str, extra: str, *names: str
) -> subprocess.CompletedProcess[str]:
    return safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--allow-sdist",
        ":all:",
        "-i",
        index_url,
        "--extra-index-url",
        extra,
        *names,
    )


def test_private_as_index_url_refuses_the_squatter(
    safe_pip: SafePip, venv: Venv, squatted: tuple[PypiServer, PackageIndex], markers: Path
) -> None:
    """PyPI as an extra index ranks first: the name is asked of the private index too."""
    private, public = squatted
    _public_pypi(safe_pip, public)
    result = _install(safe_pip, venv, private.url, public.url, "corp-tools", "public-lib")
    assert result.returncode == 3, result.stderr
    assert "corp-tools is on pypi" in result.stderr
    assert private.url in result.stderr
    assert '[tool.safe-pip.pins]: "corp-tools" = "pypi"' in result.stderr
    assert "dependency confusion" in result.stderr
    assert ran(markers) == []
    assert venv.installed() == {}
    decisions = {(e["decision"], e["project"]) for e in safe_pip.audit_log()}
    assert {("shadowed", "corp-tools"), ("refused", "corp-tools")} <= decisions


def test_default_layout_refuses_a_name_the_public_index_also_has(
    safe_pip: SafePip, venv: Venv, squatted: tuple[PypiServer, PackageIndex], markers: Path
) -> None:
    """A source marked private checks the public index for its names (check-public-shadows)."""
    private, public = squatted
    _settings(safe_pip, _marked_sources(public, private))
    result = _install(safe_pip, venv, public.url, private.url, "corp-tools")
    assert result.returncode == 3, result.stderr
    assert "corp-tools is on corp" in result.stderr and "and on pypi" in result.stderr
    assert '[tool.safe-pip.pins]: "corp-tools" = "corp"' in result.stderr
    assert ran(markers) == []
    assert venv.installed() == {}


def test_pinned_name_installs_from_its_pin_and_still_raises_the_alarm(
    safe_pip: SafePip, venv: Venv, squatted: tuple[PypiServer, PackageIndex], markers: Path
) -> None:
    private, public = squatted
    _settings(
        safe_pip, _marked_sources(public, private) + '[tool.safe-pip.pins]\ncorp-tools = "corp"\n'
    )
    for index_url, extra in ((private.url, public.url), (public.url, private.url)):
        result = _install(safe_pip, venv, index_url, extra, "--dry-run", "corp-tools")
        assert result.returncode == 0, result.stderr
        assert "corp-tools 1.0" in result.stdout + result.stderr
        assert "dependency confusion" in result.stdout + result.stderr
        note = f"note: from corp ({private.url}), not the index pypi (a pin in the settings)"
        assert (note in result.stdout) is (index_url == public.url), result.stdout
    assert ran(markers) == []
    assert ("shadowed", "corp-tools") in {
        (e["decision"], e["project"]) for e in safe_pip.audit_log()
    }


def test_unmarked_private_index_first_never_leaks_its_names(
    safe_pip: SafePip, venv: Venv, squatted: tuple[PypiServer, PackageIndex], markers: Path
) -> None:
    """pip's default layout, the private index unmarked: its names are not sent to PyPI."""
    private, public = squatted
    _public_pypi(safe_pip, public)
    result = _install(safe_pip, venv, public.url, private.url, "corp-tools", "public-lib")
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"corp-tools": "1.0", "public-lib": "2.0"}
    assert not public.asked("corp-tools")
    assert ran(markers) == []


def _on_a_terminal_answering(
    safe_pip: SafePip, venv: Venv, squatted: tuple[PypiServer, PackageIndex], answer: str
) -> tuple[int, str]:
    """Install corp-tools on a terminal, the private index first and PyPI declared public,
    giving ``answer`` to the question which source is meant."""
    private, public = squatted
    _public_pypi(safe_pip, public)
    args = ["--python", str(venv.python), "install", "--allow-sdist", ":all:"]
    layout = ["-i", private.url, "--extra-index-url", public.url, "corp-tools"]
    return _on_terminal(safe_pip, [*args, *layout], [answer])


def test_on_a_terminal_the_review_asks_which_source_and_remembers_the_answer(
    safe_pip: SafePip,
    venv: Venv,
    squatted: tuple[PypiServer, PackageIndex],
    markers: Path,
) -> None:
    private, public = squatted
    status, output = _on_a_terminal_answering(safe_pip, venv, squatted, "2")
    assert status == 0, output
    assert "corp-tools is on pypi" in output and "which do you mean?" in output
    assert venv.installed() == {"corp-tools": "1.0"}
    # Approved from the private index: the next command means that one, unattended.
    second = make_venv(safe_pip.home / "second")
    again = _install(safe_pip, second, private.url, public.url, "corp-tools")
    assert again.returncode == 0, again.stderr
    assert second.installed() == {"corp-tools": "1.0"}
    assert "dependency confusion" in again.stdout + again.stderr
    assert ran(markers) == []


def test_on_a_terminal_no_answer_refuses(
    safe_pip: SafePip,
    venv: Venv,
    squatted: tuple[PypiServer, PackageIndex],
    markers: Path,
) -> None:
    status, output = _on_a_terminal_answering(safe_pip, venv, squatted, "")
    assert status == 3, output
    assert venv.installed() == {}
    assert ran(markers) == []

"""End to end: ``safe-pip cache info`` and ``cache purge`` show and empty safe-pip's own
cache, then hand the command to pip; the other ``cache`` commands are pip's alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rich.filesize import decimal

from safe_pip.install.bytecode_store import BytecodeStore
from tests.conftest import SafePip, Venv, install, make_venv
from tests.support.index import PackageIndex
from tests.support.osv import advisory, write_directory
from tests.support.outcomes import succeeded

PIP_INFO = "Package index page cache location"


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    served = index()
    served.add(wheel("alpha", "1.0", requires=["beta"]))
    served.add(wheel("beta", "1.0"))
    return served


@pytest.fixture
def advisories(tmp_path: Path) -> Path:
    return write_directory(tmp_path / "osv", [advisory("PYSEC-2026-1", "gamma", versions=["1.0"])])


def _home(safe_pip: SafePip) -> Path:
    return safe_pip.home / "safe-pip-home"


def _files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def _usage(directory: Path) -> str:
    files = _files(directory)
    return _line(len(files), sum(path.stat().st_size for path in files))


def _line(entries: int, size: int) -> str:
    return f"{entries} {'entry' if entries == 1 else 'entries'}, {decimal(size)}"


def _wheels(served: PackageIndex) -> list[Path]:
    return [entry.path for entries in served.files.values() for entry in entries]


def _install(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path, *args: str
) -> None:
    succeeded(install(safe_pip, venv, served, "--advisories", str(advisories), *args, "alpha"))


def test_info_shows_each_part_of_safe_pips_cache_then_pips(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
) -> None:
    _install(safe_pip, venv, served, advisories)
    home = _home(safe_pip)
    cache = home / "cache"
    # Colour allowed: standard output is no terminal, so the lines are plain all the same.
    output = succeeded(safe_pip("cache", "info", env={"NO_COLOR": ""}))
    assert "\x1b" not in output
    lines = output.splitlines()
    assert lines[0] == f"safe-pip's cache: {cache}"
    wheels = _wheels(served)
    size = sum(path.stat().st_size for path in wheels)
    assert lines[1] == f"  downloads:              {_line(len(wheels), size)}"
    assert lines[2] == f"  remembered resolutions: {_usage(cache / 'resolutions')}"
    assert "1 entry, " in lines[2]
    assert lines[3] == f"  index pages:            {_usage(cache / 'pages')}"
    assert "2 entries, " in lines[3]  # alpha's page and beta's
    advisories_dir = home / "advisories"
    assert lines[4] == f"  advisories:             {_usage(advisories_dir)} (in {advisories_dir})"
    entries, stored = BytecodeStore(cache, home).usage()
    assert entries > 0
    assert lines[5] == f"  bytecode store:         {_line(entries, stored)}"
    assert lines[6] == "" and lines[7].startswith(PIP_INFO)
    assert str(safe_pip.home / "user" / ".cache" / "pip") in output


def test_cache_dir_names_the_cache_before_or_after_the_command(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen"
    _install(safe_pip, venv, served, advisories, "--cache-dir", str(chosen))
    assert not (_home(safe_pip) / "cache" / "files").exists()
    for args in (
        ("--cache-dir", str(chosen), "cache", "info"),
        ("cache", "info", f"--cache-dir={chosen}"),
    ):
        lines = succeeded(safe_pip(*args)).splitlines()
        assert lines[0] == f"safe-pip's cache: {chosen}"
        assert lines[1] == f"  downloads:              {_usage(chosen / 'files')}"
        assert lines[1].endswith(_line(2, sum(p.stat().st_size for p in _wheels(served))))
    default = succeeded(safe_pip("cache", "info")).splitlines()
    assert default[1] == f"  downloads:              {_line(0, 0)}"


def test_purge_empties_the_cache_and_a_later_install_still_works(
    safe_pip: SafePip, served: PackageIndex, advisories: Path, tmp_path: Path
) -> None:
    _install(safe_pip, make_venv(tmp_path / "one"), served, advisories)
    home = _home(safe_pip)
    cached = [*_files(home / "cache"), *_files(home / "advisories")]
    size = sum(path.stat().st_size for path in cached)
    state = sorted(path.name for path in home.iterdir() if path.is_file())
    assert {"trust.json", "audit.log", "bytecode.key"} <= set(state)
    output = succeeded(safe_pip("cache", "purge"))
    assert output.splitlines()[0] == (
        f"Removed {len(cached)} files ({decimal(size)}) from safe-pip's cache {home / 'cache'}"
    )
    assert "Files removed:" in output  # pip's own purge followed
    assert _files(home / "cache") == [] and not (home / "advisories").exists()
    assert sorted(path.name for path in home.iterdir() if path.is_file()) == state
    info = succeeded(safe_pip("cache", "info")).splitlines()
    assert all(f" {_line(0, 0)}" in line for line in info[1:5])
    served.requests.clear()
    again = make_venv(tmp_path / "two")
    _install(safe_pip, again, served, advisories)
    assert again.installed() == {"alpha": "1.0", "beta": "1.0"}
    assert len([path for path in served.requests if path.endswith(".whl")]) == 2


def test_the_other_cache_commands_are_pips(safe_pip: SafePip) -> None:
    output = succeeded(safe_pip("cache", "dir"))
    assert output == f"{safe_pip.home / 'user' / '.cache' / 'pip'}\n"


def test_a_usage_error_is_one_line_and_status_2(safe_pip: SafePip) -> None:
    for args, what in (
        (("cache", "info", "--bogus"), "an option '--bogus'"),
        (("cache", "purge", "x"), "an argument 'x'"),
    ):
        result = safe_pip(*args)
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"ERROR: safe-pip {args[0]} {args[1]} takes only pip's general options, not {what}"
        )
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_cache_is_where_install_would_put_it(safe_pip: SafePip, tmp_path: Path) -> None:
    configured = tmp_path / "configured"
    shown = succeeded(safe_pip("cache", "info", env={"PIP_CACHE_DIR": str(configured)}))
    assert shown.startswith(f"safe-pip's cache: {configured}\n")
    assert not succeeded(safe_pip("cache", "info", "-q")).startswith("safe-pip's cache")
    disabled = safe_pip("--no-cache-dir", "cache", "info")
    assert disabled.returncode == 1 and "cache is disabled" in disabled.stderr
    assert "safe-pip's cache" not in disabled.stdout


def test_help(safe_pip: SafePip) -> None:
    listed = succeeded(safe_pip("--help"))
    assert "  cache info | purge " in listed
    result = succeeded(safe_pip("cache", "purge", "--help"))
    assert result.startswith("Usage:\n  safe-pip [options] cache info\n")

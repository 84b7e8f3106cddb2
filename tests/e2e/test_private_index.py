"""End to end against a real private index server: pypiserver, started on loopback
(the ``pypiserver`` fixture of ``tests/e2e/conftest.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, make_venv
from tests.e2e.conftest import PypiServer
from tests.support.index import PackageIndex


@pytest.fixture
def collision(
    pypiserver: Callable[..., PypiServer],
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
) -> tuple[PypiServer, PackageIndex]:
    """corp-internal 1.0 on the private server; corp-internal 99.0 and public-lib 2.0 on the
    public index."""
    private = pypiserver()
    private.add(wheel("corp-internal", "1.0"))
    public = index()
    public.add(wheel("corp-internal", "99.0"))
    public.add(wheel("public-lib", "2.0"))
    return private, public


def test_private_server_wins_a_name_collision(
    safe_pip: SafePip, venv: Venv, collision: tuple[PypiServer, PackageIndex]
) -> None:
    private, public = collision
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        public.url,
        "--extra-index-url",
        private.url,
        "corp-internal",
        "public-lib",
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"corp-internal": "1.0", "public-lib": "2.0"}
    assert not public.asked("corp-internal")


def test_server_redirecting_unknown_names_is_an_error(
    safe_pip: SafePip,
    venv: Venv,
    pypiserver: Callable[..., PypiServer],
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
) -> None:
    public = index()
    public.add(wheel("public-lib", "2.0"))
    # Without --disable-fallback pypiserver redirects names it lacks to another index;
    # here that index is a second loopback server, so nothing leaves the machine.
    private = pypiserver(fallback=public.url)
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        public.url,
        "--extra-index-url",
        private.url,
        "public-lib",
    )
    assert result.returncode == 1
    assert "redirected" in result.stderr and "--disable-fallback" in result.stderr
    assert private.url.split("/simple")[0].split("//")[1] in result.stderr
    assert not public.asked("public-lib")
    assert venv.installed() == {}


def test_failed_pin_names_the_source_that_answered_and_the_line_that_fixes_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A local folder ranks first and holds another version: pip would have merged."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(wheel("idna", "3.20"), mirror)
    public = index()
    public.add(wheel("idna", "3.10"))
    (safe_pip.cwd / "pyproject.toml").write_text(
        f'[tool.safe-pip.sources]\npypi = {{ url = "{public.url}", public = true }}\n',
        encoding="utf-8",
    )
    result = safe_pip(
        "--python", str(venv.python), "install", "-i", public.url, "-f", str(mirror), "idna==3.10"
    )
    assert result.returncode == 1, result.stderr
    assert f"idna: served by {mirror}, which has 3.20" in result.stderr
    assert f"pypi ({public.url}) has idna==3.10: 3.10" in result.stderr
    assert 'under [tool.safe-pip.pins]: "idna" = "pypi"' in result.stderr
    assert "mirror-of" in result.stderr
    assert venv.installed() == {}


def test_failed_pin_of_a_private_name_says_the_public_index_was_not_asked(
    safe_pip: SafePip, venv: Venv, collision: tuple[PypiServer, PackageIndex]
) -> None:
    private, public = collision
    (safe_pip.cwd / "pyproject.toml").write_text(
        f'[tool.safe-pip.sources]\npypi = {{ url = "{public.url}", public = true }}\n',
        encoding="utf-8",
    )
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "-i",
        public.url,
        "--extra-index-url",
        private.url,
        "corp-internal==99.0",
    )
    assert result.returncode == 1, result.stderr
    assert f"corp-internal: served by {private.url}, which has 1.0" in result.stderr
    assert f"pypi ({public.url}) was not asked" in result.stderr
    assert not public.asked("corp-internal")


def test_mirror_group_is_merged_as_pip_merges_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A folder declared a mirror of the index: the best version across both is taken, and
    each file comes from the source that listed it."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(wheel("idna", "3.20"), mirror)
    shutil.copy(wheel("local-only", "1.0"), mirror)
    public = index()
    public.add(wheel("idna", "3.10"))
    public.add(wheel("idna", "3.30"))
    (safe_pip.cwd / "pyproject.toml").write_text(
        "[tool.safe-pip.sources]\n"
        f'pypi = {{ url = "{public.url}", public = true }}\n'
        f'cache = {{ url = "{mirror}", mirror-of = "pypi" }}\n',
        encoding="utf-8",
    )
    args = ["--python", str(venv.python), "install", "-i", public.url, "-f", str(mirror)]
    result = safe_pip(*args, "idna", "local-only")
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"idna": "3.30", "local-only": "1.0"}
    second = make_venv(safe_pip.home / "second")
    pinned = safe_pip("--python", str(second.python), "install", *args[3:], "idna==3.20")
    assert pinned.returncode == 0, pinned.stderr
    assert second.installed() == {"idna": "3.20"}

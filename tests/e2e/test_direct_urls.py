"""End to end: a dependency's ``name @ url`` is never followed unless the user gave that URL.

pip fetches such a URL itself while resolving, outside every configured source, and runs
the build backend of a source archive. The gateway refuses the metadata that names it, so
pip never learns the URL: the server behind it sees no request at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install_trusted
from tests.support.environments import snapshot
from tests.support.index import PackageIndex

WheelFactory = Callable[..., Path]


@pytest.fixture
def elsewhere(
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    sdist: Callable[..., Path],
) -> PackageIndex:
    """A server the user never configured, logging every request, with ``payload``."""
    server = index()
    server.add(wheel("payload", "1.0"))
    server.add(sdist("payload", "1.0"))
    return server


@pytest.mark.parametrize("pep658", [True, False], ids=["pep658", "whole-wheel"])
@pytest.mark.parametrize(
    "filename", ["payload-1.0.tar.gz", "payload-1.0-py3-none-any.whl"], ids=["sdist", "wheel"]
)
def test_a_url_in_a_dependencys_metadata_is_never_fetched(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    elsewhere: PackageIndex,
    markers: Path,
    pep658: bool,
    filename: str,
) -> None:
    requirement = f"payload @ {elsewhere.file_url(filename)}"
    served = index(pep658=pep658)
    served.add(wheel("evil", "1.0", requires=[requirement]))
    before = snapshot(venv.path)
    result = install_trusted(safe_pip, venv, served, "evil")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "evil 1.0 (evil-1.0-py3-none-any.whl) requires a direct URL" in result.stderr
    assert requirement in result.stderr
    assert "'NAME @ URL'" in result.stderr
    assert elsewhere.requests == []
    assert not markers.exists()
    assert snapshot(venv.path) == before


def test_a_url_the_user_gave_is_followed(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    elsewhere: PackageIndex,
) -> None:
    # A source archive: a wheel the user names by URL is handed to pip as its checked
    # copy in the cache, which pip cannot match with a dependency's URL.
    requirement = f"payload @ {elsewhere.file_url('payload-1.0.tar.gz')}"
    served = index()
    served.add(wheel("evil", "1.0", requires=[requirement]))
    result = install_trusted(
        safe_pip,
        venv,
        served,
        "--allow-sdist",
        "payload",
        "evil",
        requirement,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert venv.installed() == {"evil": "1.0", "payload": "1.0"}
    assert elsewhere.requests


def test_a_local_wheels_url_requirement_is_never_fetched(
    safe_pip: SafePip,
    venv: Venv,
    wheel: WheelFactory,
    elsewhere: PackageIndex,
    markers: Path,
) -> None:
    requirement = f"payload @ {elsewhere.file_url('payload-1.0.tar.gz')}"
    local = wheel("evil", "1.0", requires=[requirement])
    result = safe_pip(
        "--python", str(venv.python), "install", "--no-index", "--trust", ":all:", str(local)
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{local} (command line) requires a direct URL" in result.stderr
    assert elsewhere.requests == []
    assert not markers.exists()

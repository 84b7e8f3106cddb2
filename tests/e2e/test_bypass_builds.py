"""End to end: no source build and no build backend runs by a path the checks did not see.

Three classes of bypass (DESIGN invariant 1), each run through the real command
without a terminal against loopback servers whose build code writes a marker file the
moment it is imported: an empty marker directory proves that no package code ran.

- A source archive named by URL or path is a source build whatever its name looks like
  (a query, a fragment, ``#egg=``, no version in the name): it needs ``--allow-sdist``.
- A wheel named by URL is fetched by safe-pip and checked before pip sees it, so a
  ``name @ url`` in its metadata is refused before pip could fetch (and build) that URL.
- A build backend and its requirements are first-seen projects like any other: refused
  unattended (naming ``--trust``), recorded once approved.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install
from tests.e2e.test_first_seen import _on_terminal
from tests.support.index import PackageIndex
from tests.support.outcomes import ran, refused, succeeded

WheelFactory = Callable[..., Path]


# -- source archives by URL or path -------------------------------------------------------


@pytest.fixture
def elsewhere(
    index: Callable[..., PackageIndex], sdist: Callable[..., Path], tmp_path: Path
) -> PackageIndex:
    """A plain file server with ``beta`` 1.0 as an sdist, also under a GitHub-style name."""
    server = index()
    archive = sdist("beta", "1.0")
    server.add(archive)
    tagged = tmp_path / "tagged" / "v1.0.tar.gz"
    tagged.parent.mkdir()
    shutil.copy(archive, tagged)
    server.add(tagged)
    return server


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("requirement", "flag"),
    [
        ("beta @ {url}/beta-1.0.tar.gz?download=1", "--allow-sdist beta"),
        ("beta @ {url}/beta-1.0.tar.gz#sha256={sha256}", "--allow-sdist beta"),
        ("{url}/beta-1.0.tar.gz?download=1#egg=beta", "--allow-sdist beta"),
        ("beta @ {url}/v1.0.tar.gz", "--allow-sdist beta"),
        ("{url}/v1.0.tar.gz", "'NAME @ <url>'"),
    ],
    ids=["query", "sha256-fragment", "egg-fragment", "github-style", "github-style-unnamed"],
)
def test_a_source_archive_by_url_needs_allowance(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    elsewhere: PackageIndex,
    markers: Path,
    requirement: str,
    flag: str,
) -> None:
    url = f"http://{elsewhere.host}/files"
    sha256 = _sha256(elsewhere.files["beta"][0].path)
    text = requirement.format(url=url, sha256=sha256)
    served = index()
    result = install(safe_pip, venv, served, text)
    refused(result, flag, "source archive", untouched=venv)
    assert ran(markers) == []
    assert elsewhere.requests == []


@pytest.mark.parametrize("spelling", ["archive.tar.gz", "./archive.tar.gz", "archive.zip"])
def test_a_local_source_archive_without_a_version_needs_allowance(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    sdist: Callable[..., Path],
    markers: Path,
    spelling: str,
) -> None:
    shutil.copy(sdist("beta", "1.0"), safe_pip.cwd / spelling.removeprefix("./"))
    served = index()
    result = install(safe_pip, venv, served, spelling)
    refused(result, "'NAME @ <url>'", "source archive", untouched=venv)
    assert ran(markers) == []


def test_a_named_source_archive_by_url_builds_once_allowed(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    elsewhere: PackageIndex,
    markers: Path,
) -> None:
    requirement = f"beta @ {elsewhere.file_url('beta-1.0.tar.gz')}?download=1"
    served = index()
    result = install(safe_pip, venv, served, "--allow-sdist", "beta", requirement)
    succeeded(result)
    assert venv.installed() == {"beta": "1.0"}
    assert "beta-build_wheel" in ran(markers)


# -- a wheel by URL is checked before pip reads it --------------------------------------


def test_a_wheel_by_url_requiring_a_url_is_refused_before_pip_sees_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    elsewhere: PackageIndex,
    markers: Path,
) -> None:
    helper = f"helper @ {elsewhere.file_url('beta-1.0.tar.gz')}"
    elsewhere.add(wheel("app", "1.0", requires=[helper]))
    app_url = elsewhere.file_url("app-1.0-py3-none-any.whl")
    served = index()
    result = install(safe_pip, venv, served, app_url)
    refused(result, "requires a direct URL", helper, "'NAME @ URL'", untouched=venv)
    assert ran(markers) == []
    assert [path for path in elsewhere.requests if "beta" in path] == []


def test_a_wheel_by_url_installs_from_the_checked_copy_and_records_its_url(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    elsewhere: PackageIndex,
) -> None:
    elsewhere.add(wheel("app", "1.0"))
    app_url = elsewhere.file_url("app-1.0-py3-none-any.whl")
    served = index()
    result = install(safe_pip, venv, served, app_url)
    succeeded(result)
    assert venv.installed() == {"app": "1.0"}
    # Downloaded once, by safe-pip: pip read the verified copy in the cache.
    assert elsewhere.requests == ["/files/app-1.0-py3-none-any.whl"]
    direct_url = json.loads(
        (venv.site_packages / "app-1.0.dist-info" / "direct_url.json").read_text()
    )
    assert direct_url["url"] == app_url


# -- build backends and their requirements need approval --------------------------------

_EVIL_BACKEND = '''
"""A PEP 517 backend that leaves a marker the moment it is imported."""
import base64, hashlib, os, pathlib, zipfile

pathlib.Path({markers!r}).mkdir(parents=True, exist_ok=True)
(pathlib.Path({markers!r}) / "evilbackend-imported").write_text("ran")


def _name_version():
    info = {{}}
    for line in pathlib.Path("PKG-INFO").read_text().splitlines():
        key, _, value = line.partition(": ")
        info[key] = value
    return info["Name"], info["Version"]


def _record(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{digest}},{{len(data)}}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _name_version()
    dist_info = f"{{name}}-{{version}}.dist-info"
    metadata = f"Metadata-Version: 2.1\\nName: {{name}}\\nVersion: {{version}}\\n\\n"
    wheel = "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    members = {{
        f"{{name}}/__init__.py": b"",
        f"{{dist_info}}/METADATA": metadata.encode(),
        f"{{dist_info}}/WHEEL": wheel.encode(),
    }}
    rows = [_record(p, d) for p, d in members.items()] + [f"{{dist_info}}/RECORD,,"]
    members[f"{{dist_info}}/RECORD"] = ("\\n".join(rows) + "\\n").encode()
    filename = f"{{name}}-{{version}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return filename


build_editable = build_wheel
'''

_PYPROJECT = textwrap.dedent(
    """\
    [build-system]
    requires = ["evilbackend"]
    build-backend = "evilbackend"
    """
)


def _project_files(name: str) -> dict[str, str]:
    return {
        "pyproject.toml": _PYPROJECT,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
    }


@pytest.fixture
def backend_index(
    index: Callable[..., PackageIndex], wheel: WheelFactory, markers: Path, tmp_path: Path
) -> PackageIndex:
    """An index serving the ``evilbackend`` wheel and ``gamma`` 1.0, an sdist built by it."""
    served = index()
    code = _EVIL_BACKEND.format(markers=str(markers))
    served.add(wheel("evilbackend", "1.0", files={"evilbackend/__init__.py": code}))
    archive = tmp_path / "sdists" / "gamma-1.0.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as bundle:
        for relative, content in _project_files("gamma").items():
            data = content.encode()
            info = tarfile.TarInfo(f"gamma-1.0/{relative}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    served.add(archive)
    return served


@pytest.fixture
def project(safe_pip: SafePip) -> Path:
    """A local project whose build backend is ``evilbackend``, from the index."""
    directory = safe_pip.cwd / "proj"
    directory.mkdir()
    for relative, content in _project_files("proj").items():
        (directory / relative).write_text(content)
    return directory


def _trust_list(safe_pip: SafePip) -> str:
    return succeeded(safe_pip("trust", "list"))


@pytest.mark.parametrize(
    "request_args",
    [("./proj",), ("-e", "./proj"), ("--allow-sdist", "gamma", "--trust", "gamma", "gamma")],
    ids=["local-project", "editable", "allowed-sdist"],
)
def test_an_unapproved_build_backend_never_runs(
    safe_pip: SafePip,
    venv: Venv,
    backend_index: PackageIndex,
    project: Path,
    markers: Path,
    request_args: tuple[str, ...],
) -> None:
    safe_pip.trust_all = False
    result = install(safe_pip, venv, backend_index, *request_args)
    refused(result, "evilbackend", "--trust evilbackend", untouched=venv)
    assert ran(markers) == []
    assert "evilbackend" not in _trust_list(safe_pip)


@pytest.mark.parametrize(("command", "into"), [("download", "-d"), ("wheel", "-w")])
@pytest.mark.parametrize(
    "request_args",
    [("./proj",), ("--allow-sdist", "gamma", "--trust", "gamma", "gamma")],
    ids=["local-project", "allowed-sdist"],
)
def test_download_and_wheel_never_run_an_unapproved_build_backend(
    safe_pip: SafePip,
    venv: Venv,
    backend_index: PackageIndex,
    project: Path,
    markers: Path,
    command: str,
    into: str,
    request_args: tuple[str, ...],
) -> None:
    safe_pip.trust_all = False
    out = safe_pip.cwd / "out"
    result = safe_pip(
        "--python", str(venv.python), command, "-i", backend_index.url, into, str(out),
        *request_args,
    )  # fmt: skip
    refused(result, "evilbackend", "--trust evilbackend")
    assert ran(markers) == []
    approved = safe_pip(
        "--python", str(venv.python), command, "-i", backend_index.url, into, str(out),
        "--trust", "evilbackend", *request_args,
    )  # fmt: skip
    succeeded(approved)
    assert ran(markers) == ["evilbackend-imported"]


def test_an_approved_build_backend_runs_and_is_recorded(
    safe_pip: SafePip, venv: Venv, backend_index: PackageIndex, project: Path, markers: Path
) -> None:
    safe_pip.trust_all = False
    result = install(safe_pip, venv, backend_index, "--trust", "evilbackend", "./proj")
    succeeded(result)
    assert venv.installed() == {"proj": "1.0"}
    assert ran(markers) == ["evilbackend-imported"]
    assert "evilbackend" in _trust_list(safe_pip)
    audit = (safe_pip.home / "safe-pip-home" / "audit.log").read_text().splitlines()
    assert any(
        json.loads(line).get("project") == "evilbackend" and "approved" in line for line in audit
    )


@pytest.mark.parametrize(("answer", "status"), [("y", 0), ("n", 3)])
def test_on_a_terminal_the_build_backend_is_reviewed_like_any_project(
    safe_pip: SafePip,
    venv: Venv,
    backend_index: PackageIndex,
    project: Path,
    markers: Path,
    answer: str,
    status: int,
) -> None:
    safe_pip.trust_all = False
    args = ["--python", str(venv.python), "install", "-i", backend_index.url, "./proj"]
    returncode, output = _on_terminal(safe_pip, args, [answer])
    assert returncode == status, output
    assert "evilbackend 1.0" in output and "Traceback" not in output
    if status == 0:
        assert venv.installed() == {"proj": "1.0"}
        assert ran(markers) == ["evilbackend-imported"]
        assert "prompt" in _trust_list(safe_pip)
    else:
        assert venv.installed() == {}
        assert ran(markers) == []

"""End to end: a wheel cannot install what its checks never saw (DESIGN invariant 8).

Each hostile wheel is served from a loopback index and installed with the real command into
a fresh virtual environment, everything trusted (``--trust :all:``), so only the wheel
checks stand in the way. Each must be refused with exit status 3, leave the environment
byte-for-byte as it was, and its canary (a startup hook that writes a marker file) must not
run when the environment's interpreter starts afterwards.

- pypa/installer names the ``.data`` directory after the wheel's *file name*
  (``evil-1.0.data``), not after its ``.dist-info`` (``Evil-1.0.dist-info``): every file
  is judged at the place the installer will really write it.
- Python 3.13+ splits a ``.pth`` file with ``str.splitlines()``, which also breaks
  at ``\\x0b \\x0c \\x1c \\x1d \\x1e \\x85 \\u2028 \\u2029``: a line hidden after a comment
  behind one of them is code, and is judged as code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install_trusted
from tests.support.environments import snapshot
from tests.support.index import PackageIndex
from tests.support.outcomes import refused, succeeded

WheelFactory = Callable[..., Path]

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def _pth(marker: Path) -> str:
    return f"import os; open({str(marker)!r}, 'w').write('ran')\n"


def _code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\n"


def _shell(marker: Path) -> str:
    return f'#!/bin/sh\necho ran > "{marker}"\nexec python3 "$@"\n'


# (id, project, version, .dist-info, {member: canary kind}, expected reason)
_HOLE_1: list[tuple[str, str, str, str, dict[str, Callable[[Path], str]], str]] = [
    (
        "dist-info-case",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {"evil-1.0.data/purelib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "platlib",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {"evil-1.0.data/platlib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "sitecustomize",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {"evil-1.0.data/purelib/sitecustomize.py": _code},
        "sitecustomize.py: imported by site",
    ),
    (
        "another-projects-metadata",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {
            "evil-1.0.data/purelib/requests-99.0.dist-info/METADATA": (
                lambda _marker: "Metadata-Version: 2.1\nName: requests\nVersion: 99.0\n\n"
            )
        },
        "would create metadata of another project (requests-99.0.dist-info)",
    ),
    (
        "name-dots-and-case",
        "foo-bar",
        "1.0",
        "Foo.Bar-1.0.dist-info",
        {"foo_bar-1.0.data/purelib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "name-dashes",
        "foo-bar",
        "1.0",
        "foo-bar-1.0.dist-info",
        {"foo_bar-1.0.data/purelib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "version-1.0.0-vs-1.0",
        "evil",
        "1.0.0",
        "evil-1.0.dist-info",
        {"evil-1.0.0.data/purelib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "version-01.0-vs-1.0",
        "evil",
        "01.0",
        "evil-1.0.dist-info",
        {"evil-01.0.data/purelib/evil_hook.pth": _pth},
        "evil_hook.pth: a .pth file with an import line",
    ),
    (
        "two-data-directories",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {
            "Evil-1.0.data/purelib/evil/harmless.py": lambda _marker: "",
            "evil-1.0.data/purelib/evil_hook.pth": _pth,
        },
        "Evil-1.0.data is not the .data directory pypa/installer reads (evil-1.0.data, "
        "named from the file name)",
    ),
    (
        "data-scheme",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {f"evil-1.0.data/data/{SITE}/evil_hook.pth": _pth},
        "evil_hook.pth: written onto the import path through .data/data",
    ),
    (
        "scripts-scheme",
        "evil",
        "1.0",
        "Evil-1.0.dist-info",
        {"evil-1.0.data/scripts/python": _shell},
        "would overwrite {venv}/bin/python, which no installed project owns",
    ),
]


@pytest.mark.parametrize(
    ("project", "version", "dist_info", "members", "reason"),
    [case[1:] for case in _HOLE_1],
    ids=[case[0] for case in _HOLE_1],
)
def test_data_directory_is_judged_where_the_installer_puts_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    tmp_path: Path,
    project: str,
    version: str,
    dist_info: str,
    members: dict[str, Callable[[Path], str]],
    reason: str,
) -> None:
    marker = tmp_path / "canary-ran"
    package = project.replace("-", "_")
    files = {f"{package}/__init__.py": ""}
    files.update((name, make(marker)) for name, make in members.items())
    served = index()
    path = wheel(project, version, dist_info=dist_info, files=files)
    served.add(path)
    with zipfile.ZipFile(path) as archive:  # the index would find the first METADATA
        served.metadata_override[path.name] = archive.read(f"{dist_info}/METADATA")
    before = snapshot(venv.path)
    refused(
        install_trusted(safe_pip, venv, served, project),
        "Nothing was installed",
        reason.format(venv=venv.path),
    )
    assert snapshot(venv.path) == before
    venv.run("import sitecustomize")  # starts the interpreter: site reads every .pth
    assert not marker.exists(), "the canary ran"
    assert "requests" not in venv.installed()


def test_data_files_of_a_wheel_named_unlike_its_dist_info_go_where_inspection_said(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
) -> None:
    """The ordinary case of the same mismatch installs, each file where it belongs."""
    served = index()
    files = {
        "evil/__init__.py": "",
        "evil-1.0.data/scripts/evil-tool": "#!/bin/sh\necho tool\n",
        "evil-1.0.data/headers/evil.h": "int evil;\n",
    }
    served.add(wheel("evil", "1.0", dist_info="Evil-1.0.dist-info", files=files))
    succeeded(install_trusted(safe_pip, venv, served, "evil"))
    assert (venv.path / "bin" / "evil-tool").is_file()
    assert not (venv.site_packages / "evil-1.0.data").exists()
    assert (venv.site_packages / "Evil-1.0.dist-info" / "RECORD").is_file()


# -- .pth lines as every supported interpreter splits them ----------------------------------


def _modern_python() -> str | None:
    """An interpreter whose ``site`` splits ``.pth`` files with ``str.splitlines()`` (3.13+),
    to show the canary would run there; ``None`` when this machine has none."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(13, 20)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv.glob("versions/3.1[3-9]*/bin/python3"))]
    for candidate in filter(None, candidates):
        check = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info >= (3, 13)"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if check.returncode == 0:
            return candidate
    return None


@pytest.fixture
def modern_venv(tmp_path: Path, venv: Venv) -> Venv:
    """A virtual environment of Python 3.13 or later where there is one, else ``venv``:
    the refusal is the same, only the canary proves less."""
    python = _modern_python()
    if python is None:
        return venv
    path = tmp_path / "modern-venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    return Venv(path)


_SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("separator", _SEPARATORS, ids=[f"U+{ord(s):04X}" for s in _SEPARATORS])
def test_a_pth_line_hidden_behind_a_line_break_of_str_splitlines_is_code(
    safe_pip: SafePip,
    modern_venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    tmp_path: Path,
    separator: str,
) -> None:
    marker = tmp_path / "canary-ran"
    text = f"# extra paths for evil{separator}{_pth(marker)}"
    served = index()
    served.add(wheel("evil", "1.0", files={"evil/__init__.py": "", "evil.pth": text}))
    before = snapshot(modern_venv.path)
    refused(
        install_trusted(safe_pip, modern_venv, served, "evil"),
        "Nothing was installed",
        "evil.pth: a .pth file with an import line",
        "--allow-startup-hooks evil",
    )
    assert snapshot(modern_venv.path) == before
    modern_venv.run("pass")
    assert not marker.exists(), "the canary ran"

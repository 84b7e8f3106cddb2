"""End to end: one wheel per refusal reason. Each is refused with exit status 3, names the
project, the file and the reason, and writes nothing anywhere: the environment is
byte-for-byte as before and the file meant to escape exists nowhere around it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SafePip, Venv, install_trusted
from tests.support.environments import snapshot
from tests.support.index import PackageIndex
from tests.support.outcomes import refused, succeeded

WheelFactory = Callable[..., Path]

ESCAPED = "escaped_by_evil"
"""The name of every file a refused wheel tries to place: it must exist nowhere."""
SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def _metadata(name: str = "evil", version: str = "1.0", *requires: str) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return ("\n".join(lines) + "\n\n").encode()


def _change(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data

    return mutate


def _escaped_anywhere(tmp_path: Path) -> list[Path]:
    around = [*tmp_path.rglob(f"*{ESCAPED}*"), *tmp_path.rglob("site-packages-evil")]
    return around + [p for p in (Path("/", ESCAPED), Path("/tmp", ESCAPED)) if p.exists()]


# (id, wheel spec, metadata pip is served instead of the wheel's own, expected reason)
_CASES: list[tuple[str, dict[str, Any], bytes | None, str]] = [
    (
        "dist-info-disagrees-with-file-name",
        {"dist_info": "other-1.0.dist-info"},
        None,
        "other-1.0.dist-info does not match the file name (evil 1.0)",
    ),
    (
        "metadata-name-disagrees",
        {"metadata_name": "other"},
        _metadata(),
        "METADATA says other 1.0, the plan says evil 1.0",
    ),
    (
        "metadata-version-disagrees",
        {"metadata_version": "6.6.6"},
        _metadata(),
        "METADATA says evil 6.6.6, the plan says evil 1.0",
    ),
    (
        "metadata-differs-from-what-pip-resolved-with",
        {"requires": ["evil-helper>=1"]},
        _metadata(),
        "METADATA requires-dist differs from the metadata pip resolved with",
    ),
    ("record-missing", {"record": False}, None, "Unable to retrieve `RECORD`"),
    (
        "record-incomplete",
        {"mutate": _change(f"evil/{ESCAPED}.py", b"import os\n")},
        None,
        f"evil/{ESCAPED}.py is not mentioned in RECORD",
    ),
    (
        "record-hash-mismatch",
        {"files": {"evil/__init__.py": "x = 1\n"}, "mutate": _change("evil/__init__.py", b"x=2\n")},
        None,
        "hash / size of evil/__init__.py didn't match RECORD",
    ),
    (
        "record-size-mismatch",
        {
            "files": {"evil/__init__.py": "x = 1\n"},
            "mutate": _change("evil/__init__.py", b"x = 1\n\n"),
        },
        None,
        "hash / size of evil/__init__.py didn't match RECORD",
    ),
    ("absolute-path", {"files": {f"/tmp/{ESCAPED}.py": ""}}, None, "is an absolute path"),
    ("dot-dot", {"files": {f"../../../../{ESCAPED}.py": ""}}, None, "contains '..'"),
    (
        "site-packages-evil-prefix-trick",
        {"files": {f"../site-packages-evil/{ESCAPED}.py": ""}},
        None,
        f"'../site-packages-evil/{ESCAPED}.py' contains '..'",
    ),
    (
        "data-leaves-the-prefix",
        {"files": {f"evil-1.0.data/data/../../../{ESCAPED}.py": ""}},
        None,
        "contains '..'",
    ),
    (
        "console-script-name-is-a-path",
        {"entry_points": {f"../../{ESCAPED}": "evil:main"}},
        None,
        f"console script name '../../{ESCAPED}' is not a plain file name",
    ),
    (
        "duplicate-zip-names",
        {"appended": [("evil/__init__.py", f"open('{ESCAPED}', 'w')\n".encode())]},
        None,
        "duplicate archive member 'evil/__init__.py'",
    ),
    (
        "symbolic-link",
        {"symlinks": {f"evil/{ESCAPED}": "/etc/passwd"}},
        None,
        f"archive member 'evil/{ESCAPED}' is a symbolic link",
    ),
    (
        "expansion-ratio",
        {"files": {"evil/__init__.py": "", f"evil/{ESCAPED}.bin": b"\0" * (65 << 20)}},
        None,
        f"archive member 'evil/{ESCAPED}.bin' expands",
    ),
    (
        "data-outside-the-archive",
        {"prefix": f"#!/bin/sh\ntouch {ESCAPED}\nexit\n".encode()},
        None,
        "bytes before 'evil/__init__.py' belong to no member",
    ),
]


@pytest.mark.parametrize(
    ("spec", "served_metadata", "reason"),
    [case[1:] for case in _CASES],
    ids=[case[0] for case in _CASES],
)
def test_refused_and_nothing_written(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    tmp_path: Path,
    spec: dict[str, Any],
    served_metadata: bytes | None,
    reason: str,
) -> None:
    served = index()
    path = wheel("evil", "1.0", **spec)
    served.add(path)
    if served_metadata is not None:
        served.metadata_override[path.name] = served_metadata
    before = snapshot(venv.path)
    refused(
        install_trusted(safe_pip, venv, served, "evil"),
        "Nothing was installed",
        "evil 1.0 (evil-1.0-py3-none-any.whl) failed inspection",
        reason,
    )
    assert snapshot(venv.path) == before
    assert _escaped_anywhere(tmp_path) == []


@pytest.mark.parametrize(
    ("beta", "evil", "reason"),
    [
        (
            {},
            {"files": {"evil/__init__.py": "", "beta/__init__.py": "evil"}},
            "beta/__init__.py: would overwrite {site}/beta/__init__.py, a file of the "
            "installed project beta",
        ),
        (
            {"entry_points": {"beta-cli": "beta:main"}},
            {"entry_points": {"beta-cli": "evil:main"}},
            "would overwrite {venv}/bin/beta-cli, a file of the installed project beta",
        ),
    ],
    ids=["module", "console-script"],
)
def test_overwriting_a_file_of_another_project_is_refused(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    beta: dict[str, Any],
    evil: dict[str, Any],
    reason: str,
) -> None:
    served = index()
    served.add(wheel("beta", "1.0", **beta))
    served.add(wheel("evil", "1.0", **evil))
    assert install_trusted(safe_pip, venv, served, "beta").returncode == 0
    before = snapshot(venv.path)
    refused(
        install_trusted(safe_pip, venv, served, "evil"),
        "Nothing was installed",
        "evil 1.0 (evil-1.0-py3-none-any.whl) would not stay in its place",
        reason.format(site=venv.site_packages, venv=venv.path),
    )
    assert snapshot(venv.path) == before


_HOOK = "open({marker!r}, 'w').write('ran')"


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"evil.pth": f"import os; {_HOOK}\n"}, "evil.pth: a .pth file with an import line"),
        ({"sitecustomize.py": f"{_HOOK}\n"}, "sitecustomize.py: imported by site"),
        (
            {f"evil-1.0.data/data/{SITE}/evil_hook.pth": f"import os; {_HOOK}\n"},
            "evil_hook.pth: written onto the import path through .data/data",
        ),
    ],
    ids=["pth-import-line", "sitecustomize", "data-into-site-packages"],
)
def test_startup_hooks_need_permission_and_never_run_during_install(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    tmp_path: Path,
    files: dict[str, str],
    reason: str,
) -> None:
    marker = tmp_path / "hook-ran"
    hooks = {name: text.format(marker=str(marker)) for name, text in files.items()}
    served = index()
    served.add(wheel("evil", "1.0", files={"evil/__init__.py": "", **hooks}))
    before = snapshot(venv.path)
    refused(
        install_trusted(safe_pip, venv, served, "evil"),
        "Nothing was installed",
        "evil 1.0 (evil-1.0-py3-none-any.whl) installs startup hooks",
        reason,
        "--allow-startup-hooks evil",
    )
    assert snapshot(venv.path) == before

    result = install_trusted(safe_pip, venv, served, "--allow-startup-hooks", "evil", "evil")
    assert result.returncode == 0, result.stderr
    assert f"WARNING: evil-1.0 installs a startup hook: {venv.site_packages}" in result.stderr
    assert not marker.exists(), "the hook ran while installing (bytecode compilation)"
    venv.run("pass")
    assert marker.read_text() == "ran"


def test_startup_hooks_allowed_by_the_setting(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
) -> None:
    served = index()
    served.add(wheel("evil", "1.0", files={"evil.pth": "import sys\n"}))
    (safe_pip.cwd / "safe-pip.toml").write_text('allow-startup-hooks = ["evil"]\n')
    result = install_trusted(safe_pip, venv, served, "evil")
    assert result.returncode == 0, result.stderr
    assert (venv.site_packages / "evil.pth").is_file()


# Well-known hooks by their exact bytes, and a hook that is not new.
_PRECEDENCE = (
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == "
    "'local'; enabled and __import__('_distutils_hack').add_shim(); \n"
)


def _hooked(wheel: WheelFactory, name: str, version: str, hook: str, **files: str) -> Path:
    package = name.replace("-", "_")
    members = {f"{package}/__init__.py": "", f"{package}-hook.pth": hook, **files}
    return wheel(name, version, files=members)


def test_a_hook_identical_to_the_installed_one_is_not_new(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    served = index()
    served.add(_hooked(wheel, "hooky", "1.0", "import sys\n"))
    served.add(_hooked(wheel, "hooky", "2.0", "import sys\n"))
    succeeded(
        install_trusted(safe_pip, venv, served, "--allow-startup-hooks", "hooky", "hooky==1.0")
    )

    succeeded(install_trusted(safe_pip, venv, served, "-U", "hooky"))
    assert venv.installed()["hooky"] == "2.0"
    assert (venv.site_packages / "hooky-hook.pth").read_text() == "import sys\n"

    served.add(_hooked(wheel, "hooky", "3.0", "import sys, os\n"))
    before = snapshot(venv.path)
    refused(
        install_trusted(safe_pip, venv, served, "-U", "hooky"),
        "hooky 3.0 (hooky-3.0-py3-none-any.whl) installs startup hooks",
        "hooky-hook.pth: a .pth file with an import line",
        "--allow-startup-hooks hooky",
    )
    assert snapshot(venv.path) == before


def test_another_projects_identical_hook_is_new(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    served = index()
    served.add(wheel("hooky", "1.0", files={"shared-hook.pth": "import sys\n"}))
    served.add(wheel("other", "1.0", files={"other.pth": "import sys\n"}))
    succeeded(install_trusted(safe_pip, venv, served, "--allow-startup-hooks", "hooky", "hooky"))
    refused(install_trusted(safe_pip, venv, served, "other"), "--allow-startup-hooks other")


def test_setuptools_distutils_precedence_as_released_is_known(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    """``pip install -U pip setuptools wheel`` into a fresh environment."""
    served = index()
    hack = {"_distutils_hack/__init__.py": "def add_shim():\n    pass\n"}
    served.add(
        wheel(
            "setuptools",
            "80.0",
            files={"setuptools/__init__.py": "", "distutils-precedence.pth": _PRECEDENCE, **hack},
        )
    )
    succeeded(install_trusted(safe_pip, venv, served, "setuptools"))
    assert (venv.site_packages / "distutils-precedence.pth").read_text() == _PRECEDENCE


@pytest.mark.parametrize(
    ("name", "files"),
    [
        (
            "setuptools",
            {
                "distutils-precedence.pth": _PRECEDENCE.replace("add_shim", "add_shim2"),
                "_distutils_hack/__init__.py": "",
            },
        ),
        ("setuptools", {"distutils-precedence.pth": _PRECEDENCE}),
        (
            "not-setuptools",
            {"distutils-precedence.pth": _PRECEDENCE, "_distutils_hack/__init__.py": ""},
        ),
    ],
    ids=["changed-by-one-byte", "hack-from-elsewhere", "another-project"],
)
def test_anything_else_like_it_is_refused(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    name: str,
    files: dict[str, str],
) -> None:
    served = index()
    served.add(wheel(name, "80.0", files=files))
    refused(
        install_trusted(safe_pip, venv, served, name),
        "distutils-precedence.pth: a .pth file with an import line",
        f"--allow-startup-hooks {name}",
        untouched=venv,
    )


def _nspkg_line(package: str) -> str:
    """setuptools 34.3 to 69.0's line (sphinxcontrib-jsmath 1.0.1 ships it, for example)."""
    return (
        "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join("
        f"sys._getframe(1).f_locals['sitedir'], *{tuple(package.split('.'))!r});importlib = "
        "has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');"
        f"m = has_mfs and sys.modules.setdefault({package!r}, importlib.util.module_from_spec("
        f"importlib.machinery.PathFinder.find_spec({package!r}, [os.path.dirname(p)])));"
        f"m = m or sys.modules.setdefault({package!r}, types.ModuleType({package!r}));"
        "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n"
    )


@pytest.mark.parametrize(
    ("extra", "known"),
    [({}, True), ({"nsp.cpython-311-x86_64-linux-gnu.so": "not really"}, False)],
    ids=["known", "extension-module-in-the-way"],
)
def test_a_namespace_package_hook_as_setuptools_writes_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: WheelFactory,
    extra: dict[str, str],
    known: bool,
) -> None:
    served = index()
    files = {
        "nsp/part/__init__.py": "",
        "nsp_part-1.0-py3.7-nspkg.pth": _nspkg_line("nsp"),
        "nsp_part-1.0.dist-info/namespace_packages.txt": "nsp\n",
        **extra,
    }
    served.add(wheel("nsp-part", "1.0", files=files))
    result = install_trusted(safe_pip, venv, served, "nsp-part")
    if known:
        succeeded(result)
        assert venv.run("import nsp.part").returncode == 0
    else:
        refused(result, "nsp_part-1.0-py3.7-nspkg.pth: a .pth file", untouched=venv)


def test_several_projects_with_hooks_are_named_in_one_flag(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: WheelFactory
) -> None:
    served = index()
    served.add(_hooked(wheel, "alpha", "1.0", "import sys\n"))
    served.add(_hooked(wheel, "beta", "1.0", "import os\n"))
    served.add(wheel("gamma", "1.0"))
    stderr = refused(
        install_trusted(safe_pip, venv, served, "alpha", "beta", "gamma"),
        "alpha-hook.pth: a .pth file",
        "beta-hook.pth: a .pth file",
        "--allow-startup-hooks alpha,beta (or the allow-startup-hooks setting)",
        untouched=venv,
    )
    assert stderr.count("--allow-startup-hooks") == 1
    succeeded(
        install_trusted(
            safe_pip, venv, served, "--allow-startup-hooks", "alpha,beta", "alpha", "beta"
        )
    )

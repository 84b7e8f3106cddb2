"""End to end: one wheel per refusal reason. Each is refused with exit status 3, names the
project, the file and the reason, and writes nothing anywhere: the environment is
byte-for-byte as before and the file meant to escape exists nowhere around it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SafePip, Venv
from tests.support.environments import snapshot
from tests.support.index import PackageIndex
from tests.support.outcomes import refused

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


def _install(safe_pip: SafePip, venv: Venv, served: PackageIndex, *args: str) -> Any:
    return safe_pip(
        "--python", str(venv.python), "install", "-i", served.url, "--trust", ":all:", *args
    )


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
        _install(safe_pip, venv, served, "evil"),
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
    assert _install(safe_pip, venv, served, "beta").returncode == 0
    before = snapshot(venv.path)
    refused(
        _install(safe_pip, venv, served, "evil"),
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
        _install(safe_pip, venv, served, "evil"),
        "Nothing was installed",
        "evil 1.0 (evil-1.0-py3-none-any.whl) installs startup hooks",
        reason,
        "--allow-startup-hooks evil",
    )
    assert snapshot(venv.path) == before

    result = _install(safe_pip, venv, served, "--allow-startup-hooks", "evil", "evil")
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
    result = _install(safe_pip, venv, served, "evil")
    assert result.returncode == 0, result.stderr
    assert (venv.site_packages / "evil.pth").is_file()

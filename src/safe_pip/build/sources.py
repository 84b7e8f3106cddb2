"""The source tree a build runs in: an sdist unpacked with every member checked, a git
checkout of the exact commit pip resolved, or the local project the user named."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from safe_pip.errors import InstallError, PolicyDenied
from safe_pip.models import DistKind, PlannedDist, VcsRef
from safe_pip.resolve.pip_process import pip_environment

__all__ = ["checkout", "extract", "inside", "source_tree"]


def inside(root: Path, member: str) -> bool:
    """Whether ``member``, relative to the resolved ``root``, stays within it."""
    destination = (root / member).resolve()
    return destination == root or destination.is_relative_to(root)


def source_tree(
    dist: PlannedDist, archive: Path | None, area: Path, environ: Mapping[str, str]
) -> Path:
    """The directory to build ``dist`` from, unpacked or checked out under ``area``.

    :param archive: the verified sdist, for distributions that came as one.
    :raises InstallError: there is nothing to build from, or it cannot be unpacked.
    :raises PolicyDenied: the sdist has members outside its root.
    """
    if dist.kind is DistKind.LOCAL_DIR and dist.local_path:
        return Path(dist.local_path)
    if dist.vcs is not None:
        return checkout(dist.label, dist.vcs, area / "checkout", environ)
    if archive is None:
        msg = f"{dist.label}: no source archive to build from"
        raise InstallError(msg)
    return extract(archive, area / "source", dist.label)


def extract(archive: Path, destination: Path, label: str) -> Path:
    """Unpack an sdist, refusing members that would land outside ``destination``.

    :returns: its single top directory, or ``destination`` when it has none.
    """
    destination.mkdir(parents=True)
    root = destination.resolve()
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bad = [n for n in bundle.namelist() if not inside(root, n)]
                if not bad:
                    bundle.extractall(root)  # noqa: S202 - every member checked above
        else:
            with tarfile.open(archive) as bundle:
                bad = [m.name for m in bundle.getmembers() if not inside(root, m.name)]
                if not bad:
                    bundle.extractall(root, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        msg = f"{label}: cannot unpack {archive.name}: {exc}"
        raise InstallError(msg) from exc
    if bad:
        msg = f"{label}: {archive.name} has members outside its root ({bad[0]!r}); refused."
        raise PolicyDenied(msg)
    entries = list(root.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def checkout(label: str, vcs: VcsRef, destination: Path, environ: Mapping[str, str]) -> Path:
    """Clone ``vcs`` and check out its pinned commit.

    :raises InstallError: git failed.
    """
    commands = [
        ["git", "clone", "--quiet", "--no-checkout", vcs.url, str(destination)],
        ["git", "-C", str(destination), "checkout", "--quiet", vcs.commit],
    ]
    for command in commands:
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                env=pip_environment(environ),
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            msg = f"{label}: cannot check out {vcs.url}@{vcs.commit}: {detail.strip()}"
            raise InstallError(msg) from exc
    return destination / vcs.subdirectory if vcs.subdirectory else destination

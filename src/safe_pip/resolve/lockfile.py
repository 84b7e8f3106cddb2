"""Lock: turn a resolved plan into a fully pinned, hash-checked requirements file.

Every pinned version lists the sha256 of every file of that version the gateway served
for the target (the files that passed policy and compatibility filtering; for a
``--platform``-style foreign target, every file of the version), so the same file can be
installed on any machine the lock was made for, in pip's hash-checking mode. The output is
pip's own requirements format: ``pip install --require-hashes -r`` reads it too.

Nothing written into the file can start a line of its own: every digest (as an index
listed it) is 64 hexadecimal digits, or its file is left out (the lock fails if it is the
file pip chose), and a line break in a comment (the command that made the lock) is written
as an escape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from safe_pip.errors import SourceError, UsageError
from safe_pip.gateway.cache import is_sha256
from safe_pip.resolve.reqfile_syntax import LINE_BREAKS
from safe_pip.resolve.requirement_line import RequirementLine, names_index_project

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from safe_pip.models import IndexFile, Plan, PlannedDist, ServedProject, SourceSpec

__all__ = ["LockedProject", "check_lockable", "locked_projects", "render_requirements"]


_ONLY_INDEX_PROJECTS = (
    "a lock pins projects from package indexes by version and hash. Publish such a project "
    "to an index (or a --find-links directory) and require it by name, or install it "
    "separately."
)
_UNSAFE_RE = re.compile(f"[{LINE_BREAKS}\x00]")


def _digest(file: IndexFile) -> str | None:
    """The sha256 the index listed for the file, if well formed: anything else could carry
    a line break into the lock, and can never match a file anyway. (A page's malformed
    digest is already read as none, :func:`safe_pip.gateway.index_pages.parse_json_page`; this keeps
    the writer safe whoever made the file.)"""
    digest = (file.sha256 or "").lower()
    return digest if is_sha256(digest) else None


def _one_line(text: str) -> str:
    """``text`` with every character that would end a line for pip written as an escape."""
    return _UNSAFE_RE.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)


@dataclass(frozen=True, slots=True)
class LockedProject:
    """One pinned project: its version, its source and every acceptable file of it."""

    name: NormalizedName
    version: Version
    source: SourceSpec
    files: tuple[IndexFile, ...]

    @property
    def sha256s(self) -> tuple[str, ...]:
        """The distinct sha256 digests of the files, sorted (so the output is stable)."""
        return tuple(sorted({digest for f in self.files if (digest := _digest(f))}))


def check_lockable(lines: Sequence[RequirementLine]) -> None:
    """Refuse, before anything is resolved (or built), what a lock cannot pin.

    :raises UsageError: naming every editable, local path or URL requirement.
    """
    refused = []
    for line in lines:
        if line.editable:
            refused.append(f"the editable local project {line.text} ({line.origin})")
        elif not names_index_project(line):
            refused.append(f"{line.text} ({line.origin})")
    if refused:
        msg = f"safe-pip lock cannot lock {'; '.join(refused)}: {_ONLY_INDEX_PROJECTS}"
        raise UsageError(msg)


def _not_lockable(dist: PlannedDist) -> UsageError:
    where = dist.local_path or (dist.vcs.url if dist.vcs else "") or dist.filename
    msg = f"{dist.name}: cannot lock {dist.kind.value} {where}: {_ONLY_INDEX_PROJECTS}"
    return UsageError(msg)


def _locked(dist: PlannedDist, served: ServedProject | None) -> LockedProject:
    if dist.file is None or dist.source is None or served is None:
        raise _not_lockable(dist)
    if _digest(dist.file) is None:
        msg = (
            f"{dist.name}: {served.source.name} lists {dist.file.filename} with a sha256 that "
            f"is not 64 hexadecimal digits, so the lock cannot pin it. Nothing was written."
        )
        raise SourceError(msg)
    files = tuple(
        sorted(
            (f for f in served.served if f.version == dist.version and _digest(f)),
            key=lambda f: f.filename,
        )
    )
    # The file pip chose is always among them; keep it even if the page changed meanwhile.
    if dist.file not in files:
        files = (*files, dist.file)
    return LockedProject(dist.name, dist.version, served.source, files)


def locked_projects(
    plan: Plan, served: Mapping[NormalizedName, ServedProject | None]
) -> tuple[LockedProject, ...]:
    """The plan's projects with every file the gateway served of their versions, by name.

    :param served: the gateway's answers (:attr:`SourceSelector.answers`).
    :raises UsageError: a planned project is a local directory, a VCS checkout or a URL.
    """
    locked = [_locked(dist, served.get(dist.name)) for dist in plan]
    return tuple(sorted(locked, key=lambda project: project.name))


def render_requirements(projects: Sequence[LockedProject], header: Sequence[str]) -> str:
    """The pinned requirements file: a comment header, then one hashed entry per project.

    :param header: comment lines (without ``#``), e.g. the command that made the lock.
    """
    out = ["#"]
    out += [f"# {_one_line(line)}".rstrip() for line in header]
    out.append("#")
    for project in projects:
        hashes = [f"--hash=sha256:{digest}" for digest in project.sha256s]
        out.append(f"{project.name}=={project.version} \\")
        # The last hash ends the logical line: a comment after a "\" would end it anyway.
        out += [f"    {value} \\" for value in hashes[:-1]]
        out.append(f"    {hashes[-1]}")
        out.append(f"    # from {_one_line(project.source.name)}")
    return "\n".join(out) + "\n"

"""Reference data about the most-downloaded projects: what an impostor would borrow.

For each of the top projects, the repositories its metadata names and the console scripts
and top-level import names its wheels provide (the newest release's, and the newest of the
previous major version's: renamed commands are still typed), as read from the index by
``scripts/refresh_top_packages.py --projects``. Shipped as package data
(``data/top-projects.json``), versioned, and read only when a review needs it: installing
safe-pip or running a command with nothing first-seen never touches it.

The file is one JSON object: ``{"version": 1, "generated": DATE, "index": URL,
"projects": {NAME: {"r": [REPO, ...], "s": [SCRIPT, ...], "i": [IMPORT, ...]}}}`` with the
projects in rank order, canonical names throughout, and only the scripts and import names
that differ from the project's own name.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

__all__ = [
    "DATA_FILE",
    "FORMAT_VERSION",
    "REPOSITORY_HOSTS",
    "Reference",
    "load",
    "repositories",
    "repository",
]

FORMAT_VERSION = 1
DATA_FILE = "top-projects.json"

# Only code-hosting URLs name one project's repository (the thing whose stars a starjacker
# borrows). Documentation sites and home pages are shared freely (a plugin links to its
# framework's site), so they are not compared.
REPOSITORY_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"})
# Suffixes that point into a repository rather than at it (GitLab's "/-/" marks them all).
_INNER = frozenset({"tree", "blob", "issues", "pulls", "wiki", "releases", "actions", "-"})
# First segments that are site pages, not owners (``github.com/sponsors/hynek`` is a funding
# link that many of one author's projects share).
_NOT_OWNERS = frozenset({"sponsors", "orgs", "apps", "marketplace", "topics", "settings"})


def repository(url: str) -> str | None:
    """``host/owner/repo`` for a URL into a repository on a code host, else ``None``.

    Lower-cased (the hosts treat owner and repository names case-insensitively), without
    scheme, ``www.``, credentials, port, ``.git``, trailing slashes, query, fragment or
    anything below the repository (``/tree/main/docs``, ``/issues``). An owner alone
    (``github.com/pallets``) names no repository.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None
    if host not in REPOSITORY_HOSTS:
        return None
    segments = [segment for segment in parts.path.lower().split("/") if segment]
    # GitLab allows nested groups: everything before the first inner marker is the path.
    depth = 2
    if host == "gitlab.com":
        depth = next((i for i, s in enumerate(segments) if s in _INNER), len(segments))
    path = segments[:depth]
    if len(path) < 2 or path[0] in _NOT_OWNERS or any(s in _INNER for s in path):
        return None
    path[-1] = path[-1].removesuffix(".git")
    # An organisation's profile repository (github.com/aio-libs/.github) is linked from
    # all its projects and belongs to none of them.
    if not path[-1] or path[-1] == ".github":
        return None
    return "/".join([host, *path])


def repositories(metadata: Mapping[str, Any]) -> list[str]:
    """Every repository the core metadata names (``Home-page`` and ``Project-URL``), once.

    :param metadata: core metadata in the JSON form of pip's installation report
        (``home_page``, ``project_url`` as ``"Label, URL"`` strings).
    """
    urls = [str(metadata.get("home_page") or "")]
    urls += [str(entry).partition(",")[2] for entry in metadata.get("project_url") or ()]
    return list(dict.fromkeys(repo for url in urls if (repo := repository(url)) is not None))


@dataclass(frozen=True, slots=True)
class Reference:
    """What the top projects own, by the name an impostor would use."""

    rank: Mapping[str, int]
    """The projects described, by rank (0 is the most downloaded)."""
    claims: Mapping[str, tuple[NormalizedName, ...]]
    """Each repository and the top projects whose metadata names it, in rank order."""
    commands: Mapping[str, NormalizedName]
    """Each console-script name and the most downloaded top project that provides it."""
    imports: Mapping[str, NormalizedName]
    """Each top-level import name and the most downloaded top project that provides it."""

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Reference:
        """Build the look-ups from the shipped document.

        :raises ValueError: the document is of another format version.
        """
        if document.get("version") != FORMAT_VERSION:
            msg = f"reference data of format {document.get('version')!r}, not {FORMAT_VERSION}"
            raise ValueError(msg)
        projects = cast("dict[NormalizedName, dict[str, list[str]]]", document["projects"])
        claims: dict[str, list[NormalizedName]] = {}
        for name, entry in projects.items():
            for repo in entry.get("r", ()):
                claims.setdefault(repo, []).append(name)
        return cls(
            rank={name: rank for rank, name in enumerate(projects)},
            claims={repo: tuple(names) for repo, names in claims.items()},
            commands=_first_owner(projects, "s"),
            imports=_first_owner(projects, "i"),
        )


def _first_owner(
    projects: Mapping[NormalizedName, Mapping[str, Iterable[str]]], key: str
) -> dict[str, NormalizedName]:
    owners: dict[str, NormalizedName] = {}
    for name, entry in projects.items():  # rank order: the first owner is the most popular
        for item in entry.get(key, ()):
            owners.setdefault(item, name)
    return owners


@functools.cache
def load() -> Reference:
    """The shipped reference data, read once per process on first use."""
    text = resources.files("safe_pip").joinpath("data", DATA_FILE).read_text("utf-8")
    return Reference.from_document(json.loads(text))

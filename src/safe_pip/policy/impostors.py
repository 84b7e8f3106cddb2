"""Impostor checks: a first-seen project that borrows what belongs to a top project.

Three borrowings the name check alone (:mod:`safe_pip.policy.typosquat`) cannot see, each judged
against the reference data about the most-downloaded projects (:mod:`safe_pip.policy.reference`):

- **starjacking**: the project's metadata names a repository that belongs to a top project
  of another name, so that the repository's stars and history vouch for it;
- **slopsquatting**: the project's name is a console script or an import name of a top
  project (``huggingface-cli``, ``yaml``): the name a person, or a code assistant, guesses
  from a command or an ``import`` line;
- **placeholder**: the project is almost empty (a file too small for more than one tiny
  module) and its name is near a top project (the name check or one of the checks above
  found one): a squatted name, like the empty ``huggingface-cli`` that code assistants sent
  30,000 installs to, waiting for a payload in its next release.

The review runs before anything is fetched, so it has what the index and the resolver
gave: the core metadata and the file's size, not the wheel's listing. A project on the top
list itself is genuine by definition, and is never checked.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.policy.reference import Reference, repositories

__all__ = ["ALMOST_EMPTY", "Candidate", "Impostor", "ImpostorKind", "check_impostors"]

ALMOST_EMPTY = 2_000
"""Bytes: a file this small holds the metadata and one module of a few hundred bytes at
most (a wheel with nothing but its metadata is about 1 kB)."""

# A repository named by this many top projects is a monorepo or an organisation's shared
# home (github.com/googleapis/google-cloud-python names dozens, under many names): naming
# it says little about which project one is, so it is not compared. A repository of one or
# two top projects is theirs and their family's (poetry-core for poetry); anyone else who
# names it is warned about.
_SHARED_REPOSITORY = 3
# A name this long that begins another is a shortened form of it (pymupdf, pymupdf4llm);
# shorter ones are what slopsquatters take (pil, pillow).
_SHORTENED_MIN = 5


class ImpostorKind(enum.Enum):
    """What an impostor borrows."""

    STARJACKING = "claims a top project's repository"
    SLOPSQUATTING = "named after a top project's command or import name"
    PLACEHOLDER = "almost empty, with a name near a top project"


@dataclass(frozen=True, slots=True)
class Impostor:
    """One borrowing, naming the top project it borrows from."""

    name: NormalizedName
    intended: NormalizedName
    kind: ImpostorKind
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the review knows about a first-seen project before anything is fetched."""

    name: NormalizedName
    metadata: Mapping[str, Any]
    """Core metadata in the JSON form of pip's installation report."""
    size: int | None
    """Size in bytes of the file to install, as the index lists it."""
    near: NormalizedName | None = None
    """The top project the name resembles, when the name check found one."""


def check_impostors(
    candidates: Iterable[Candidate], reference: Reference, listed: Callable[[str], bool]
) -> dict[NormalizedName, list[Impostor]]:
    """Every borrowing found, by project; projects with none are left out.

    :param reference: :func:`safe_pip.policy.reference.load`.
    :param listed: whether a name is itself a top project (those are genuine).
    """
    found: dict[NormalizedName, list[Impostor]] = {}
    for candidate in candidates:
        if listed(candidate.name):
            continue
        checks = (_starjacking(candidate, reference), _slopsquatting(candidate.name, reference))
        impostors = [impostor for impostor in checks if impostor is not None]
        near = candidate.near or (impostors[0].intended if impostors else None)
        placeholder = _placeholder(candidate, near)
        if placeholder is not None:
            impostors.append(placeholder)
        if impostors:
            found[candidate.name] = impostors
    return found


def _starjacking(candidate: Candidate, reference: Reference) -> Impostor | None:
    for repo in repositories(candidate.metadata):
        owners = reference.claims.get(repo, ())
        if not owners or len(owners) >= _SHARED_REPOSITORY:
            continue
        # A sibling (poetry-core for poetry) or a project built there (mypy-boto3-s3 in
        # github.com/youtype/mypy_boto3_builder) names the repository it comes from.
        home = canonicalize_name(repo.rsplit("/", 1)[1])
        if any(_related(candidate.name, other) for other in (*owners, home)):
            continue
        reason = (
            f"its metadata names {repo}, the repository of {owners[0]!r}, as if it were "
            f"that project: a borrowed repository lends its stars and history"
        )
        return Impostor(candidate.name, owners[0], ImpostorKind.STARJACKING, reason)
    return None


def _related(name: str, owner: str) -> bool:
    """Whether two names belong to one family: the same first word, or one first word
    extending the other (poetry-core and poetry, hatchling and hatch)."""
    mine, theirs = name.split("-", 1)[0], owner.split("-", 1)[0]
    return mine.startswith(theirs) or theirs.startswith(mine)


def _slopsquatting(name: NormalizedName, reference: Reference) -> Impostor | None:
    if (owner := reference.commands.get(name)) is not None:
        what = "a command"
    elif (owner := reference.imports.get(name)) is not None:
        what = "the import name"
    else:
        return None
    if _shortened(name, owner):
        # A shortened or extended form of the project's own name (jupyter for
        # jupyter-core, pydantic-ai for pydantic-ai-slim) is the family's, published by it.
        return None
    reason = (
        f"{name!r} is {what} of {owner!r}, not a project of its own: the name people and "
        f"code assistants guess, and squatters register"
    )
    return Impostor(name, owner, ImpostorKind.SLOPSQUATTING, reason)


def _shortened(name: str, owner: str) -> bool:
    """Whether one name begins the other: in whole words (jupyter, jupyter-core), or in five
    letters or more (pymupdf, pymupdf4llm); or names the owner's bindings (pyjson5, json5).
    Not yaml for pyyaml, pil for pillow or dateutil for python-dateutil: what squatters
    take."""
    if name in (f"py{owner}", f"python-{owner}"):
        return True
    words, others = name.split("-"), owner.split("-")
    shorter, longer = sorted((words, others), key=len)
    if shorter == longer[: len(shorter)]:
        return True
    short, long = sorted((name, owner), key=len)
    return len(short) >= _SHORTENED_MIN and long.startswith(short)


def _placeholder(candidate: Candidate, near: NormalizedName | None) -> Impostor | None:
    if near is None or candidate.size is None or candidate.size > ALMOST_EMPTY:
        return None
    reason = (
        f"it is almost empty ({candidate.size} bytes: room for one tiny module at most) and "
        f"its name is near {near!r}: the form of a squatted name or a probe, whose next "
        f"release can bring the payload"
    )
    return Impostor(candidate.name, near, ImpostorKind.PLACEHOLDER, reason)

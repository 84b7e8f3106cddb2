"""Already satisfied: what is installed answers a request that needs nothing, without pip.

pip answers ``Requirement already satisfied`` when the installed distribution of every
requested project matches its requirement, and everything those need is installed and
matches too (and every constraint on those). safe-pip decides that first, from the
installed metadata alone, so a no-op install starts neither the gateway nor pip. Whatever
it cannot decide for certain (a URL, an editable, hashes, config settings, an extra the
project does not declare, metadata it cannot read, a constraint the installed version
breaks) goes down the whole pipeline, which decides as pip does: the shortcut can only
ever say less than pip would, never install or skip something pip would not.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.distfiles import marker_applies, requirements_needed
from safe_pip.install.installed import InstalledDist
from safe_pip.resolve.requirement_line import requirement_name

if TYPE_CHECKING:
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = ["already_satisfied", "requested_installed"]

Installed = Mapping[NormalizedName, Sequence[InstalledDist]]


def already_satisfied(
    lines: Sequence[RequirementLine],
    installed: Installed,
    environment: Mapping[str, str],
    *,
    follow_dependencies: bool = True,
) -> tuple[InstalledDist, ...] | None:
    """The installed distributions of the requested projects, when they and everything
    they need (unless ``follow_dependencies`` is off, as with ``--no-deps``) are installed
    and match; ``None`` when pip must be asked.

    :param installed: by name, in the order pip finds them (the first one counts).
    :param environment: the target's marker environment.
    """
    parsed = _requested(lines, environment)
    if parsed is None:
        return None
    requested, constraints = parsed
    taken = _closure(requested, installed, environment, follow_dependencies)
    if taken is None or not all(_meets(taken, constraint) for constraint in constraints):
        return None
    return requested_installed(lines, installed)


def requested_installed(
    lines: Sequence[RequirementLine],
    installed: Installed,
    planned: Collection[NormalizedName] = (),
) -> tuple[InstalledDist, ...]:
    """The requested projects (constraints aside) that are installed and not planned, by
    name: what pip reports as ``Requirement already satisfied``."""
    wanted = {requirement_name(line) for line in lines if not line.constraint}
    names = sorted({canonicalize_name(name) for name in wanted if name} - set(planned))
    return tuple(installed[name][0] for name in names if installed.get(name))


def _closure(
    requested: list[Requirement],
    installed: Installed,
    environment: Mapping[str, str],
    follow_dependencies: bool,
) -> dict[NormalizedName, InstalledDist] | None:
    """Every installed distribution the requirements take, following what each needs;
    ``None`` if one is missing, does not match or cannot be read for certain."""
    taken: dict[NormalizedName, InstalledDist] = {}
    pending, done = list(requested), set[tuple[NormalizedName, frozenset[str]]]()
    while pending:
        requirement = pending.pop()
        dist = _matching(requirement, installed)
        if dist is None:
            return None
        taken[dist.name] = dist
        key = (dist.name, frozenset(requirement.extras))
        if key in done:
            continue
        done.add(key)
        if not follow_dependencies:
            continue
        needed = _needed(dist, requirement.extras, environment)
        if needed is None:
            return None
        pending += needed
    return taken


def _meets(taken: Mapping[NormalizedName, InstalledDist], constraint: Requirement) -> bool:
    """A constraint only matters for a project the requirements take (as in pip)."""
    dist = taken.get(canonicalize_name(constraint.name))
    return dist is None or _matching(constraint, {dist.name: [dist]}) is not None


def _requested(
    lines: Sequence[RequirementLine], environment: Mapping[str, str]
) -> tuple[list[Requirement], list[Requirement]] | None:
    """The requirements and the constraints that apply here, or ``None`` if any line is
    more than a name, extras, a version specifier and a marker."""
    requirements: list[Requirement] = []
    constraints: list[Requirement] = []
    for line in lines:
        if line.editable or line.hashes or line.config_settings:
            return None
        try:
            requirement = Requirement(line.text)
            applies = marker_applies(requirement, environment)
        except (InvalidRequirement, ValueError):
            return None
        if requirement.url is not None:
            return None
        if applies:
            (constraints if line.constraint else requirements).append(requirement)
    return (requirements, constraints) if requirements else None


def _matching(requirement: Requirement, installed: Installed) -> InstalledDist | None:
    """The installed distribution pip would take as meeting the requirement."""
    dists = installed.get(canonicalize_name(requirement.name))
    if not dists:
        return None
    try:
        version = Version(dists[0].version)
    except InvalidVersion:
        return None
    # pip accepts an installed pre-release for any specifier that contains it.
    if not requirement.specifier.contains(version, prereleases=True):
        return None
    return dists[0]


def _needed(
    dist: InstalledDist, extras: set[str], environment: Mapping[str, str]
) -> list[Requirement] | None:
    try:
        metadata = (dist.metadata_dir / "METADATA").read_bytes()
    except OSError:
        return None
    return requirements_needed(metadata, environment, extras)

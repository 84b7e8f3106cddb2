"""The user's ``--hash`` pins, checked against the very bytes that are about to be installed.

pip checks the pins while it resolves; the fetch stage checks them again on the files it
hands to inspection and install (also when they come from the cache), so a pin holds even
if the resolver run and the install were ever to see different bytes. Every line that pins
a project must allow the file: hashes of repeated requirements and of constraints
intersect, as pip documents. (pip 26 itself checks a download only against the first
line's hashes; safe-pip is stricter.)
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.distfiles import marker_applies, parse_filename
from safe_pip.errors import HashMismatch

if TYPE_CHECKING:
    from safe_pip.models import PlannedDist
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = ["HashPin", "approving_digests", "check_pins", "file_digests", "pins_by_project"]

_MISMATCH_HEAD = (
    "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated "
    "the package versions, please update the hashes. Otherwise, examine the package "
    "contents carefully; someone may have tampered with them."
)


@dataclass(frozen=True, slots=True)
class HashPin:
    """The hashes one requirement or constraint line allows: any one of them may match."""

    text: str
    origin: str
    hashes: tuple[str, ...]
    """``algorithm:hexdigest``, lower case (as :mod:`safe_pip.resolve.requirements`
    normalises them)."""
    exact: bool = False
    """A requirement (not a constraint) pinned with ``==``/``===`` to one version: the pin
    that approves a first-seen project."""

    @property
    def algorithms(self) -> frozenset[str]:
        """The algorithms this line names."""
        return frozenset(value.partition(":")[0] for value in self.hashes)

    def allows(self, digests: Mapping[str, str]) -> bool:
        """Whether a file with these digests (``algorithm -> hex``) is allowed."""
        return any(f"{alg}:{digest}" in self.hashes for alg, digest in digests.items())


def _applies(requirement: Requirement, environment: Mapping[str, str]) -> bool:
    """pip ignores a line whose markers do not match the target: so do its pins."""
    try:
        return marker_applies(requirement, environment)
    except UndefinedEnvironmentName:
        return True


def _exact(requirement: Requirement) -> bool:
    specifiers = list(requirement.specifier)
    return (
        requirement.url is None
        and len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and "*" not in specifiers[0].version
    )


def _pin(
    line: RequirementLine, environment: Mapping[str, str]
) -> tuple[NormalizedName, HashPin] | None:
    """The project a hashed line pins, and its pin; ``None`` when it pins nothing here."""
    try:
        requirement = Requirement(line.text)
    except InvalidRequirement:
        # A bare URL or path: the file name says which project it is.
        tail = urllib.parse.urlsplit(line.text).path.rsplit("/", 1)[-1]
        parsed = parse_filename(urllib.parse.unquote(tail))
        return (parsed[0], HashPin(line.text, line.origin, line.hashes)) if parsed else None
    if not _applies(requirement, environment):
        return None
    exact = not line.constraint and _exact(requirement)
    pin = HashPin(line.text, line.origin, line.hashes, exact=exact)
    return canonicalize_name(requirement.name), pin


def pins_by_project(
    lines: Iterable[RequirementLine], environment: Mapping[str, str]
) -> dict[NormalizedName, tuple[HashPin, ...]]:
    """Every line with ``--hash`` options, grouped by the project it names.

    :param environment: the target's marker environment (lines that do not apply are skipped).
    """
    pins: dict[NormalizedName, list[HashPin]] = {}
    for line in lines:
        if not line.hashes or line.editable:
            continue
        found = _pin(line, environment)
        if found is not None:
            pins.setdefault(found[0], []).append(found[1])
    return {name: tuple(found) for name, found in pins.items()}


def approving_digests(
    pins: Mapping[NormalizedName, Sequence[HashPin]],
) -> dict[NormalizedName, frozenset[str]]:
    """The sha256 values of every exact pin, by project: a file matching one was approved
    explicitly by whoever wrote the requirement."""
    return {
        name: frozenset(
            value.partition(":")[2]
            for pin in found
            if pin.exact
            for value in pin.hashes
            if value.startswith("sha256:")
        )
        for name, found in pins.items()
        if any(pin.exact for pin in found)
    }


def file_digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """The hex digests of a file for each algorithm, read in one pass."""
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in sorted(set(algorithms))}
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


def _offence(dist: PlannedDist, path: Path, pin: HashPin, digests: Mapping[str, str]) -> str:
    lines = [f"    {dist.name}=={dist.version} from {path.name} (from {pin.origin}):"]
    for algorithm in sorted(pin.algorithms):
        expected = [value.partition(":")[2] for value in pin.hashes if value.startswith(algorithm)]
        lines.append(f"        Expected {algorithm} {expected[0]}")
        lines += [f"                  or {value}" for value in expected[1:]]
        lines.append(f"             Got        {digests[algorithm]}")
    return "\n".join(lines)


def check_pins(
    files: Mapping[NormalizedName, Path],
    dists: Sequence[PlannedDist],
    pins: Mapping[NormalizedName, Sequence[HashPin]],
) -> None:
    """Check every pinned project's file against every line that pins it.

    :param files: the files to install, by project (as the fetch stage returns them).
    :raises HashMismatch: listing every file that some line does not allow.
    """
    offences: list[str] = []
    for dist in dists:
        path = files.get(dist.name)
        project_pins = pins.get(dist.name, ())
        if path is None or not project_pins:
            continue
        digests = file_digests(path, {alg for pin in project_pins for alg in pin.algorithms})
        offences += [
            _offence(dist, path, pin, digests) for pin in project_pins if not pin.allows(digests)
        ]
    if offences:
        msg = "\n".join([_MISMATCH_HEAD, *offences, "Nothing was installed."])
        raise HashMismatch(msg)

"""Why pip found nothing to install, in words that say what to do about it.

pip's own error stays, with the gateway's addresses and safe-pip's temporary files
rewritten; where the gateway withheld what pip needed, the error says so instead: a
project with only source distributions (:class:`~safe_pip.errors.SdistRefused`), files
listed without a sha256, releases still inside the cooldown, and for a project no source
knows or none of whose files suit the target, a hint naming where else it could come from.
In pip's hash-checking mode, the error suggests the pinned, hashed lines to write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.errors import HashMismatch, PolicyDenied, ResolveError, SafePipError, SdistRefused
from safe_pip.gateway.cooldown import cooldown_refusal
from safe_pip.gateway.shadows import unmet_explanation
from safe_pip.models import DropReason, IndexFile, ServedProject

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from safe_pip.resolve.gateway_view import GatewayView

__all__ = ["pip_failure"]

_MISSING_RE = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) (\S+)"
)
# The headings of pip's hash-checking errors (pip._internal.exceptions.hashes): pip lists
# every offender under them, so safe-pip keeps pip's text and only changes the status.
_HASH_ERROR_HEADS = (
    "Hashes are required in --require-hashes mode",
    "In --require-hashes mode, all requirements must have their versions pinned",
    "THESE PACKAGES DO NOT MATCH THE HASHES",
    "Can't verify hashes for these",
)
_UNPINNED_HEAD = _HASH_ERROR_HEADS[1]


def pip_failure(
    stdout: str, stderr: str, clean: Callable[[str], str], gateway: GatewayView
) -> SafePipError:
    """The error for a pip run that failed, from its raw output; ``clean`` rewrites pip's
    text for the user (:class:`~safe_pip.resolve.handoff.Cleaner`)."""
    if any(head in stderr for head in _HASH_ERROR_HEADS):
        return _hash_failure(clean(stderr), _pin_suggestions(stderr, gateway))
    return _failure(clean(stderr) + _conflict_explanation(clean(stdout)), gateway)


def _conflict_explanation(stdout: str) -> str:
    """pip logs why a resolution is impossible on stdout; keep that part for the error."""
    start = stdout.find("The conflict is caused by:")
    if start < 0:
        return ""
    explanation = stdout[start:].split("To fix this", 1)[0]
    return "\n" + "\n".join(line for line in explanation.splitlines() if line.strip())


def _missing_projects(stderr: str) -> dict[NormalizedName, SpecifierSet]:
    """Each project pip found no version for, in the order pip named them, with the
    versions it asked for."""
    names: dict[NormalizedName, SpecifierSet] = {}
    for match in _MISSING_RE.finditer(stderr):
        try:
            requirement = Requirement(match.group(1))
        except InvalidRequirement:
            continue
        names.setdefault(canonicalize_name(requirement.name), requirement.specifier)
    return names


def _pip_says(stderr: str) -> str:
    return "\n".join(
        "  " + line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.strip()
    )


def _pin_suggestions(raw_stderr: str, gateway: GatewayView) -> list[str]:
    """``name==version --hash=sha256:...`` for each unpinned requirement pip named, from the
    file it chose (pip's own message gives the hash only for pinned requirements)."""
    start = raw_stderr.find(_UNPINNED_HEAD)
    if start < 0:
        return []
    section = raw_stderr[start:]
    ends = [section.find(head) for head in _HASH_ERROR_HEADS if section.find(head) > 0]
    section = section[: min(ends)] if ends else section
    base = re.escape(gateway.base_url)
    suggestions: list[str] = []
    for match in re.finditer(base + r"/files/[0-9a-f]{64}/[^\s'\")]+", section):
        served = gateway.lookup_url(match.group(0))
        if served is None or served.file.sha256 is None:
            continue
        line = f"{served.file.project}=={served.file.version} --hash=sha256:{served.file.sha256}"
        if line not in suggestions:
            suggestions.append(line)
    return suggestions


def _hash_failure(stderr: str, suggestions: Sequence[str]) -> HashMismatch:
    """pip refused in hash-checking mode; ``stderr`` is already cleaned."""
    text = "Hash-checking mode refused these requirements (nothing was installed).\n"
    text += _pip_says(stderr)
    if suggestions:
        text += "\nTo pin the unpinned ones to the files pip chose, use lines like these:\n"
        text += "\n".join("    " + line for line in suggestions)
    # pip stops at the first requirements it prepared; a lock pins and hashes all of them.
    text += (
        "\nsafe-pip lock -r <requirements> -o <file> writes every requirement and dependency "
        "pinned, with their hashes."
    )
    return HashMismatch(text)


def _failure(stderr: str, gateway: GatewayView) -> ResolveError | PolicyDenied:
    """The error for a failed resolution; ``stderr`` is already cleaned."""
    answers = gateway.selector.answers
    missing = _missing_projects(stderr)
    only_source: list[ServedProject] = []
    unhashed: list[ServedProject] = []
    for name in missing:
        served = answers.get(name)
        if served is not None and _withheld(served, DropReason.SDIST):
            only_source.append(served)
        elif served is not None and _withheld(served, DropReason.NO_SHA256):
            unhashed.append(served)
    if only_source:
        return SdistRefused(_sdist_message(only_source))
    if unhashed:
        return HashMismatch(_unhashed_message(unhashed))
    young = [s for name in missing if (s := answers.get(name)) and _withheld(s, DropReason.TOO_NEW)]
    if young:
        # An exact pin only a too-young release meets is the cooldown at work, not a
        # missing version: refused, naming the flag that takes it.
        policy = gateway.selector.policy
        return PolicyDenied(cooldown_refusal(young, policy, datetime.now(UTC)))
    pip_says = _pip_says(stderr)
    hints = [_hint(name, answers.get(name), wanted, gateway) for name, wanted in missing.items()]
    text = "Could not find a set of packages to install.\n" + pip_says
    hint_text = "\n".join(h for h in hints if h)
    return ResolveError(text + ("\n" + hint_text if hint_text else ""))


def _withheld(served: ServedProject, reason: DropReason) -> list[IndexFile]:
    served_versions = {f.version for f in served.served}
    return [
        d.file
        for d in served.dropped
        if d.reason is reason and d.file.version not in served_versions
    ]


def _sdist_message(projects: Sequence[ServedProject]) -> str:
    lines = [
        "These requirements can only be met by building source distributions, which runs "
        "code from the package while installing:"
    ]
    for served in projects:
        versions = sorted({f.version for f in _withheld(served, DropReason.SDIST)}, reverse=True)
        shown = ", ".join(str(v) for v in versions[:5]) + (" ..." if len(versions) > 5 else "")
        lines.append(f"  {served.page.name} {shown} (only source, from {served.source.name})")
    names = ",".join(s.page.name for s in projects)
    lines.append(
        f"Nothing was installed. If you trust these projects to run code at install time, "
        f"allow them with --allow-sdist {names} (or the allow-sdist setting)."
    )
    return "\n".join(lines)


def _unhashed_message(projects: Sequence[ServedProject]) -> str:
    lines = ["These requirements can only be met by files their source lists without a sha256:"]
    for served in projects:
        versions = sorted({f.version for f in _withheld(served, DropReason.NO_SHA256)})
        shown = ", ".join(str(v) for v in versions[-5:])
        lines.append(f"  {served.page.name} {shown} (from {served.source.name})")
    lines.append(
        "Nothing was installed: safe-pip installs no file it cannot verify. Ask the "
        "index's operator to list sha256 hashes (PEP 503/691), or use another source."
    )
    return "\n".join(lines)


def _hint(
    name: NormalizedName, served: ServedProject | None, wanted: SpecifierSet, gateway: GatewayView
) -> str:
    if served is None:
        asked = ", ".join(s.name for s in gateway.selector.candidates(name))
        return f"No source knows a project named {name!r} (asked: {asked})."
    incompatible = _withheld(served, DropReason.INCOMPATIBLE)
    if incompatible:
        newest = max(f.version for f in incompatible)
        return (
            f"{name}: no file of {newest} or other withheld versions suits the target "
            f"interpreter and platform (wheel tags or Requires-Python)."
        )
    if gateway.selector.pin_of(name) is not None:
        return ""  # the settings say where it comes from: no other source is an answer
    return unmet_explanation(
        name,
        wanted,
        served.source,
        [f.version for f in served.page.files],
        gateway.selector.elsewhere(name, served.source),
    )

"""Known vulnerabilities of what is planned, installed or pinned: matched, shown, refused.

The same matching serves ``safe-pip install`` (the plan, after resolution and before any
download), ``safe-pip audit`` (an environment or a pinned requirements file) and
``install --dry-run --audit``. Nothing here prints: findings go back to the CLI.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.errors import KnownVulnerability
from safe_pip.models import Finding, Plan, Severity
from safe_pip.policy.advisory_options import AdvisoryOptions
from safe_pip.policy.advisory_source import load_advisories
from safe_pip.policy.audit import Action, AuditEvent, AuditLog
from safe_pip.resolve.requirement_line import RequirementLine, requirement_name

if TYPE_CHECKING:
    import httpx

    from safe_pip.policy.advisories import Advisory
    from safe_pip.policy.advisory_index import AdvisoryDatabase

__all__ = [
    "Match",
    "Package",
    "VulnerabilityPrompter",
    "VulnerabilityReport",
    "advisories_ahead",
    "audit_events",
    "check_packages",
    "check_report",
    "enforce",
    "findings",
    "plan_packages",
    "refusal_message",
]

_ACCEPTED = "accepted at the prompt"

Package = tuple[NormalizedName, str]
"""A project and the version of it that is checked."""


@dataclass(frozen=True, slots=True)
class Match:
    """One advisory that affects one checked version."""

    name: NormalizedName
    version: str
    advisory: Advisory
    ignored: str | None = None
    """The reason it is ignored (``--ignore-vuln``, the ``ignore-vuln`` setting), if it is."""

    @property
    def first_fix(self) -> str | None:
        """The lowest fixed version above the checked one."""
        return self.advisory.first_fix(self.version)

    @property
    def way_out(self) -> str | None:
        """The specifier that leaves the affected range, if known (``>=fix``, ``>last``)."""
        return self.advisory.way_out(self.version)

    def describe(self) -> str:
        """``GHSA-x (CVE-y): summary; fixed in 2.0``."""
        aliases = f" ({', '.join(self.advisory.aliases)})" if self.advisory.aliases else ""
        if self.first_fix:
            fix = f"fixed in {self.first_fix}"
        elif self.way_out:
            fix = f"versions {self.way_out} are not affected"
        else:
            fix = "no fixed version is known"
        return f"{self.advisory.id}{aliases}: {self.advisory.title}; {fix}"


@dataclass(frozen=True, slots=True)
class VulnerabilityReport:
    """Everything checked, against which data, and what was found."""

    packages: tuple[Package, ...]
    matches: tuple[Match, ...] = ()
    source: str | None = None
    """The advisory source checked against; ``None``: nothing was checked."""

    @property
    def checked(self) -> bool:
        """Whether any advisory data was available."""
        return self.source is not None

    @property
    def active(self) -> tuple[Match, ...]:
        """The matches that were not ignored."""
        return tuple(match for match in self.matches if match.ignored is None)

    @property
    def ignored(self) -> tuple[Match, ...]:
        """The matches ignored on purpose, each with its reason."""
        return tuple(match for match in self.matches if match.ignored is not None)

    def of(self, name: str) -> tuple[Match, ...]:
        """The matches of one project."""
        wanted = canonicalize_name(name)
        return tuple(match for match in self.matches if match.name == wanted)


def plan_packages(plan: Plan) -> list[Package]:
    """Every planned distribution, as a project and a version."""
    return [(dist.name, str(dist.version)) for dist in plan]


def check_packages(
    packages: Iterable[Package],
    database: AdvisoryDatabase | None,
    options: AdvisoryOptions,
) -> VulnerabilityReport:
    """Match each package against the advisories of its project.

    :param database: ``None``: no data (nothing is checked, and the report says so).
    """
    unique = tuple(dict.fromkeys((canonicalize_name(n), v) for n, v in packages))
    if database is None:
        return VulnerabilityReport(unique)
    advisories = database.lookup(name for name, _ in unique)
    matches = [
        Match(name, version, advisory, options.ignore_reason(advisory))
        for name, version in unique
        for advisory in advisories.get(name, ())
        if advisory.affects(version)
    ]
    return VulnerabilityReport(unique, tuple(matches), database.source)


def findings(report: VulnerabilityReport) -> list[Finding]:
    """The matches as review findings: shown in the plan and after an install."""
    found = []
    for match in report.matches:
        if match.ignored is None:
            message = f"{match.name} {match.version} has a known vulnerability: {match.describe()}"
            found.append(Finding(match.name, Severity.WARNING, message))
        else:
            message = (
                f"{match.name} {match.version}: known vulnerability {match.describe()} "
                f"(ignored: {match.ignored})"
            )
            found.append(Finding(match.name, Severity.NOTE, message))
    return found


def _lower_bound(matches: Sequence[Match]) -> str | None:
    """One specifier that leaves every affected range of a project, or ``None``."""
    bounds = []
    for match in matches:
        way_out = match.way_out
        if way_out is None:
            return None
        strict = way_out.startswith(">") and not way_out.startswith(">=")
        bounds.append((Version(way_out.lstrip(">=")), strict, way_out))
    return max(bounds)[2] if bounds else None


def _allows_beyond(requirement: Requirement, bound: str) -> bool:
    """Whether the requirement allows some version at or beyond ``bound`` (``>=X``/``>X``).

    The candidates are the bound itself, every version the specifier names, and a version
    above any upper bound: one of them is allowed if any version beyond the bound is.
    """
    strict = not bound.startswith(">=")
    limit = Version(bound.lstrip(">="))
    candidates = [Version("999999")]
    for spec in requirement.specifier:
        try:
            candidates.append(Version(spec.version.removesuffix(".*")))
        except InvalidVersion:
            continue
    if not strict:
        candidates.append(limit)
    return any(
        (candidate > limit if strict else candidate >= limit)
        and requirement.specifier.contains(candidate, prereleases=True)
        for candidate in candidates
    )


def _excluding(name: str, bound: str, lines: Sequence[RequirementLine]) -> list[RequirementLine]:
    """The user's requirement lines for ``name`` that leave no version beyond ``bound``."""
    found = []
    for line in lines:
        named = requirement_name(line)
        if named is None or canonicalize_name(named) != name:
            continue
        try:
            requirement = Requirement(line.text)
        except InvalidRequirement:
            continue
        if not _allows_beyond(requirement, bound):
            found.append(line)
    return found


def _requirement_args(lines: Sequence[RequirementLine]) -> list[str]:
    """The requirement arguments of the command, as the user gave them."""
    args: list[str] = []
    for line in lines:
        if line.origin == "command line":
            args.append(("-e " if line.editable else "") + shlex.quote(line.text))
        else:
            file_arg = line.origin.rsplit(" (", 1)[0]
            flag, _, location = file_arg.partition(" ")
            args.append(f"{flag} {shlex.quote(location)}")
    return list(dict.fromkeys(args))


def _ways_out(report: VulnerabilityReport, lines: Sequence[RequirementLine]) -> list[str]:
    """For each vulnerable project: the exact requirement that takes the fix, or why not."""
    advice = []
    names = list(dict.fromkeys(match.name for match in report.active))
    additions = []
    for name in names:
        bound = _lower_bound([m for m in report.active if m.name == name])
        if bound is None:
            advice.append(
                f"  - {name}: no fixed version is known; remove it or ignore the advisory"
            )
            continue
        excluding = _excluding(name, bound, lines)
        if excluding:
            written = ", ".join(f"{line.text} ({line.origin})" for line in excluding)
            advice.append(
                f"  - {name}: the fix needs {name}{bound}, which your requirement {written} "
                f"excludes: change it to {name}{bound}"
            )
        else:
            additions.append(f"{name}{bound}")
    if additions:
        command = " ".join(
            ["safe-pip install", *_requirement_args(lines), *(shlex.quote(a) for a in additions)]
        )
        advice.insert(0, f"  - take the fixed versions: {command}")
    return advice


def refusal_message(report: VulnerabilityReport, lines: Sequence[RequirementLine]) -> str:
    """Why the plan is refused, and every way out: the fix, or ignoring the advisory."""
    listed = "\n".join(f"  - {m.name} {m.version}: {m.describe()}" for m in report.active)
    ids = ",".join(dict.fromkeys(m.advisory.id for m in report.active))
    first = report.active[0].advisory.id
    return (
        f"Known vulnerabilities in the plan (advisories from {report.source}); nothing was "
        f"installed:\n{listed}\n"
        f"Ways out:\n" + "\n".join(_ways_out(report, lines)) + "\n"
        f"  - or, having judged the risk acceptable, ignore them: --ignore-vuln {ids}, or "
        f'the setting [tool.safe-pip.ignore-vuln] "{first}" = "<the reason>" in the '
        f"project's pyproject.toml (the reason goes to the audit log)."
    )


def audit_events(report: VulnerabilityReport, *, refused: bool) -> list[AuditEvent]:
    """Audit log lines: each ignored match with its reason, and the refused ones."""
    events = [
        AuditEvent(
            Action.IGNORED,
            match.name,
            match.version,
            how=f"known vulnerability {match.advisory.id} ignored: {match.ignored}",
        )
        for match in report.ignored
    ]
    if refused:
        events += [
            AuditEvent(
                Action.REFUSED,
                match.name,
                match.version,
                how=f"known vulnerability {match.advisory.id}",
            )
            for match in report.active
        ]
    return events


def check_report(report: VulnerabilityReport, lines: Sequence[RequirementLine]) -> None:
    """Refuse a plan with a known vulnerability that was not ignored.

    :raises KnownVulnerability: naming each advisory, its fix, and the ways out.
    """
    if report.active:
        raise KnownVulnerability(refusal_message(report, lines))


@runtime_checkable
class VulnerabilityPrompter(Protocol):
    """Asks a person whether to install known-vulnerable versions (the terminal prompter
    does; it is only asked when someone can answer)."""

    def accept_vulnerable(self, matches: Sequence[Match]) -> bool:
        """Show the known vulnerabilities of the plan and return whether to install anyway."""


def enforce(
    report: VulnerabilityReport,
    lines: Sequence[RequirementLine],
    audit: AuditLog,
    prompter: object | None = None,
) -> None:
    """Before anything is fetched: record the ignored advisories (with their reasons) and
    refuse the plan if any other one applies, unless the user, asked, accepts it.

    :param prompter: asks the user if it is a :class:`VulnerabilityPrompter`; ``None``
        (unattended): refuse.
    :raises KnownVulnerability: naming each advisory, its fix, and the ways out.
    """
    if (
        report.active
        and isinstance(prompter, VulnerabilityPrompter)
        and prompter.accept_vulnerable(report.active)
    ):
        report = replace(
            report,
            matches=tuple(replace(m, ignored=m.ignored or _ACCEPTED) for m in report.matches),
        )
    audit.write(audit_events(report, refused=bool(report.active)))
    check_report(report, lines)


@contextmanager
def advisories_ahead(
    options: AdvisoryOptions, home: Path, client: Callable[[], httpx.Client], retries: int
) -> Iterator[Future[AdvisoryDatabase | None]]:
    """The advisory data, loaded (downloaded if stale) while pip resolves the plan."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="advisories") as pool:
        yield pool.submit(load_advisories, options, home, client, retries=retries)

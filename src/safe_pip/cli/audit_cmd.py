"""``safe-pip audit``: known vulnerabilities of an environment or of a pinned requirements
file, as a table, pip-audit-compatible JSON, or SARIF 2.1.0 for code-scanning tools.

Also how ``install --dry-run --audit`` presents the plan's vulnerabilities.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from safe_pip.cli.common import advisory_options, network_options, read_url, setup_logging
from safe_pip.cli.present import printable
from safe_pip.errors import EXIT_FAILED, EXIT_OK, UsageError
from safe_pip.policy.advisory_options import OSV_PYPI_ZIP

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

    from safe_pip.gateway.network import NetworkOptions
    from safe_pip.policy.advisory_index import AdvisoryDatabase
    from safe_pip.policy.advisory_options import AdvisoryOptions
    from safe_pip.policy.vulnerabilities import Match, Package, VulnerabilityReport
    from safe_pip.resolve.requirement_line import RequirementLine

__all__ = [
    "json_report",
    "present_plan_audit",
    "run_audit_command",
    "sarif_report",
]

_LINE_RE = re.compile(r"\(line (\d+)\)$")


# -- output ---------------------------------------------------------------------------------


def _fixed_in(match: Match) -> str:
    if match.first_fix:
        return match.first_fix
    return f"(none; {match.way_out} unaffected)" if match.way_out else "(none known)"


def _table(report: VulnerabilityReport, out: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None)
    # Names, versions and IDs are what people copy: they never wrap; the summary does.
    for heading in ("Project", "Version", "Advisory", "Fixed in"):
        table.add_column(heading, no_wrap=True)
    table.add_column("Summary", ratio=1)
    for match in report.active:
        aliases = ", ".join(match.advisory.aliases)
        advisory = match.advisory.id + (f" ({aliases})" if aliases else "")
        # Advisory data is shown as it is: never read as markup or control sequences.
        cells = (match.name, match.version, advisory, _fixed_in(match), match.advisory.title)
        table.add_row(*(Text(printable(cell)) for cell in cells))
    out.print(table)


def _summary(report: VulnerabilityReport) -> list[str]:
    lines = [f"ignored: {m.name} {m.version} {m.advisory.id} ({m.ignored})" for m in report.ignored]
    projects = len({m.name for m in report.active})
    if report.active:
        found = len(report.active)
        lines.append(
            f"Found {found} known {'vulnerability' if found == 1 else 'vulnerabilities'} in "
            f"{projects} of {len(report.packages)} projects (advisories from {report.source})."
        )
    else:
        lines.append(
            f"No known vulnerabilities in {len(report.packages)} projects (advisories from "
            f"{report.source})."
        )
    return lines


def _columns(report: VulnerabilityReport, out: Console) -> None:
    if report.active:
        _table(report, out)
    for line in _summary(report):
        out.print(line, markup=False, highlight=False)


def present_plan_audit(report: VulnerabilityReport | None, out: Console) -> int:
    """``install --dry-run --audit``: the plan's vulnerabilities; 1 if any, else 0.

    With no advisory data, nothing was checked: that is no pass (status 1).
    """
    if report is None or not report.checked:
        out.print(
            "No advisory data: the plan was NOT checked for known vulnerabilities (give "
            "--advisories, or the advisories setting).",
            markup=False,
            highlight=False,
        )
        return EXIT_FAILED
    _columns(report, out)
    return EXIT_FAILED if report.active else EXIT_OK


def json_report(report: VulnerabilityReport) -> dict[str, Any]:
    """pip-audit's JSON shape: every dependency with its (not ignored) vulnerabilities."""
    by_package: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for match in report.active:
        by_package.setdefault((match.name, match.version), []).append(
            {
                "id": match.advisory.id,
                "fix_versions": list(match.advisory.fix_versions()),
                "aliases": list(match.advisory.aliases),
                "description": match.advisory.details or match.advisory.summary,
            }
        )
    return {
        "dependencies": [
            {"name": name, "version": version, "vulns": by_package.get((name, version), [])}
            for name, version in report.packages
        ],
        "fixes": [],
    }


@dataclass(frozen=True, slots=True)
class _Where:
    uri: str
    line: int | None = None


def sarif_report(report: VulnerabilityReport, where: Mapping[str, _Where]) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per advisory, one result per vulnerable project version.

    :param where: each project's location: the requirements file and line, or its
        metadata directory in the environment.
    """
    from safe_pip import __version__

    rules: dict[str, dict[str, Any]] = {}
    results = []
    for match in report.active:
        advisory = match.advisory
        rules.setdefault(
            advisory.id,
            {
                "id": advisory.id,
                "name": advisory.id,
                "shortDescription": {"text": advisory.title},
                "fullDescription": {"text": advisory.details or advisory.title},
                "helpUri": f"https://osv.dev/vulnerability/{advisory.id}",
                "properties": {"tags": ["security", "vulnerability"], "aliases": advisory.aliases},
            },
        )
        location = where.get(match.name, _Where(match.name))
        physical: dict[str, Any] = {"artifactLocation": {"uri": location.uri}}
        if location.line is not None:
            physical["region"] = {"startLine": location.line}
        results.append(
            {
                "ruleId": advisory.id,
                "level": "error",
                "message": {"text": f"{match.name} {match.version}: {match.describe()}"},
                "locations": [{"physicalLocation": physical}],
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safe-pip",
                        "version": __version__,
                        "informationUri": "https://osv.dev",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


# -- what is audited ------------------------------------------------------------------------


def _uri(path: str) -> str:
    """A SARIF artifact location: relative paths stay relative (to the repository, for
    code scanning); absolute ones become file URIs."""
    return Path(path).as_uri() if Path(path).is_absolute() else Path(path).as_posix()


def _exact(line: RequirementLine) -> tuple[str, str] | None:
    """The name and the exact version a line pins, or ``None``."""
    if line.editable:
        return None
    try:
        requirement = Requirement(line.text)
    except InvalidRequirement:
        return None
    specs = list(requirement.specifier)
    if requirement.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
        return None
    if specs[0].version.endswith(".*"):
        return None
    return requirement.name, specs[0].version


def _pinned(line: RequirementLine) -> tuple[Package, _Where]:
    """``name==version`` of a requirements line, and where it was written.

    :raises UsageError: the line is not an exact pin.
    """
    exact = _exact(line)
    if exact is None:
        msg = (
            f"safe-pip audit -r needs exact pins (name==version, as safe-pip lock writes); "
            f"{line.text!r} ({line.origin}) is not one. To audit what it resolves to, run: "
            f"safe-pip install --dry-run --audit -r <file>"
        )
        raise UsageError(msg)
    file_arg = line.origin.rsplit(" (", 1)[0].partition(" ")[2]
    number = _LINE_RE.search(line.origin)
    where = _Where(_uri(file_arg), int(number.group(1)) if number else None)
    return (canonicalize_name(exact[0]), exact[1]), where


def _from_requirements(
    args: argparse.Namespace, network: NetworkOptions, environ: Mapping[str, str]
) -> tuple[list[Package], dict[str, _Where]]:
    from safe_pip.resolve.requirements import parse_files

    parsed = parse_files(
        args.requirements, [], environ=environ, fetch_url=read_url(network, environ)
    )
    packages: list[Package] = []
    where: dict[str, _Where] = {}
    for line in parsed.requirements:
        package, location = _pinned(line)
        packages.append(package)
        where.setdefault(package[0], location)
    return packages, where


def _from_environment(python: Path) -> tuple[list[Package], dict[str, _Where]]:
    from safe_pip.install.installed import find_installed
    from safe_pip.target import query_target

    target = query_target(python)
    installed = find_installed(Path(entry) for entry in target.sys_path)
    packages: list[Package] = []
    where: dict[str, _Where] = {}
    for name, dists in sorted(installed.items()):
        for dist in dists:
            packages.append((name, dist.version))
        where[name] = _Where(_uri(str(dists[0].metadata_dir)))
    return packages, where


def _no_source() -> UsageError:
    return UsageError(
        f"safe-pip audit needs advisory data: give --advisories URL|PATH (a zip or directory "
        f"of OSV JSON files), or set advisories under [tool.safe-pip]; osv.dev publishes "
        f"every PyPI advisory at {OSV_PYPI_ZIP}"
    )


def _arguments(
    argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[argparse.Namespace, Path | None]:
    """The arguments, read with pip's configuration for the audited environment, and that
    environment's interpreter (``None`` when ``-r`` names what is audited).

    :raises UsageError: requirements given as arguments.
    """
    from safe_pip.cli.options import parse_args
    from safe_pip.resolve.pipconfig import load_pip_config
    from safe_pip.target import find_interpreter, site_prefix_of

    first = parse_args("audit", argv)
    python = None if first.requirements else find_interpreter(first.python, environ)
    site = site_prefix_of(python) if python is not None else None
    args = parse_args(
        "audit", argv, load_pip_config("audit", environ, site, isolated=first.isolated)
    )
    if args.requirements_args:
        msg = (
            f"safe-pip audit takes no requirements ({' '.join(args.requirements_args)}): it "
            f"audits the environment, or a pinned requirements file given with -r"
        )
        raise UsageError(msg)
    return args, python


def _advisories(
    options: AdvisoryOptions, home: Path, network: NetworkOptions, environ: Mapping[str, str]
) -> AdvisoryDatabase | None:
    """The advisory data; a client is built only if the data has to be downloaded."""
    from safe_pip.gateway.network import build_client
    from safe_pip.policy.advisory_source import load_advisories

    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not clients:
            clients.append(build_client(network, environ))
        return clients[0]

    try:
        return load_advisories(options, home, client, retries=network.retries)
    finally:
        for opened in clients:
            opened.close()


def _write_report(
    report: VulnerabilityReport, where: Mapping[str, _Where], audit_format: str, out: Console
) -> None:
    """The report as asked: a table with its summary, pip-audit's JSON, or SARIF."""
    if audit_format == "json":
        out.file.write(json.dumps(json_report(report), indent=2) + "\n")
    elif audit_format == "sarif":
        out.file.write(json.dumps(sarif_report(report, where), indent=2) + "\n")
    else:
        _columns(report, out)


def run_audit_command(argv: Sequence[str], out: Console, err: Console) -> int:
    """Audit the target environment, or the pinned requirements files of ``-r``.

    Exit status 0: nothing found; 1: known vulnerabilities, or no data to check against.

    :raises SafePipError: for the caller to present.
    """
    from safe_pip.policy.vulnerabilities import check_packages
    from safe_pip.settings.files import load_file_settings
    from safe_pip.settings.options import default_home

    environ = dict(os.environ)
    args, python = _arguments(argv, environ)
    home = default_home(environ)
    options = advisory_options(args, load_file_settings(Path.cwd(), home, environ))
    setup_logging(args.verbose - args.quiet, args.log)
    if options.source is None:
        raise _no_source()
    network = network_options(args, args.trusted_hosts or [], environ)
    if python is None:
        packages, where = _from_requirements(args, network, environ)
    else:
        packages, where = _from_environment(python)
    database = _advisories(options, home, network, environ)
    if database is None:
        err.print(
            "ERROR: no advisory data could be read: nothing was checked.",
            markup=False,
            highlight=False,
        )
        return EXIT_FAILED
    report = check_packages(packages, database, options)
    _write_report(report, where, args.audit_format, out)
    return EXIT_FAILED if report.active else EXIT_OK

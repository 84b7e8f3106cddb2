"""Resolve: pip's resolver, run against the gateway only, decides what to install.

``pip install --dry-run --quiet --report - --index-url GATEWAY``, run by the target
interpreter (as ``pip --python TARGET`` would run it, one interpreter start sooner), with
pip's configuration shut out: ``PIP_CONFIG_FILE=/dev/null`` and every ``PIP_*`` variable
removed (``--isolated`` alone still reads the global and site pip.conf, whose extra
indexes would bypass the gateway). pip can only see what the gateway lets through, so it
can never build a source distribution that was not allowed, not even to read its metadata.

pip is handed sanitized files and its messages mapped back (:mod:`~safe_pip.resolve.handoff`);
its report becomes a :class:`~safe_pip.models.Plan` (:mod:`~safe_pip.resolve.report`), and
a failure is explained (:mod:`~safe_pip.resolve.failures`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.errors import ResolveError
from safe_pip.resolve.failures import pip_failure
from safe_pip.resolve.handoff import Cleaner, PipFiles
from safe_pip.resolve.pip_process import PipAhead, start_pip
from safe_pip.resolve.report import plan_from_report, read_report

if TYPE_CHECKING:
    from safe_pip.gateway.server import Gateway
    from safe_pip.models import Plan
    from safe_pip.resolve.gateway_view import GatewayView
    from safe_pip.resolve.requirement_line import RequirementLine
    from safe_pip.resolve.resolutions import Resolutions

__all__ = ["ResolveRequest", "resolve", "run_gated"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class ResolveRequest:
    """Everything the resolver run needs."""

    lines: tuple[RequirementLine, ...]
    pip_options: tuple[str, ...] = ()
    """Resolver-stage options, already in pip's syntax."""
    target_python: Path | None = None
    """``None``: resolve for the interpreter running safe-pip itself."""
    location_options: tuple[str, ...] = ()
    """``--target``/``--prefix``/``--user``/``--root``, so pip sees what is installed there."""
    verbose: int = 0
    resolutions: Resolutions | None = None
    """Where this question's earlier resolution is kept, when it may be reused."""
    ahead: PipAhead | None = None
    """A pip already started for the target, to run the resolver in."""


def _pip_arguments(
    subcommand: Sequence[str], gateway: GatewayView, files: PipFiles, *, verbose: int
) -> list[str]:
    arguments = [
        *subcommand,
        "--no-input",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        # pip installs an allowed sdist's build requirements with a pip of its own, given
        # the index on its command line (build_env.SubprocessBuildEnvironmentInstaller);
        # this feature has pip install them itself, so the gateway's secret stays off it.
        "--use-feature=inprocess-build-deps",
        "--index-url",
        gateway.index_url,
        "-r",
        str(files.requirements),
        "-c",
        str(files.constraints),
    ]
    if verbose > 1:
        arguments += ["-v"] * (verbose - 1)
    return arguments


def _start(
    target_python: Path | None,
    arguments: list[str],
    environ: Mapping[str, str],
    ahead: PipAhead | None,
    gateway: GatewayView,
) -> subprocess.Popen[str]:
    """pip on ``arguments``, which name the gateway with its secret: they reach pip on its
    standard input, and the log shows them with the secret left out."""
    logger.debug("resolver: pip %s", " ".join(arguments).replace(gateway.base_url, "<gateway>"))
    try:
        return start_pip(target_python or Path(sys.executable), arguments, environ, ahead)
    except OSError as exc:
        msg = f"Cannot start pip in {target_python or sys.executable}: {exc}"
        raise ResolveError(msg) from exc


def _run(process: subprocess.Popen[str], gateway: GatewayView) -> tuple[int, str, str]:
    """Wait for pip, stopping it the moment the gateway records an upstream failure."""
    try:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                failure = gateway.failure
                if failure is not None:
                    process.kill()
                    process.communicate()
                    raise failure from None
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    return process.returncode, stdout, stderr


def run_gated(
    subcommand: Sequence[str],
    lines: Sequence[RequirementLine],
    gateway: GatewayView,
    workdir: Path,
    environ: Mapping[str, str],
    *,
    target_python: Path | None = None,
    verbose: int = 0,
    ahead: PipAhead | None = None,
) -> str:
    """Run a pip subcommand that sees the gateway and nothing else; return its output.

    The user's requirement lines reach pip only as sanitized files; pip's messages come
    back with gateway addresses and those files mapped to what the user wrote.

    :raises SourceError: a source failed while pip ran (pip is stopped at once).
    :raises SdistRefused: a requirement could only be met by a source distribution.
    :raises ResolveError: pip failed.
    """
    files = PipFiles.write(workdir, lines)
    arguments = _pip_arguments(subcommand, gateway, files, verbose=verbose)
    process = _start(target_python, arguments, environ, ahead, gateway)
    returncode, stdout, stderr = _run(process, gateway)
    if gateway.failure is not None:
        raise gateway.failure
    clean = Cleaner(gateway, files)
    if returncode != 0:
        raise pip_failure(stdout, stderr, clean, gateway)
    for line in clean(stderr).splitlines():
        if line.strip():
            logger.warning("pip: %s", line.removeprefix("WARNING: "))
    return clean(stdout)


def resolve(
    request: ResolveRequest,
    gateway: Gateway,
    workdir: Path,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Run pip's resolver through the gateway and return the typed plan.

    :raises SourceError: a source failed while pip was resolving.
    :raises SdistRefused: a requirement can only be met by a source distribution.
    :raises ResolveError: pip found no installable set.
    """
    if request.resolutions is not None:
        kept = request.resolutions.reuse(gateway)
        if kept is not None:
            logger.info("resolve: every page pip read last time is unchanged; its plan stands")
            if request.ahead is not None:
                request.ahead.close()
            return plan_from_report(kept, gateway)
    gateway.ask_ahead(_first_asked(request.lines))
    report_path = workdir / "report.json"
    output = run_gated(
        [
            "install",
            "--dry-run",
            "--report",
            str(report_path),
            *request.location_options,
            *request.pip_options,
        ],
        request.lines,
        gateway,
        workdir,
        os.environ if environ is None else environ,
        target_python=request.target_python,
        verbose=request.verbose,
        ahead=request.ahead,
    )
    for line in output.splitlines():
        logger.debug("pip: %s", line)
    report = read_report(report_path)
    plan = plan_from_report(report, gateway)
    if request.resolutions is not None:
        request.resolutions.remember(gateway, report)
    return plan


def _first_asked(lines: Sequence[RequirementLine]) -> list[NormalizedName]:
    """The projects pip asks about first: those requirement lines name by name alone (a
    line with a marker may not apply to the target, and then pip never asks)."""
    names = []
    for line in lines:
        if line.constraint or line.editable:
            continue
        try:
            requirement = Requirement(line.text)
        except InvalidRequirement:
            continue
        if requirement.url is None and requirement.marker is None:
            names.append(canonicalize_name(requirement.name))
    return names

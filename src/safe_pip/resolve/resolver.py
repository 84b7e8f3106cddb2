"""Resolve: pip's resolver, run against the gateway only, decides what to install.

``pip install --dry-run --quiet --report - --index-url GATEWAY``, run by the target
interpreter (as ``pip --python TARGET`` would run it, one interpreter start sooner), with
pip's configuration shut out: ``PIP_CONFIG_FILE=/dev/null`` and every ``PIP_*`` variable
removed (``--isolated`` alone still reads the global and site pip.conf, whose extra
indexes would bypass the gateway). pip can only see what the gateway lets through, so it
can never build a source distribution that was not allowed, not even to read its metadata.

The installation report (format version 1) is parsed here, into :class:`~safe_pip.models.Plan`;
raw report dictionaries never leave this module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.distfiles import parse_filename
from safe_pip.errors import HashMismatch, PolicyDenied, ResolveError, SafePipError, SdistRefused
from safe_pip.gateway.cache import sha256_file
from safe_pip.gateway.cooldown import cooldown_refusal
from safe_pip.gateway.selection import FilePolicy, Pin
from safe_pip.gateway.served import ServedFile
from safe_pip.gateway.server import Gateway
from safe_pip.gateway.shadows import Elsewhere, unmet_explanation
from safe_pip.models import (
    DistKind,
    DropReason,
    IndexFile,
    Plan,
    PlannedDist,
    ServedProject,
    SourceSpec,
    VcsRef,
)
from safe_pip.resolve.pip_process import PipAhead, start_pip
from safe_pip.resolve.requirements import RequirementLine
from safe_pip.resolve.resolutions import Resolutions

__all__ = ["GatewayView", "ResolveRequest", "SelectorView", "resolve", "run_gated"]

logger = logging.getLogger(__name__)

_MISSING_RE = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) (\S+)"
)
_POLL_SECONDS = 0.1
# The headings of pip's hash-checking errors (pip._internal.exceptions.hashes): pip lists
# every offender under them, so safe-pip keeps pip's text and only changes the status.
_HASH_ERROR_HEADS = (
    "Hashes are required in --require-hashes mode",
    "In --require-hashes mode, all requirements must have their versions pinned",
    "THESE PACKAGES DO NOT MATCH THE HASHES",
    "Can't verify hashes for these",
)
_UNPINNED_HEAD = _HASH_ERROR_HEADS[1]


class SelectorView(Protocol):
    """What the resolver's messages read of the gateway's source selector: its answers,
    its policy, and where else a project could have come from."""

    @property
    def answers(self) -> Mapping[NormalizedName, ServedProject | None]: ...

    @property
    def policy(self) -> FilePolicy: ...

    def candidates(self, name: NormalizedName) -> Sequence[SourceSpec]: ...

    def pin_of(self, name: NormalizedName) -> Pin | None: ...

    def elsewhere(self, name: NormalizedName, served: SourceSpec) -> Sequence[Elsewhere]: ...


class GatewayView(Protocol):
    """What running pip against the gateway and reading its report need of the gateway:
    its addresses, the failure that stops pip, and what it served."""

    @property
    def base_url(self) -> str: ...

    @property
    def index_url(self) -> str: ...

    @property
    def failure(self) -> SafePipError | None: ...

    @property
    def selector(self) -> SelectorView: ...

    def lookup_url(self, url: str) -> ServedFile | None: ...


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


def _write_lines(path: Path, lines: Sequence[RequirementLine]) -> None:
    """Write the lines pip reads; each refused unless pip would read it back as it is.

    :raises UsageError: naming where a refused line was written.
    """
    text = "".join(line.to_pip_line() + "\n" for line in lines)
    # Readable by this user alone, like the work directory around it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)


@dataclass(frozen=True, slots=True)
class _Files:
    """The files handed to pip, so its messages can be mapped back to the user's lines."""

    requirements: Path
    constraints: Path
    requirement_lines: tuple[RequirementLine, ...]
    constraint_lines: tuple[RequirementLine, ...]

    @classmethod
    def write(cls, workdir: Path, lines: Sequence[RequirementLine]) -> _Files:
        files = cls(
            workdir / "requirements.txt",
            workdir / "constraints.txt",
            tuple(line for line in lines if not line.constraint),
            tuple(line for line in lines if line.constraint),
        )
        _write_lines(files.requirements, files.requirement_lines)
        _write_lines(files.constraints, files.constraint_lines)
        return files

    def original(self, flag: str, path: str, number: int) -> str | None:
        """The user's line behind ``-r <our file> (line N)``."""
        lines = (
            self.requirement_lines
            if path == str(self.requirements)
            else (self.constraint_lines if path == str(self.constraints) else ())
        )
        if 1 <= number <= len(lines):
            line = lines[number - 1]
            return f"{line.text} ({line.origin})"
        return None


def _pip_arguments(
    subcommand: Sequence[str], gateway: GatewayView, files: _Files, *, verbose: int
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
    files = _Files.write(workdir, lines)
    arguments = _pip_arguments(subcommand, gateway, files, verbose=verbose)
    process = _start(target_python, arguments, environ, ahead, gateway)
    returncode, stdout, stderr = _run(process, gateway)
    if gateway.failure is not None:
        raise gateway.failure
    clean = _Cleaner(gateway, files)
    if returncode != 0:
        if any(head in stderr for head in _HASH_ERROR_HEADS):
            raise _hash_failure(clean(stderr), _pin_suggestions(stderr, gateway))
        raise _failure(clean(stderr) + _conflict_explanation(clean(stdout)), gateway)
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
            return _plan(kept, gateway)
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
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"pip's resolver produced no readable report: {exc}"
        raise ResolveError(msg) from exc
    plan = _plan(report, gateway)
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


@dataclass(frozen=True, slots=True)
class _Cleaner:
    """Rewrites pip's output: gateway addresses and our temporary files become what they
    stand for, so messages show the user's own requirement lines and file names."""

    gateway: GatewayView
    files: _Files

    def __call__(self, text: str) -> str:
        base = re.escape(self.gateway.base_url)
        text = re.sub(
            base + r"/files/[0-9a-f]{64}/([^\s'\")]+)",
            lambda m: urllib.parse.unquote(m.group(1)),
            text,
        )
        text = re.sub(base + r"/simple/?", "the configured sources", text)
        # Whatever else names the gateway: its address carries its secret.
        text = text.replace(self.gateway.base_url, "the gateway")
        return re.sub(r"(-[rc]) (\S+) \(line (\d+)\)", self._line, text)

    def _line(self, match: re.Match[str]) -> str:
        original = self.files.original(match.group(1), match.group(2), int(match.group(3)))
        return original if original is not None else match.group(0)


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


def _plan(report: dict[str, Any], gateway: GatewayView) -> Plan:
    if str(report.get("version")) != "1":
        msg = f"pip produced an installation report of unknown version {report.get('version')!r}"
        raise ResolveError(msg)
    dists = tuple(_planned(item, gateway) for item in report.get("install", []))
    return Plan(dists=dists, environment=dict(report.get("environment", {})))


def _planned(item: dict[str, Any], gateway: GatewayView) -> PlannedDist:
    metadata = item.get("metadata", {})
    name = canonicalize_name(metadata.get("name", ""))
    version = Version(metadata.get("version", "0"))
    info = item.get("download_info", {})
    url = str(info.get("url", ""))
    common: dict[str, Any] = {
        "name": name,
        "version": version,
        "requested": bool(item.get("requested")),
        "metadata": metadata,
        "yanked": bool(item.get("is_yanked")),
    }
    served = gateway.lookup_url(url)
    if served is not None:
        return PlannedDist(kind=served.file.kind, file=served.file, source=served.source, **common)
    if "vcs_info" in info:
        return _vcs(url, info, info["vcs_info"], common)
    if url.startswith("file:"):
        return _local(url, info, common)
    return _direct(url, info, common)


def _archive_sha256(info: dict[str, Any]) -> str | None:
    archive = info.get("archive_info") or {}
    hashes = archive.get("hashes") or {}
    if "sha256" in hashes:
        return str(hashes["sha256"]).lower()
    algorithm, _, digest = str(archive.get("hash", "")).partition("=")
    return digest.lower() if algorithm == "sha256" and digest else None


def _local(url: str, info: dict[str, Any], common: dict[str, Any]) -> PlannedDist:
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if "dir_info" in info:
        editable = bool(info["dir_info"].get("editable"))
        return PlannedDist(
            kind=DistKind.LOCAL_DIR, local_path=str(path), editable=editable, **common
        )
    parsed = parse_filename(path.name)
    kind = parsed[2] if parsed else DistKind.SDIST
    sha256 = _archive_sha256(info) or sha256_file(path)
    return PlannedDist(kind=kind, local_path=str(path), local_sha256=sha256, **common)


def _direct(url: str, info: dict[str, Any], common: dict[str, Any]) -> PlannedDist:
    """A direct URL the user gave: its bytes are pinned to what pip saw while resolving."""
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    parsed = parse_filename(filename)
    sha256 = _archive_sha256(info)
    if parsed is None or sha256 is None:
        msg = f"{common['name']}: cannot install from {url}: not a verifiable distribution file."
        raise PolicyDenied(msg)
    file = IndexFile(
        filename=filename,
        url=url,
        project=parsed[0],
        version=parsed[1],
        kind=parsed[2],
        sha256=sha256,
    )
    return PlannedDist(kind=parsed[2], file=file, **common)


def _vcs(
    url: str, info: dict[str, Any], vcs_info: dict[str, Any], common: dict[str, Any]
) -> PlannedDist:
    """A version-control requirement, pinned to the commit pip resolved it at."""
    commit = str(vcs_info.get("commit_id", ""))
    if vcs_info.get("vcs") != "git" or not commit:
        msg = (
            f"{common['name']}: cannot install from {url}: safe-pip builds only git "
            f"checkouts pinned to a commit."
        )
        raise PolicyDenied(msg)
    ref = VcsRef(url, commit, str(info.get("subdirectory", "")))
    return PlannedDist(kind=DistKind.VCS, vcs=ref, **common)

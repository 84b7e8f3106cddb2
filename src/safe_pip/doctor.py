"""``safe-pip doctor``: the ways around safe-pip in this set-up, each with its fix.

Everything is read, nothing is changed, nothing from the project is run. What a child
process cannot see (a shell alias) is not guessed at: a ``pip`` on PATH that is plain pip
is reported, since every script, Makefile and CI job reaches it whatever the alias says.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from safe_pip.errors import SafePipError
from safe_pip.gateway.network import redact_url
from safe_pip.install.installed import find_installed
from safe_pip.policy.trust import TrustStore
from safe_pip.resolve.pipconfig import config_files, load_pip_config
from safe_pip.settings.sources import DEFAULT_INDEX
from safe_pip.target import (
    InterpreterChoice,
    choose_interpreter,
    is_own_interpreter,
    query_target,
    site_prefix_of,
)

__all__ = ["Diagnosis", "Finding", "diagnose", "project_files"]

# Files of a project that install packages when an image is built or CI runs.
_PROJECT_PATTERNS = (
    "Dockerfile*",
    "*.Dockerfile",
    "Containerfile*",
    ".github/workflows/*.yml",
    ".github/workflows/*.yaml",
    ".gitlab-ci.yml",
    "tox.ini",
    "noxfile.py",
    "Makefile",
)
# `pip install`, `pip3.12 install`, `python -m pip install`, `uv pip install`, and nox's
# `session.install(` (pip underneath); not `safe-pip install`.
_PLAIN_PIP = re.compile(
    r"(?<![\w.-])(?:python[\d.]*\s+-m\s+pip|pip[\d.]*)\s+install\b|\bsession\.install\("
)
_ALIAS_NOTE = (
    "A shell alias cannot be seen from here: `type pip` in your shell says whether `pip` "
    "is aliased to safe-pip there."
)
_REDIRECT_NOTE = (
    "Sources that answered with a redirect are not listed: safe-pip keeps no record of "
    "redirects (it refuses one that leaves the source's host as it happens)."
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One way around safe-pip, and how to close it."""

    check: str
    """What kind: ``pip-on-path``, ``python-m-pip``, ``extra-index``, ``project-file``,
    ``trust-store``, ``pip-config``."""
    problem: str
    fix: str
    where: str | None = None
    """The file (and line) or command concerned."""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every finding, and what could not be checked (and why)."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """Whether no way around safe-pip was found."""
        return not self.findings


def diagnose(environ: Mapping[str, str], project: Path, home: Path) -> Diagnosis:
    """Check the commands on PATH, the target interpreter, pip's configuration, the
    project's build and CI files and the trust store."""
    findings: list[Finding] = []
    notes: list[str] = [_ALIAS_NOTE]
    findings += _pip_on_path(environ)
    try:
        choice: InterpreterChoice | None = choose_interpreter(None, environ)
    except SafePipError as exc:
        choice = None
        notes.append(f"`python -m pip` was not checked: {exc}")
    if choice is not None:
        findings += _python_m_pip(choice, notes)
    findings += _extra_indexes(environ, site_prefix_of(choice.python) if choice else None)
    findings += _project_installs(project)
    findings += _trust_store(home)
    notes.append(_REDIRECT_NOTE)
    return Diagnosis(tuple(findings), tuple(notes))


def _pip_on_path(environ: Mapping[str, str]) -> Iterator[Finding]:
    path = environ.get("PATH", "")
    safe_pip = shutil.which("safe-pip", path=path) or "$(command -v safe-pip)"
    for name in ("pip", "pip3"):
        found = shutil.which(name, path=path)
        if found is None or _runs_safe_pip(Path(found)):
            continue
        yield Finding(
            "pip-on-path",
            f"`{name}` on PATH is plain pip ({found}): whatever runs `{name} install` "
            f"without your interactive shell's alias (scripts, Makefiles, CI, sudo, another "
            f"shell) bypasses safe-pip.",
            f"Put a `{name}` that runs safe-pip first on PATH, e.g. ln -s {safe_pip} "
            f"~/.local/bin/{name} with ~/.local/bin before {Path(found).parent} on PATH; "
            f"an alias covers interactive shells only.",
            found,
        )


def _runs_safe_pip(command: Path) -> bool:
    """Whether a ``pip`` command is safe-pip: a link to it, or its console script."""
    try:
        if command.resolve().name == "safe-pip":
            return True
        with command.open("rb") as stream:
            head = stream.read(4096)
    except OSError:
        return False
    return b"safe_pip" in head


def _python_m_pip(choice: InterpreterChoice, notes: list[str]) -> Iterator[Finding]:
    if is_own_interpreter(choice.python):
        notes.append(
            f"`python -m pip` in safe-pip's own environment ({choice.python}) is the pip "
            f"safe-pip resolves with; use safe-pip there."
        )
        return
    try:
        target = query_target(choice.python)
    except SafePipError as exc:
        notes.append(f"`python -m pip` was not checked: {exc}")
        return
    installed = find_installed(Path(entry) for entry in target.sys_path if entry)
    found = installed.get(canonicalize_name("pip"))
    if not found:
        return
    yield Finding(
        "python-m-pip",
        f"`python -m pip` for {choice.python} ({choice.reason}) runs plain pip "
        f"{found[0].version} from {found[0].site_dir}; no alias covers `python -m pip`.",
        "Type `safe-pip install` where you would type `python -m pip install`; in a "
        "virtual environment of your own, `safe-pip uninstall pip` removes the way around "
        "(safe-pip needs no pip in the environment it installs into).",
        str(choice.python),
    )


def _extra_indexes(environ: Mapping[str, str], site: Path | None) -> Iterator[Finding]:
    """:param site: the target's environment, for its own pip.conf."""
    try:
        config = load_pip_config("install", environ, site)
    except SafePipError as exc:
        yield Finding(
            "pip-config",
            str(exc),
            "Repair the file: safe-pip, like pip, stops at a configuration it cannot read.",
        )
        return
    extra = config.get("extra-index-url", "").split()
    if not extra:
        return
    index = redact_url(config.get("index-url") or DEFAULT_INDEX)
    origin = _extra_index_origin(environ, site)
    shown = ", ".join(redact_url(url) for url in extra)
    yield Finding(
        "extra-index",
        f"{origin} adds the extra index {shown}. pip merges every index; safe-pip searches "
        f"extra indexes first, before the index-url {index}, and a project the first of "
        f"them knows is served from it alone, even one your index-url has: a public upload "
        f"there can stand in for a private name.",
        "Say which source serves what: name the sources in [tool.safe-pip.sources] and pin "
        'private projects to theirs in [tool.safe-pip.pins] ("corp-*" = "corp"), or pass '
        "--extra-index-url only on the commands that need it.",
        origin,
    )


def _extra_index_origin(environ: Mapping[str, str], site: Path | None) -> str:
    if environ.get("PIP_EXTRA_INDEX_URL"):
        return "PIP_EXTRA_INDEX_URL"
    files = [
        str(path)
        for path in config_files(environ, site)
        if path.is_file() and re.search(r"extra[-_]index[-_]url", _text(path), re.IGNORECASE)
    ]
    return f"pip's configuration ({', '.join(files) or 'pip.conf'})"


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def project_files(project: Path) -> list[Path]:
    """The project's Dockerfiles, CI files, tox/nox files and Makefile, sorted."""
    found: set[Path] = set()
    for pattern in _PROJECT_PATTERNS:
        directory, _, name = pattern.rpartition("/")
        base = project / directory if directory else project
        if not base.is_dir():
            continue
        found.update(
            entry
            for entry in base.iterdir()
            if entry.is_file() and fnmatch.fnmatch(entry.name, name)
        )
    return sorted(found)


def _project_installs(project: Path) -> Iterator[Finding]:
    for path in project_files(project):
        for number, line in _logical_lines(_text(path)):
            if line.lstrip().startswith("#") or "--require-hashes" in line:
                # A comment; or a hash-locked install (how safe-pip itself is bootstrapped).
                continue
            match = _PLAIN_PIP.search(line)
            if match is None:
                continue
            relative = path.relative_to(project)
            yield Finding(
                "project-file",
                f"{relative} line {number} installs with plain pip ({match.group(0).strip()}): "
                f"what it installs is not checked.",
                "Install safe-pip first (see examples/docker/Dockerfile), then use "
                "`safe-pip install` there, with --require-hashes -r for a locked set "
                "(`safe-pip lock` writes one).",
                f"{relative}:{number}",
            )


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of its first line."""
    start, parts = 0, list[str]()
    for number, line in enumerate(text.splitlines(), start=1):
        if not parts:
            start = number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _trust_store(home: Path) -> Iterator[Finding]:
    store = TrustStore(home)
    try:
        store.load()
    except SafePipError as exc:
        yield Finding(
            "trust-store",
            str(exc),
            f"Repair the file, or move it aside (mv {store.path} {store.path}.broken): "
            f"until then safe-pip cannot tell what was approved.",
            str(store.path),
        )

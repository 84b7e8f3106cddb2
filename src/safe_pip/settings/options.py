"""The settings object the pipeline reads, what the settings layers say, and the defaults
that depend on the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.network import NetworkOptions
from safe_pip.models import Exemption, NameSet, Pin, SourceMarks, SourceSpec
from safe_pip.policy.advisory_options import AdvisoryOptions

__all__ = ["FileSettings", "Settings", "default_home", "is_unattended"]


def default_home(environ: Mapping[str, str]) -> Path:
    """``$SAFE_PIP_HOME``, else the platform's per-user data directory."""
    if environ.get("SAFE_PIP_HOME"):
        return Path(environ["SAFE_PIP_HOME"]).expanduser()
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "safe-pip"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "safe-pip"
    return Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "safe-pip"


def is_unattended(no_input: bool, environ: Mapping[str, str], *, stdin_tty: bool) -> bool:
    """No prompt may be shown: no terminal, ``--no-input``, ``PIP_NO_INPUT`` or ``CI``."""
    if no_input or not stdin_tty:
        return True
    if environ.get("PIP_NO_INPUT", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class FileSettings:
    """The merged content of settings files and ``SAFE_PIP_*`` variables."""

    trust: tuple[str, ...] = ()
    allow_sdist: tuple[str, ...] = ()
    allow_startup_hooks: tuple[str, ...] = ()
    min_release_age: float | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    source_marks: Mapping[str, SourceMarks] = field(default_factory=dict)
    """What the ``sources`` table says of each named source (private, mirror-of, ...)."""
    pins: Mapping[str, str] = field(default_factory=dict)
    advisories: str | None = None
    advisories_max_age: float | None = None
    require_advisories: bool = False
    ignore_vuln: Mapping[str, str] = field(default_factory=dict)
    """Advisory IDs to ignore, each with the reason written in the settings."""
    allow_new: tuple[Exemption, ...] = ()
    """``allow-new``: releases let through the cooldown, with a reason and an expiry."""
    files: tuple[Path, ...] = ()
    """The settings files that were read, for messages."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the pipeline needs to know, decided once by the CLI."""

    home: Path
    cache_dir: Path | None
    """``None``: ``--no-cache-dir``, use a temporary cache for this command."""
    sources: tuple[SourceSpec, ...]
    pins: tuple[Pin, ...] = ()
    file_policy: FilePolicy = field(default_factory=FilePolicy)
    trust: NameSet = field(default_factory=NameSet)
    """First-seen projects approved by ``--trust`` or by the settings (the union)."""
    trust_flags: NameSet = field(default_factory=NameSet)
    """The part of ``trust`` given by ``--trust`` on this command: only naming a project
    there approves a changed source."""
    allow_startup_hooks: NameSet = field(default_factory=NameSet)
    """Projects that may install code run at every interpreter start (``.pth``, ...)."""
    network: NetworkOptions = field(default_factory=NetworkOptions)
    advisories: AdvisoryOptions = field(default_factory=AdvisoryOptions)
    """Where known vulnerabilities come from (no source: nothing is checked)."""
    unattended: bool = True
    verbosity: int = 0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

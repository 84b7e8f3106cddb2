"""The first stage of an install: the target environment, its scheme, and whether what is
installed there already satisfies the request.

It imports none of the gateway, resolve, build or install machinery: a request that is
already satisfied is answered from the installed metadata, as pip's ``Requirement already
satisfied`` is, without starting the gateway or pip.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.errors import UsageError
from safe_pip.install.installed import InstalledDist, find_installed
from safe_pip.install.satisfied import already_satisfied
from safe_pip.locking import file_lock
from safe_pip.target import (
    Scheme,
    TargetEnvironment,
    check_externally_managed,
    choose_scheme,
    query_target,
)

if TYPE_CHECKING:
    from safe_pip.pipeline.request import InstallRequest
    from safe_pip.resolve.ahead import Ahead
    from safe_pip.settings.options import Settings

__all__ = ["Located", "locate", "lock_path", "satisfied_without_pip", "target_for"]

# Options under which an installed distribution that meets the requirement is kept, as by
# default: anything else (--force-reinstall, --ignore-installed, --upgrade-strategy, ...)
# goes through pip.
_KEEPS_INSTALLED = frozenset({"--no-deps", "--pre", "--prefer-binary"})


@dataclass(frozen=True, slots=True)
class Located:
    """Where the install goes."""

    target: TargetEnvironment
    scheme: Scheme


def target_for(request: InstallRequest, ahead: Ahead | None) -> TargetEnvironment:
    """The target environment, from the interpreter started ahead if there is one."""
    if ahead is not None:
        return ahead.target_environment(request.python, request.prefix)
    return query_target(request.python, request.prefix)


def locate(request: InstallRequest, ahead: Ahead | None) -> Located:
    """The target and the scheme the request installs into.

    :raises UsageError: the target cannot be run, is no virtual environment under
        ``--require-virtualenv``, or is externally managed (PEP 668).
    """
    target = target_for(request, ahead)
    _check_environment(request, target)
    scheme = choose_scheme(
        target, user=request.user, target_dir=request.target_dir, root=request.root
    )
    return Located(target, scheme)


def _check_environment(request: InstallRequest, target: TargetEnvironment) -> None:
    if request.require_venv and not target.is_venv:
        msg = (
            "Could not find an activated virtualenv (required by --require-virtualenv). "
            "Activate one, or name it with --python."
        )
        raise UsageError(msg)
    into_environment = not (
        (request.dry_run and request.write_report)
        or request.root
        or request.target_dir
        or request.prefix
    )
    if into_environment and not request.break_system_packages:
        check_externally_managed(target)


def lock_path(settings: Settings, scheme: Scheme) -> Path:
    """The lock every install into this scheme holds while it reads and writes it."""
    # The real path: the same environment reached through a symlink is the same lock.
    purelib = os.path.realpath(scheme.real(scheme.paths["purelib"]))
    key = hashlib.sha256(purelib.encode()).hexdigest()[:32]
    return settings.home / "locks" / f"env-{key}.lock"


def satisfied_without_pip(
    request: InstallRequest, settings: Settings, located: Located
) -> tuple[InstalledDist, ...] | None:
    """The requested distributions when what is installed already satisfies the request and
    pip would change nothing; ``None`` when pip must be asked."""
    markers = located.target.markers
    if markers is None or not _keeps_installed(request, settings):
        return None
    lock = nullcontext() if request.dry_run else file_lock(lock_path(settings, located.scheme))
    with lock:
        installed = find_installed(located.scheme.satisfying_dirs(located.target))
        return already_satisfied(
            request.lines,
            installed,
            markers,
            follow_dependencies="--no-deps" not in request.resolver_options,
        )


def _keeps_installed(request: InstallRequest, settings: Settings) -> bool:
    """Whether pip would keep an installed distribution that meets its requirement, and
    nothing else is expected of the command: no upgrade, no other location or platform,
    no advisories to consult."""
    return not (
        request.upgrade
        or request.target_dir
        or request.prefix
        or request.root
        or request.foreign_platform
        or settings.advisories.source is not None
        or not set(request.resolver_options) <= _KEEPS_INSTALLED
    )

"""The one exception hierarchy of safe-pip, each class carrying its exit status.

::

    SafePipError                 1  failed
    ├── UsageError               2  the command line or a settings file is wrong
    ├── NetworkError             1  a source or a file could not be reached
    │   └── SourceError          1  a source answered with an error (fail closed)
    │       └── UnsafeSource     3  a source pointed where it may not (also PolicyDenied)
    ├── ResolveError             1  pip's resolver found no installable set
    ├── InstallError             1  writing into the environment failed (rolled back)
    ├── TrustStoreError          1  the trust store is unreadable or locked
    ├── OutputClosed             1  the command's output was closed (a pipe ended)
    ├── AdvisoryError            1  required vulnerability data could not be had
    └── PolicyDenied             3  refused by policy; nothing was installed
        ├── SdistRefused             only source distributions would satisfy
        ├── HashMismatch             a file's sha256 differs from the expected one
        ├── FirstSeenRefused         a first-seen project was not approved
        ├── UnsafeWheel              a wheel failed inspection
        ├── ExternallyManaged        PEP 668: the environment is managed elsewhere
        ├── KnownVulnerability       a planned version has a known vulnerability
        └── AmbiguousSource          a name is on two sources and nobody said which

Interrupted (130) is not an error class: the CLI maps ``KeyboardInterrupt``.

Every message names the project, the reason and the fix, so the CLI prints
``str(error)`` and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.models import Shadow

__all__ = [
    "AdvisoryError",
    "AmbiguousSource",
    "ExternallyManaged",
    "FirstSeenRefused",
    "HashMismatch",
    "InstallError",
    "KnownVulnerability",
    "NetworkError",
    "OutputClosed",
    "PolicyDenied",
    "ResolveError",
    "SafePipError",
    "SdistRefused",
    "SourceError",
    "TrustStoreError",
    "UnsafeSource",
    "UnsafeWheel",
    "UsageError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class SafePipError(Exception):
    """Base of every expected failure; ``exit_code`` is the process status."""

    exit_code: int = EXIT_FAILED


class UsageError(SafePipError):
    """The command line, a requirements file or a settings file is invalid."""

    exit_code = EXIT_USAGE


class NetworkError(SafePipError):
    """A source or a file could not be reached."""


class SourceError(NetworkError):
    """A source answered with an error; the command stops rather than fall through."""


class ResolveError(SafePipError):
    """pip's resolver could not find a set of distributions to install."""


class InstallError(SafePipError):
    """Writing into the target environment failed; the environment was restored."""


class TrustStoreError(SafePipError):
    """The trust store cannot be read or written safely."""


class OutputClosed(SafePipError):
    """Standard output or error was closed while the command ran."""


class AdvisoryError(SafePipError):
    """The advisory source could not be reached or read (a failure only with
    ``--require-advisories``; otherwise a warning)."""


class PolicyDenied(SafePipError):
    """Refused by policy before anything was installed."""

    exit_code = EXIT_REFUSED


class SdistRefused(PolicyDenied):
    """A requirement can only be met by building a source distribution."""


class HashMismatch(PolicyDenied):
    """A file does not have the sha256 it was required to have."""


class FirstSeenRefused(PolicyDenied):
    """A project never installed before was not approved."""


class UnsafeSource(SourceError, PolicyDenied):
    """A source pointed at what no remote source may (a local file, another scheme, plain
    http off loopback): a source error, since the source is refused as a whole, and a
    refusal (exit status 3), since it is what a compromised index would do."""


class UnsafeWheel(PolicyDenied):
    """A wheel failed inspection."""


class ExternallyManaged(PolicyDenied):
    """The target environment is marked EXTERNALLY-MANAGED (PEP 668)."""


class KnownVulnerability(PolicyDenied):
    """A planned version has a known vulnerability that was not ignored."""


class AmbiguousSource(PolicyDenied):
    """A project name is known to more than one configured source and nobody said which."""

    def __init__(self, message: str, shadow: Shadow | None = None) -> None:
        super().__init__(message)
        self.shadow = shadow
        """Which sources know the name, for a review that asks which is meant."""

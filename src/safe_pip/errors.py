"""The one exception hierarchy of safe-pip, each class carrying its exit status.

::

    SafePipError                 1  failed
    ├── UsageError               2  the command line or a settings file is wrong
    ├── NetworkError             1  a source or a file could not be reached
    │   └── SourceError          1  a source answered with an error (fail closed)
    ├── ResolveError             1  pip's resolver found no installable set
    ├── InstallError             1  writing into the environment failed (rolled back)
    ├── TrustStoreError          1  the trust store is unreadable or locked
    ├── OutputClosed             1  the command's output was closed (a pipe ended)
    └── PolicyDenied             3  refused by policy; nothing was installed
        ├── SdistRefused             only source distributions would satisfy
        ├── HashMismatch             a file's sha256 differs from the expected one
        ├── FirstSeenRefused         a first-seen project was not approved
        ├── UnsafeWheel              a wheel failed inspection
        └── ExternallyManaged        PEP 668: the environment is managed elsewhere

Interrupted (130) is not an error class: the CLI maps ``KeyboardInterrupt``.

Every message names the project, the reason and the fix, so the CLI prints
``str(error)`` and nothing else.
"""

from __future__ import annotations

__all__ = [
    "ExternallyManaged",
    "FirstSeenRefused",
    "HashMismatch",
    "InstallError",
    "NetworkError",
    "OutputClosed",
    "PolicyDenied",
    "ResolveError",
    "SafePipError",
    "SdistRefused",
    "SourceError",
    "TrustStoreError",
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


class PolicyDenied(SafePipError):
    """Refused by policy before anything was installed."""

    exit_code = EXIT_REFUSED


class SdistRefused(PolicyDenied):
    """A requirement can only be met by building a source distribution."""


class HashMismatch(PolicyDenied):
    """A file does not have the sha256 it was required to have."""


class FirstSeenRefused(PolicyDenied):
    """A project never installed before was not approved."""


class UnsafeWheel(PolicyDenied):
    """A wheel failed inspection."""


class ExternallyManaged(PolicyDenied):
    """The target environment is marked EXTERNALLY-MANAGED (PEP 668)."""

"""The HTTP client safe-pip uses for every upstream request, built from pip's network options.

pip itself never talks to a source: the gateway and the fetch stage do, through this client,
so ``--proxy``, ``--cert``, ``--client-cert``, ``--trusted-host``, ``--timeout`` and
``--retries`` are honoured here.
"""

from __future__ import annotations

import logging
import netrc
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from safe_pip.errors import UsageError

if TYPE_CHECKING:
    # httpx (and ssl with it) is imported where a request is made: a command that makes
    # none, such as an install already satisfied, starts without it.
    import ssl

    import httpx

__all__ = [
    "NetworkOptions",
    "Origin",
    "build_client",
    "keyring_command",
    "keyring_password",
    "netrc_credentials",
    "redact_url",
    "split_credentials",
    "with_retries",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504, 520, 527})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """pip's network options, as resolved from flags and pip's configuration."""

    timeout: float = 15.0
    retries: int = 5
    proxy: str | None = None
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy_from_env: bool = True
    netrc_path: str | None = None
    keyring: str | None = None
    """The ``keyring`` command to ask for passwords, or ``None`` (``--keyring-provider``)."""


Origin = tuple[str, str, int | None]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` with the default port made explicit."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Remove ``user:password@`` from a URL; return the clean URL and the credentials."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    user = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def redact_url(url: str) -> str:
    """The URL with any credentials replaced by ``****``, safe for messages and logs."""
    clean, user, password = split_credentials(url)
    if user is None and password is None:
        return url
    parts = urllib.parse.urlsplit(clean)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"****@{parts.netloc}"))


def is_secure_origin(url: str, trusted_hosts: tuple[str, ...]) -> bool:
    """pip's rule: https, file, loopback, or a ``--trusted-host``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("https", "file"):
        return True
    host = (parts.hostname or "").lower()
    return host in _LOOPBACK_HOSTS or _is_trusted(parts, trusted_hosts)


def _is_trusted(parts: urllib.parse.SplitResult, trusted_hosts: tuple[str, ...]) -> bool:
    host = (parts.hostname or "").lower()
    for entry in trusted_hosts:
        trusted_host, _, trusted_port = entry.lower().partition(":")
        if trusted_host == host and (not trusted_port or str(parts.port) == trusted_port):
            return True
    return False


def netrc_credentials(url: str, netrc_path: str | None) -> tuple[str, str] | None:
    """Credentials for the URL's host from ``~/.netrc`` (or ``$NETRC``), if any."""
    path = Path(netrc_path) if netrc_path else Path.home() / ".netrc"
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(urllib.parse.urlsplit(url).hostname or "")
    except (netrc.NetrcParseError, OSError) as exc:
        logger.warning("ignoring unreadable netrc file %s: %s", path, exc)
        return None
    if entry is None:
        return None
    login, _, password = entry
    return login, password or ""


def keyring_command(provider: str, *, no_input: bool, path: str | None = None) -> str | None:
    """The ``keyring`` executable to use for ``--keyring-provider``, or ``None``.

    safe-pip does not import the keyring library (it is not a dependency), so ``import``
    and ``subprocess`` both run the ``keyring`` command. ``auto`` uses it when it is
    installed and input is allowed, as pip does.

    :raises UsageError: an explicit provider was asked for but no ``keyring`` command exists.
    """
    if provider == "disabled" or (provider == "auto" and no_input):
        return None
    found = shutil.which("keyring", path=path)
    if found is None and provider != "auto":
        msg = (
            f"--keyring-provider {provider}: no 'keyring' command on PATH; install keyring "
            f"(e.g. with pipx) or use --keyring-provider disabled"
        )
        raise UsageError(msg)
    return found


def keyring_password(command: str, url: str, username: str) -> str | None:
    """Ask the keyring command for the password of ``username`` at the URL, then its host."""
    host = urllib.parse.urlsplit(url).netloc
    for service in (url, host):
        try:
            completed = subprocess.run(
                [command, "get", service, username],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("keyring lookup failed: %s", type(exc).__name__)
            return None
        password = completed.stdout.rstrip("\r\n")
        if completed.returncode == 0 and password:
            return password
    return None


def _ssl_context(options: NetworkOptions) -> ssl.SSLContext:
    import ssl

    try:
        if options.cert:
            context = ssl.create_default_context(cafile=options.cert)
        else:
            context = ssl.create_default_context()
            if not _has_system_store():
                # Some Python builds (python.org's macOS one) find no system CA store;
                # then use certifi, httpx's own default.
                import certifi

                context.load_verify_locations(certifi.where())
        if options.client_cert:
            context.load_cert_chain(options.client_cert)
    except (OSError, ssl.SSLError) as exc:
        msg = f"Cannot load the certificate files given by --cert/--client-cert: {exc}"
        raise UsageError(msg) from exc
    return context


def _has_system_store() -> bool:
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.cafile and Path(paths.cafile).is_file():
        return True
    return bool(paths.capath and Path(paths.capath).is_dir() and any(Path(paths.capath).iterdir()))


def build_client(options: NetworkOptions, environ: Mapping[str, str] | None = None) -> httpx.Client:
    """An ``httpx.Client`` honouring pip's network options.

    :raises UsageError: a certificate file cannot be loaded.
    """
    import httpx

    environ = os.environ if environ is None else environ
    verify = _ssl_context(options)
    mounts: dict[str, httpx.BaseTransport | None] = {}
    for entry in options.trusted_hosts:
        host = entry.lower()
        mounts[f"https://{host}"] = httpx.HTTPTransport(verify=False, proxy=options.proxy)
    return httpx.Client(
        verify=verify,
        proxy=options.proxy,
        mounts=mounts or None,
        timeout=httpx.Timeout(options.timeout),
        trust_env=options.proxy_from_env and options.proxy is None,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        headers={"User-Agent": _user_agent()},
    )


def _user_agent() -> str:
    import httpx

    from safe_pip import __version__

    return f"safe-pip/{__version__} httpx/{httpx.__version__}"


def is_transient(exc: Exception) -> bool:
    """Whether a failed request is worth trying again."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in _TRANSIENT_STATUS
    return isinstance(exc, httpx.TransportError)


def with_retries(
    action: Callable[[], _T],
    retries: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``action``, retrying transient failures with exponential backoff.

    ``retries`` counts the extra attempts, as pip's ``--retries`` does.
    """
    import httpx

    attempt = 0
    while True:
        try:
            return action()
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            if attempt >= retries or not is_transient(exc):
                raise
            delay = min(0.25 * 2**attempt, 4.0)
            logger.debug("retrying in %.2fs after %s", delay, type(exc).__name__)
            sleep(delay)
            attempt += 1

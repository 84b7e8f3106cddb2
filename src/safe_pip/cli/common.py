"""What every command that reads settings and goes online sets up the same way: logging,
the network options, the fetching of requirements files named by URL, and the advisory
options (``install`` and ``audit`` read them alike)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from safe_pip.errors import UsageError
from safe_pip.gateway.network import NetworkOptions, build_client, keyring_command, redact_url
from safe_pip.policy.advisory_options import DEFAULT_MAX_AGE_DAYS, AdvisoryOptions
from safe_pip.settings.limits import checked_days, checked_network

if TYPE_CHECKING:
    from safe_pip.settings.options import FileSettings

__all__ = ["advisory_options", "network_options", "read_url", "setup_logging"]

_IGNORED_BY_FLAG = "--ignore-vuln on the command line"


def network_options(
    args: argparse.Namespace, trusted: Sequence[str], environ: Mapping[str, str]
) -> NetworkOptions:
    """The network flags of a command, with ``trusted`` as the trusted hosts.

    :raises UsageError: a timeout or retry count that is no number of seconds or tries.
    """
    timeout, retries = checked_network(args.timeout, args.retries)
    return NetworkOptions(
        timeout=timeout,
        retries=retries,
        proxy=args.proxy,
        cert=args.cert,
        client_cert=args.client_cert,
        trusted_hosts=tuple(trusted),
        proxy_from_env=not args.no_proxy_env,
        netrc_path=environ.get("NETRC"),
        keyring=keyring_command(
            args.keyring_provider, no_input=args.no_input, path=environ.get("PATH")
        ),
    )


def read_url(network: NetworkOptions, environ: Mapping[str, str]) -> Callable[[str], str]:
    """A reader of requirements files named by URL (``-r https://...``)."""

    def fetch(url: str) -> str:
        with build_client(network, environ) as client:
            response = client.get(url, follow_redirects=True)
        if response.status_code != 200:
            msg = (
                f"Could not fetch requirements file {redact_url(url)}: HTTP {response.status_code}"
            )
            raise UsageError(msg)
        return response.text

    return fetch


def setup_logging(verbosity: int, log_file: str | None) -> None:
    """safe-pip's log on stderr at the level ``-v``/``-q`` ask for, and everything in
    ``--log``'s file."""
    root = logging.getLogger("safe_pip")
    root.setLevel(logging.DEBUG)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(
        logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity >= 1 else logging.WARNING
    )
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)


def advisory_options(args: argparse.Namespace, files: FileSettings) -> AdvisoryOptions:
    """The vulnerability options: flags over settings; ignores are the union, each with its
    reason (a flag's reason: that it was given on the command line).

    :raises UsageError: a maximum age that is not a number of days (nan, negative, ...).
    """
    max_age = args.advisories_max_age
    if max_age is None:
        max_age = files.advisories_max_age
    if max_age is None:
        max_age = DEFAULT_MAX_AGE_DAYS
    checked_days(max_age, "--advisories-max-age")
    ignored = dict(files.ignore_vuln)
    for value in args.ignore_vulns or ():
        for ident in value.split(","):
            if ident.strip():
                ignored.setdefault(ident.strip(), _IGNORED_BY_FLAG)
    return AdvisoryOptions(
        source=args.advisories or files.advisories,
        max_age_days=max_age,
        required=bool(args.require_advisories or files.require_advisories),
        ignored=ignored,
    )

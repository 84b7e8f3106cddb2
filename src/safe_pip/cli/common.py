"""What every command that reads settings and goes online sets up the same way: logging,
the network options, and the fetching of requirements files named by URL."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Mapping, Sequence

from safe_pip.errors import UsageError
from safe_pip.gateway.network import NetworkOptions, build_client, keyring_command, redact_url
from safe_pip.settings.limits import checked_network

__all__ = ["network_options", "read_url", "setup_logging"]


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

"""``pip download`` and ``pip wheel`` with the gateway as their only index."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.pipeline.session import Approve, gateway_session, localized, upstream_client
from safe_pip.policy.admission import admit, approved_urls
from safe_pip.policy.approval import require_approved
from safe_pip.policy.hashes import pins_by_project
from safe_pip.resolve.requirement_line import names_index_project
from safe_pip.resolve.resolver import run_gated

if TYPE_CHECKING:
    from safe_pip.pipeline.request import InstallRequest
    from safe_pip.settings.options import Settings

__all__ = ["run_pip_command"]


def run_pip_command(command: Sequence[str], request: InstallRequest, settings: Settings) -> str:
    """Run ``pip download`` or ``pip wheel`` with the gateway as its only index.

    The same admission, sources, priority and policy as an install apply, so no source
    build runs unless allowed. Returns pip's output, with gateway addresses mapped back.

    :raises SafePipError: any expected failure.
    """
    admit(request.lines, request.no_binary, settings.file_policy.allow_sdist)
    same = request.python.resolve() == Path(sys.executable).resolve()
    approve = _approver_for_builds(request, settings)
    with (
        upstream_client(settings) as client,
        gateway_session(settings, request, client, approve=approve) as session,
    ):
        gateway, fetcher, workdir = session
        lines, _ = localized(request.lines, fetcher, approved_urls(request.lines))
        return run_gated(
            [*command, *request.resolver_options],
            lines,
            gateway,
            workdir,
            settings.environ,
            target_python=None if same else request.python,
            verbose=settings.verbosity,
        )


def _approver_for_builds(request: InstallRequest, settings: Settings) -> Approve | None:
    """For ``download`` and ``wheel`` runs that may build (an allowed sdist, a path, a URL,
    an editable), approval of every project pip fetches whole, as an unattended install
    would approve it: pip installs build requirements and runs build backends while it
    works, and its whole-file fetches cannot be told apart from the downloads themselves.
    Runs that ask only for index projects with no build allowed fetch wheels alone, and
    need none."""
    if not settings.file_policy.allow_sdist and all(map(names_index_project, request.lines)):
        return None
    pins = pins_by_project(request.lines, {})
    return partial(require_approved, settings=settings, pins=pins, attended=False)

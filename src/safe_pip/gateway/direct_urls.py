"""The direct-URL policy: a wheel may require a ``name @ url`` only if the user gave it.

pip would fetch such a URL itself, past every source and policy, and run its build backend
if it is a source archive. A wheel requiring one fails the command before its metadata is
handed to pip, so pip never learns the URL.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from safe_pip.distfiles import unapproved_url_requirements
from safe_pip.errors import PolicyDenied

if TYPE_CHECKING:
    from safe_pip.models import IndexFile

__all__ = ["check_direct_urls"]


def check_direct_urls(file: IndexFile, metadata: bytes, approved_urls: Collection[str]) -> None:
    """Refuse a file whose core metadata requires a direct URL not in ``approved_urls``
    (each a :func:`~safe_pip.distfiles.url_key`).

    :raises PolicyDenied: it does.
    """
    found = unapproved_url_requirements(metadata, approved_urls)
    if not found:
        return
    listed = "\n".join(f"  - {requirement}" for requirement in found)
    msg = (
        f"{file.project} {file.version} ({file.filename}) requires a direct URL that no "
        f"requirement of yours names:\n{listed}\npip would fetch it by itself, outside "
        f"the configured sources (and build it, if it is a source archive). Nothing was "
        f"installed. If you trust that URL, give the requirement yourself ('NAME @ URL' "
        f"on the command line or in a requirements file)."
    )
    raise PolicyDenied(msg)

"""Read find-links locations: a folder of distributions, or an HTML page of links to them.

A location is listed once per command, whatever project is asked; a local folder's files
are hashed only when their project is asked for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from safe_pip.errors import SourceError
from safe_pip.gateway.index_pages import parse_html_page
from safe_pip.gateway.local_files import list_directory, with_local_hash
from safe_pip.gateway.locations import check_placed, is_remote, local_path
from safe_pip.models import IndexFile, ProjectPage, SourceSpec

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.gateway.remote import RemoteReader

__all__ = ["FindLinks"]

logger = logging.getLogger(__name__)


class FindLinks:
    """Lists find-links locations, each once."""

    def __init__(self, remote: RemoteReader, trusted_hosts: tuple[str, ...]) -> None:
        self._remote = remote
        self._trusted_hosts = trusted_hosts
        self._listings: dict[str, list[IndexFile]] = {}

    def project_page(self, source: SourceSpec, name: NormalizedName) -> ProjectPage | None:
        """The project's files at the location, or ``None`` if it has none.

        :raises SourceError: a remote page failed or was not found.
        """
        files = [with_local_hash(f) for f in self._files(source) if f.project == name]
        return ProjectPage(name, source, tuple(files)) if files else None

    def _files(self, source: SourceSpec) -> list[IndexFile]:
        listed = self._listings.get(source.url)
        if listed is None:
            listed = self._list(source)
            self._listings[source.url] = listed
        return listed

    def _list(self, source: SourceSpec) -> list[IndexFile]:
        location = source.url
        if is_remote(location):
            response = self._remote.get_page(source, location, "its find-links page")
            if response is None:
                msg = f"Find-links page {source} was not found (HTTP 404)."
                raise SourceError(msg)
            files = parse_html_page(response.text, str(response.url), None)
            return check_placed(source, str(response.url), files, self._trusted_hosts)
        path = local_path(location)
        if path.is_dir():
            return list_directory(path)
        if path.is_file():
            files = parse_html_page(path.read_text(encoding="utf-8"), path.as_uri(), None)
            return check_placed(source, path.as_uri(), files, self._trusted_hosts)
        logger.warning("find-links location %s does not exist; ignoring it", location)
        return []

"""Where advisories come from and how strictly they are required, as the settings say.

Apart from :mod:`safe_pip.policy.advisory_source`, which fetches and indexes them: every
install builds these options, and one already satisfied never reads an advisory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.policy.advisories import Advisory

__all__ = ["DEFAULT_MAX_AGE_DAYS", "OSV_PYPI_ZIP", "AdvisoryOptions"]

DEFAULT_MAX_AGE_DAYS = 1.0
OSV_PYPI_ZIP = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
"""osv.dev's export of every PyPI advisory (PYSEC, GHSA, ...), one JSON file each."""


@dataclass(frozen=True, slots=True)
class AdvisoryOptions:
    """Where advisories come from and how strictly they are required."""

    source: str | None = None
    """A URL or a local path; ``None``: no source, nothing is checked."""
    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    required: bool = False
    """``--require-advisories``: no usable, fresh data is a failure, not a warning."""
    ignored: Mapping[str, str] = field(default_factory=dict)
    """Advisory IDs (or aliases) to ignore, each with the reason given for it."""

    def ignore_reason(self, advisory: Advisory) -> str | None:
        """Why this advisory is ignored (by its ID or any alias), or ``None``."""
        wanted = {key.upper(): reason for key, reason in self.ignored.items()}
        for name in (advisory.id, *advisory.aliases):
            if name.upper() in wanted:
                return wanted[name.upper()]
        return None

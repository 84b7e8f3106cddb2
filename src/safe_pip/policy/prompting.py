"""The questions the core may ask the user; the CLI decides how to ask them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.policy.review import ProjectFacts

__all__ = ["Prompter"]


class Prompter(Protocol):
    """Asks a person to approve first-seen projects. Only used when someone can answer."""

    def approve(self, pending: Sequence[ProjectFacts]) -> Mapping[NormalizedName, bool]:
        """Show the review of ``pending`` and return each project's answer (``True``:
        approved); a project left out counts as refused."""

"""What the resolve stage reads of the gateway, as protocols: running pip against it,
turning pip's report into a plan and explaining a failed resolution need only these, so
they can be tested without a running gateway."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from safe_pip.errors import SafePipError
    from safe_pip.gateway.cooldown import FilePolicy
    from safe_pip.gateway.served import ServedFile
    from safe_pip.gateway.shadows import Elsewhere
    from safe_pip.models import Pin, ServedProject, SourceSpec

__all__ = ["GatewayView", "SelectorView"]


class SelectorView(Protocol):
    """What the resolver's messages read of the gateway's source selector: its answers,
    its policy, and where else a project could have come from."""

    @property
    def answers(self) -> Mapping[NormalizedName, ServedProject | None]: ...

    @property
    def policy(self) -> FilePolicy: ...

    def candidates(self, name: NormalizedName) -> Sequence[SourceSpec]: ...

    def pin_of(self, name: NormalizedName) -> Pin | None: ...

    def elsewhere(self, name: NormalizedName, served: SourceSpec) -> Sequence[Elsewhere]: ...


class GatewayView(Protocol):
    """What running pip against the gateway and reading its report need of the gateway:
    its addresses, the failure that stops pip, and what it served."""

    @property
    def base_url(self) -> str: ...

    @property
    def index_url(self) -> str: ...

    @property
    def failure(self) -> SafePipError | None: ...

    @property
    def selector(self) -> SelectorView: ...

    def lookup_url(self, url: str) -> ServedFile | None: ...

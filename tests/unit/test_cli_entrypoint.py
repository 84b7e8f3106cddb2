"""The console-script entry point: the command's status, and a quick exit."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import safe_pip.cli


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_the_status_is_the_exit_status_and_nothing_is_left_to_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(safe_pip.cli, "main", lambda: 3)
    assert gc.get_freeze_count() == 0
    with pytest.raises(SystemExit) as exited:
        safe_pip.cli.entrypoint()
    assert exited.value.code == 3
    assert gc.get_freeze_count() > 0

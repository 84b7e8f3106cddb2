"""The console-script entry point: the command's status, and a quick exit."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import safe_pip.cli


@pytest.fixture
def unfrozen() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


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


@pytest.mark.usefixtures("unfrozen")
def test_young_objects_are_collected_less_often_than_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, int, int]] = []

    def main() -> int:
        seen.append(gc.get_threshold())
        return 0

    monkeypatch.setattr(safe_pip.cli, "main", main)
    with pytest.raises(SystemExit):
        safe_pip.cli.entrypoint()
    assert seen[0][0] >= 10 * 700

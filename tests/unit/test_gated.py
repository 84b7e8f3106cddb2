"""The gated stages' wiring: what each stage is given, and when."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.models import Plan, ServedProject
from safe_pip.pipeline import gated
from safe_pip.settings.options import Settings

NAME = canonicalize_name("build-helper")


def test_early_approval_reviews_the_pages_asked_for_since_the_gateway_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A build requirement is asked about while resolving, after the gateway opened: its page
    # is what tells a new project or a replaced release.
    seen: list[dict[NormalizedName, ServedProject | None]] = []

    def approve_early(
        plan: Plan, served: Mapping[NormalizedName, ServedProject | None], **_: object
    ) -> None:
        seen.append(dict(served))

    monkeypatch.setattr(gated, "approve_early", approve_early)
    # The gateway's answers, which grow as pip asks about projects.
    answers: dict[NormalizedName, ServedProject | None] = {}
    settings = Settings(home=tmp_path, cache_dir=None, sources=())
    approve = gated._early_approver(lambda: dict(answers), settings, None, {})
    answers[NAME] = None
    approve(Plan(()))
    assert seen == [{NAME: None}]

"""End to end: a project posing as a top project is refused unattended, even with
``SAFE_PIP_TRUST=:all:`` or ``--trust :all:``, until it is named; the refusal says what
to install instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install
from tests.support.index import PackageIndex
from tests.support.outcomes import refused, succeeded

# Big enough not to be almost empty (the loopback index lists no sizes anyway; the unit
# tests cover that warning).
_BODY = {"impostor/__init__.py": "".join(f"# line {n} {'x' * 60}\n" for n in range(400))}


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """A command's name, a borrowed repository, an empty look-alike, and an honest name."""
    package_index = index()
    package_index.add(wheel("huggingface-cli", "1.0", files=_BODY))
    package_index.add(
        wheel(
            "fast-http-client",
            "1.0",
            files=_BODY,
            extra_metadata=["Project-URL: Source, https://github.com/psf/requests"],
        )
    )
    package_index.add(wheel("pyreqests", "1.0"))
    package_index.add(wheel("gizmo", "1.0"))
    return package_index


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (
            "huggingface-cli",
            [
                "'huggingface-cli' is a command of 'huggingface-hub'",
                "safe-pip install huggingface-hub",
            ],
        ),
        (
            "fast-http-client",
            ["github.com/psf/requests, the repository of 'requests'", "safe-pip install requests"],
        ),
        (
            "pyreqests",
            ["'requests' misspelt, with 'py' added before it", "safe-pip install requests"],
        ),
    ],
)
def test_refused_unattended_even_when_everything_is_trusted(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, project: str, expected: list[str]
) -> None:
    # The fixture approves every first-seen project (SAFE_PIP_TRUST=:all:); --trust :all:
    # on the command line approves no more.
    message = refused(
        install(safe_pip, venv, served, "--trust", ":all:", project),
        project,
        *expected,
        "--trust :all: and hash pins do not approve it",
        f"--trust {project}",
        untouched=venv,
    )
    assert "Did you mean" in message


def test_naming_the_project_approves_it(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    succeeded(install(safe_pip, venv, served, "--trust", "huggingface-cli", "huggingface-cli"))
    assert "huggingface-cli" in venv.installed()


def test_an_honest_name_is_still_approved_by_all(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    succeeded(install(safe_pip, venv, served, "gizmo"))
    assert "gizmo" in venv.installed()


def test_the_dry_run_plan_shows_the_warning_and_the_suggestion(
    safe_pip: SafePip, venv: Venv, served: PackageIndex
) -> None:
    out = succeeded(install(safe_pip, venv, served, "--dry-run", "huggingface-cli"))
    assert "not approved" in out
    assert "did you mean huggingface-hub? safe-pip install huggingface-hub" in out

"""Impostor checks: starjacking, slopsquatting, almost empty look-alikes."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.policy import reference, typosquat
from safe_pip.policy.impostors import (
    ALMOST_EMPTY,
    Candidate,
    Impostor,
    ImpostorKind,
    check_impostors,
)
from safe_pip.policy.reference import FORMAT_VERSION, Reference


def check(
    name: str,
    metadata: dict[str, Any] | None = None,
    size: int | None = 50_000,
    near: str | None = None,
    data: Reference | None = None,
) -> list[Impostor]:
    canonical = canonicalize_name(name)
    candidate = Candidate(
        canonical, metadata or {}, size, NormalizedName(near) if near is not None else None
    )
    found = check_impostors([candidate], data or reference.load(), typosquat.is_listed)
    return found.get(canonical, [])


def home(url: str) -> dict[str, Any]:
    return {"home_page": "https://example.org", "project_url": [f"Source, {url}"]}


class TestStarjacking:
    def test_a_top_project_s_repository_on_another_name_is_warned(self) -> None:
        (found,) = check("fast-http-client", home("https://github.com/psf/requests"))
        assert (found.kind, found.intended) == (ImpostorKind.STARJACKING, "requests")
        assert "github.com/psf/requests, the repository of 'requests'" in found.reason

    def test_the_home_page_field_counts_too(self) -> None:
        (found,) = check("fast-http-client", {"home_page": "https://github.com/PSF/requests.git"})
        assert found.intended == "requests"

    @pytest.mark.parametrize(
        ("name", "url"),
        [
            ("requests", "https://github.com/psf/requests"),  # the project itself
            ("boto3", "https://github.com/boto/boto3"),  # each of a pair has its own
            ("botocore", "https://github.com/boto/botocore"),
            ("requests-extras", "https://github.com/psf/requests"),  # a sibling
            ("my-requests", "https://github.com/someone/requests"),  # a fork
            ("my-tool", "https://github.com/pallets"),  # an organisation
            ("my-tool", "https://flask.palletsprojects.com/"),  # a documentation site
            ("azure-new-service", "https://github.com/Azure/azure-sdk-for-python"),
            ("someones-gcp-tool", "https://github.com/googleapis/google-cloud-python"),
        ],
    )
    def test_own_family_fork_organisation_docs_and_monorepo_urls_are_not(
        self, name: str, url: str
    ) -> None:
        assert check(name, home(url)) == []

    def test_a_repository_of_many_top_projects_is_a_monorepo(self) -> None:
        owners = reference.load().claims["github.com/azure/azure-sdk-for-python"]
        assert len(owners) >= 3


class TestSlopsquatting:
    @pytest.mark.parametrize(
        ("name", "owner", "what"),
        [
            ("huggingface-cli", "huggingface-hub", "a command"),
            ("yaml", "pyyaml", "the import name"),
            ("cv2", "opencv-python", "the import name"),
            ("dateutil", "python-dateutil", "the import name"),
        ],
    )
    def test_a_command_or_import_name_of_a_top_project_is_warned(
        self, name: str, owner: str, what: str
    ) -> None:
        (found,) = check(name)
        assert (found.kind, found.intended) == (ImpostorKind.SLOPSQUATTING, owner)
        assert f"{name!r} is {what} of {owner!r}" in found.reason

    @pytest.mark.parametrize("name", ["sklearn", "bs4", "jwt", "pyyaml"])
    def test_a_name_that_is_itself_a_top_project_is_not(self, name: str) -> None:
        assert typosquat.is_listed(name)
        assert check(name) == []

    def test_a_shortened_form_of_the_owner_s_own_name_is_not(self) -> None:
        data = Reference.from_document(
            {
                "version": FORMAT_VERSION,
                "projects": {
                    "jupyter-core": {"s": ["jupyter"]},
                    "google-crc32c": {"i": ["crc32c"]},
                    "pillow": {"i": ["pil"]},
                },
            }
        )
        assert check("jupyter", data=data) == []
        assert check("crc32c", data=data) == []
        assert [found.intended for found in check("pil", data=data)] == ["pillow"]


class TestPlaceholder:
    def test_an_almost_empty_file_with_a_look_alike_name_is_warned(self) -> None:
        (found,) = check("reqeusts", size=900, near="requests")
        assert (found.kind, found.intended) == (ImpostorKind.PLACEHOLDER, "requests")
        assert "almost empty (900 bytes" in found.reason

    def test_an_empty_slopsquat_is_warned_twice(self) -> None:
        kinds = [found.kind for found in check("huggingface-cli", size=1_100)]
        assert kinds == [ImpostorKind.SLOPSQUATTING, ImpostorKind.PLACEHOLDER]

    @pytest.mark.parametrize(
        ("size", "near"), [(ALMOST_EMPTY + 1, "requests"), (900, None), (None, "requests")]
    )
    def test_a_real_file_or_an_unrelated_name_is_not(
        self, size: int | None, near: str | None
    ) -> None:
        assert check("reqeusts" if near else "quintessential-widgetry", size=size, near=near) == []


def test_a_listed_name_is_never_checked() -> None:
    assert typosquat.is_listed("requests-toolbelt")
    assert check("requests-toolbelt", home("https://github.com/psf/requests"), size=10) == []

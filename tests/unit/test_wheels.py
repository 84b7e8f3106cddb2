"""Readers of wheel archives and core metadata."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import ClassVar

from packaging.markers import default_environment

from safe_pip.distfiles import (
    dependency_names,
    dist_info_dirs,
    unapproved_url_requirements,
    url_key,
)


def _metadata(*requires: str) -> bytes:
    lines = ["Metadata-Version: 2.1", "Name: alpha", "Version: 1.0"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return ("\n".join(lines) + "\n\n").encode()


class TestDistInfoDirs:
    def test_counted_as_pypa_installer_counts_them(self, tmp_path: Path) -> None:
        """A top-level *file* named like a ``.dist-info`` counts too: installer sees two."""
        path = tmp_path / "alpha-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("alpha-1.0.dist-info/METADATA", "Name: alpha\n")
            archive.writestr("beta-2.0.dist-info", "")
        with zipfile.ZipFile(path) as archive:
            assert dist_info_dirs(archive) == ["alpha-1.0.dist-info", "beta-2.0.dist-info"]


class TestUrlKey:
    def test_credentials_fragment_and_host_case_do_not_matter(self) -> None:
        assert url_key("HTTPS://user:pw@Example.COM/a/B.whl#sha256=ab") == (
            "https://example.com/a/B.whl"
        )

    def test_paths_and_queries_do(self) -> None:
        assert url_key("https://h/a.whl?x=1") != url_key("https://h/a.whl")
        assert url_key("https://h/A.whl") != url_key("https://h/a.whl")


class TestUnapprovedUrlRequirements:
    def test_version_requirements_are_not_urls(self) -> None:
        assert unapproved_url_requirements(_metadata("beta>=1", "gamma; extra == 'x'"), ()) == []

    def test_urls_are_found_whatever_their_marker(self) -> None:
        found = unapproved_url_requirements(
            _metadata(
                "beta @ https://evil.invalid/beta-1.0.tar.gz",
                "gamma @ git+https://evil.invalid/gamma ; python_version < '3'",
                "delta @ file:///tmp/delta-1.0-py3-none-any.whl ; extra == 'x'",
            ),
            (),
        )
        assert found == [
            "beta @ https://evil.invalid/beta-1.0.tar.gz",
            "gamma @ git+https://evil.invalid/gamma ; python_version < '3'",
            "delta @ file:///tmp/delta-1.0-py3-none-any.whl ; extra == 'x'",
        ]

    def test_a_url_the_user_gave_is_approved(self) -> None:
        url = "https://evil.invalid/beta-1.0-py3-none-any.whl"
        metadata = _metadata(f"beta @ {url}#sha256=00")
        assert unapproved_url_requirements(metadata, {url_key(url)}) == []

    def test_an_unparsable_requirement_that_looks_like_a_url_counts(self) -> None:
        found = unapproved_url_requirements(_metadata("beta @@ https://evil.invalid/x"), ())
        assert found == ["beta @@ https://evil.invalid/x"]

    def test_a_folded_entry_is_read_as_one_line(self) -> None:
        metadata = b"Name: alpha\nRequires-Dist: beta @\n  https://evil.invalid/x\n\n"
        assert unapproved_url_requirements(metadata, ()) == ["beta @ https://evil.invalid/x"]

    def test_a_utf8_url_the_user_gave_is_approved(self) -> None:
        url = "https://example.invalid/b\u00e9ta-1.0-py3-none-any.whl"
        assert unapproved_url_requirements(_metadata(f"beta @ {url}"), {url_key(url)}) == []

    def test_an_entry_that_is_not_utf8_counts_even_as_an_approved_url(self) -> None:
        """Read as Latin-1 it names the approved URL; pip reads no such metadata."""
        url = "https://example.invalid/b\u00e9ta-1.0-py3-none-any.whl"
        metadata = f"Name: alpha\nRequires-Dist: beta @ {url}\n\n".encode("latin-1")
        assert unapproved_url_requirements(metadata, {url_key(url)}) == [f"beta @ {url}"]


class TestDependencyNames:
    ENVIRONMENT: ClassVar[dict[str, str]] = {
        **{key: str(value) for key, value in default_environment().items()},
        "sys_platform": "linux",
        "python_version": "3.12",
    }

    def test_names_are_canonical_and_markers_evaluated_for_the_target(self) -> None:
        metadata = _metadata(
            "Charset_Normalizer<4,>=2",
            'tomli; python_version < "3.11"',
            'exceptiongroup; python_version >= "3.11"',
            'pywin32; sys_platform == "win32"',
        )
        assert dependency_names(metadata, self.ENVIRONMENT) == [
            "charset-normalizer",
            "exceptiongroup",
        ]

    def test_extras_and_unreadable_entries_are_left_out(self) -> None:
        metadata = _metadata('PySocks!=1.5.7; extra == "socks"', "not a requirement !!", "idna")
        assert dependency_names(metadata, self.ENVIRONMENT) == ["idna"]

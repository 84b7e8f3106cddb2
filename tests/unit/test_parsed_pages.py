"""Index pages read before: a page unchanged is not parsed again, and a kept entry safe-pip
did not write (or that no longer matches the page) is never used."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from safe_pip import distfiles
from safe_pip.gateway import index_pages, parsed_pages
from safe_pip.gateway.parsed_pages import ParsedPages
from safe_pip.models import IndexFile

URL = "https://index.example/simple/alpha/"
ALPHA = canonicalize_name("alpha")
SHA_A = "a" * 64
SHA_B = "b" * 64


def _page(**changes: Any) -> bytes:
    """A PEP 691 page with every kind of entry safe-pip reads."""
    files = [
        {
            "filename": "alpha-1.0-py3-none-any.whl",
            "url": "../../files/alpha-1.0-py3-none-any.whl",
            "hashes": {"sha256": SHA_A},
            "requires-python": ">=3.9",
            "upload-time": "2026-01-02T03:04:05.000000Z",
            "size": 1234,
            "core-metadata": {"sha256": SHA_B},
        },
        {
            "filename": "alpha-1.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "url": "https://files.example/alpha-1.1.whl",
            "hashes": {"sha256": SHA_B},
            "yanked": "broken build",
            "dist-info-metadata": True,
        },
        {
            "filename": "alpha-1.1.tar.gz",
            "url": "https://files.example/alpha-1.1.tar.gz",
            "hashes": {"sha256": SHA_A},
            "yanked": True,
        },
        {"filename": "alpha-01.2.zip", "url": "https://files.example/a.zip", "hashes": {}},
        {"filename": "beta-1.0.tar.gz", "url": "https://files.example/b.tar.gz"},
    ]
    document = {"meta": {"api-version": "1.1"}, "name": "alpha", "files": files, **changes}
    return json.dumps(document).encode()


@pytest.fixture
def pages(tmp_path: Path) -> ParsedPages:
    made = ParsedPages.in_cache(tmp_path / "cache", tmp_path / "home")
    assert made is not None
    return made


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URL of each page actually parsed."""
    seen: list[str] = []
    original = index_pages.parse_json_page

    def counted(data: bytes, page_url: str, project: str) -> list[IndexFile]:
        seen.append(page_url)
        return original(data, page_url, canonicalize_name(project))

    monkeypatch.setattr(index_pages, "parse_json_page", counted)
    return seen


def _entry(pages: ParsedPages) -> Path:
    (entry,) = [path for path in pages.directory.iterdir() if not path.name.startswith(".")]
    return entry


def test_a_page_read_again_unchanged_gives_the_same_files_without_parsing(
    pages: ParsedPages, parses: list[str]
) -> None:
    first = pages.files(_page(), URL, ALPHA)
    again = pages.files(_page(), URL, ALPHA)
    assert parses == [URL]
    # Every field, compared as the dataclass compares them, on entries that use them all.
    assert again == first == index_pages.parse_json_page(_page(), URL, ALPHA)
    assert [str(file.version) for file in again] == ["1.0", "1.1", "1.1", "1.2"]
    assert len({file.tags for file in again}) == 3  # one wheel tag, two, none


@pytest.mark.parametrize(
    ("data", "url", "project"),
    [
        (_page(name="alpha", extra="a byte more"), URL, ALPHA),
        (_page(), "https://other.example/simple/alpha/", ALPHA),
        (_page(), URL, canonicalize_name("beta")),
    ],
    ids=["page-changed", "other-url", "other-project"],
)
def test_anything_else_is_parsed_afresh(
    pages: ParsedPages, parses: list[str], data: bytes, url: str, project: str
) -> None:
    pages.files(_page(), URL, ALPHA)
    found = pages.files(data, url, canonicalize_name(project))
    assert len(parses) == 2
    assert found == index_pages.parse_json_page(data, url, canonicalize_name(project))


def test_a_changed_reader_reads_the_page_afresh(
    pages: ParsedPages, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages.files(_page(), URL, ALPHA)
    monkeypatch.setattr(parsed_pages, "_reader_digest", lambda: b"another parser")
    pages.files(_page(), URL, ALPHA)
    assert len(parses) == 2


def test_a_tampered_entry_is_never_used(pages: ParsedPages, parses: list[str]) -> None:
    """Whoever can write the cache but not the home cannot change a file's sha256."""
    pages.files(_page(), URL, ALPHA)
    entry = _entry(pages)
    signed = entry.read_bytes()
    assert SHA_A.encode() in signed
    entry.write_bytes(signed.replace(SHA_A.encode(), b"e" * 64))
    found = pages.files(_page(), URL, ALPHA)
    assert len(parses) == 2
    assert "e" * 64 not in {file.sha256 for file in found}
    assert found == index_pages.parse_json_page(_page(), URL, ALPHA)


def test_an_entry_signed_with_another_key_is_never_used(
    pages: ParsedPages, parses: list[str], tmp_path: Path
) -> None:
    other = ParsedPages.in_cache(tmp_path / "cache", tmp_path / "other-home")
    assert other is not None
    other.files(_page(), URL, ALPHA)
    pages.files(_page(), URL, ALPHA)
    assert len(parses) == 2


def test_an_entry_of_another_page_copied_over_is_never_used(
    pages: ParsedPages, parses: list[str]
) -> None:
    other_url = "https://index.example/simple/alpha-other/"
    pages.files(_page(extra="x"), other_url, ALPHA)
    copied = _entry(pages).read_bytes()
    pages.files(_page(), URL, ALPHA)
    for entry in pages.directory.iterdir():
        entry.write_bytes(copied)
    found = pages.files(_page(), URL, ALPHA)
    assert len(parses) == 3
    assert found == index_pages.parse_json_page(_page(), URL, ALPHA)


def test_an_invalid_page_is_refused_and_not_kept(pages: ParsedPages) -> None:
    with pytest.raises(ValueError, match="not a PEP 691 project page"):
        pages.files(b'{"files": 1}', URL, ALPHA)
    assert not pages.directory.exists() or not list(pages.directory.iterdir())


def test_a_cache_that_cannot_be_written_still_reads_the_page(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory should be")
    made = ParsedPages.in_cache(blocked, tmp_path / "home")
    assert made is not None
    assert made.files(_page(), URL, ALPHA) == index_pages.parse_json_page(_page(), URL, ALPHA)


def test_no_cache_directory_keeps_nothing(tmp_path: Path) -> None:
    assert ParsedPages.in_cache(None, tmp_path / "home") is None


def test_the_reader_digest_covers_every_module_the_parser_reads_with() -> None:
    """A change to any code that decides a page's files must read pages afresh: each
    safe-pip module the page parser (or the file-name parser it calls) imports is hashed."""
    hashed = {module.__name__ for module in parsed_pages._READER}
    for module in (index_pages, distfiles):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("safe_pip")
        }
        assert imported <= hashed, imported - hashed

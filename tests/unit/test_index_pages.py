"""Index pages: the files of a page share one copy of each version and tag set."""

from __future__ import annotations

import json

from packaging.utils import canonicalize_name, parse_wheel_filename

from safe_pip.gateway.index_pages import parse_json_page

NAME = canonicalize_name("demo")
FILENAMES = [
    "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-2.0.tar.gz",
]


def _page(filenames: list[str]) -> bytes:
    files = [{"filename": name, "url": name, "hashes": {"sha256": "ab" * 32}} for name in filenames]
    return json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()


def test_files_keep_what_their_names_say() -> None:
    files = parse_json_page(_page(FILENAMES), "https://idx.example/simple/demo/", NAME)
    for file in files[:3]:
        _name, version, _build, tags = parse_wheel_filename(file.filename)
        assert (file.version, file.tags) == (version, tags)
    assert str(files[3].version) == "2.0"
    assert files[3].tags == frozenset()


def test_repeated_versions_and_tag_sets_are_one_object() -> None:
    first = parse_json_page(_page(FILENAMES), "https://idx.example/simple/demo/", NAME)
    again = parse_json_page(_page(FILENAMES), "https://idx.example/simple/demo/", NAME)
    assert first[0].version is first[1].version is again[1].version
    assert first[0].tags is first[2].tags is again[2].tags
    assert first[0].tags != first[1].tags


def test_equal_versions_keep_their_own_spelling() -> None:
    parse_json_page(_page(["demo-1.0-py3-none-any.whl"]), "https://idx.example/simple/demo/", NAME)
    (file,) = parse_json_page(
        _page(["demo-1.0.0-py3-none-any.whl"]), "https://idx.example/simple/demo/", NAME
    )
    assert str(file.version) == "1.0.0"

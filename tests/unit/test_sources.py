from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.errors import NetworkError, SourceError
from safe_pip.models import DistKind, SourceKind, SourceSpec
from safe_pip.network import NetworkOptions
from safe_pip.sources import Upstream, parse_filename, parse_html_page, parse_json_page

NAME = canonicalize_name("demo")
SHA = "a" * 64


class TestParseFilename:
    @pytest.mark.parametrize(
        ("filename", "expected"),
        [
            ("demo-1.0-py3-none-any.whl", ("demo", "1.0", DistKind.WHEEL)),
            ("Demo_Pkg-2.0.tar.gz", ("demo-pkg", "2.0", DistKind.SDIST)),
            ("demo-1.0.zip", ("demo", "1.0", DistKind.SDIST)),
            ("demo-3.1.tar.bz2", ("demo", "3.1", DistKind.SDIST)),
        ],
    )
    def test_distributions(self, filename: str, expected: tuple[str, str, DistKind]) -> None:
        parsed = parse_filename(filename)
        assert parsed is not None
        assert (parsed[0], str(parsed[1]), parsed[2]) == expected

    @pytest.mark.parametrize("filename", ["demo-1.0.exe", "demo.whl", "demo-notaversion.tar.gz"])
    def test_non_distributions(self, filename: str) -> None:
        assert parse_filename(filename) is None


class TestParseJson:
    def _page(self, **entry: object) -> bytes:
        base = {
            "filename": "demo-1.0-py3-none-any.whl",
            "url": "../../files/demo.whl",
            "hashes": {"sha256": SHA.upper()},
        }
        return json.dumps({"meta": {"api-version": "1.1"}, "files": [{**base, **entry}]}).encode()

    def test_fields(self) -> None:
        (file,) = parse_json_page(
            self._page(
                **{
                    "requires-python": ">=3.9",
                    "yanked": "broken",
                    "size": 10,
                    "upload-time": "2024-01-02T03:04:05.000000Z",
                    "core-metadata": {"sha256": "b" * 64},
                }
            ),
            "https://idx.example/simple/demo/",
            NAME,
        )
        assert file.url == "https://idx.example/files/demo.whl"
        assert file.sha256 == SHA
        assert file.version == Version("1.0") and file.kind is DistKind.WHEEL
        assert file.requires_python == ">=3.9"
        assert file.yanked == "broken"
        assert file.upload_time is not None and file.upload_time.year == 2024
        assert file.core_metadata and file.core_metadata_sha256 == "b" * 64

    @pytest.mark.parametrize(
        "url", ["https://files.example/p/demo.whl", "http://files.example/p/demo.whl"]
    )
    def test_absolute_urls_are_kept(self, url: str) -> None:
        (file,) = parse_json_page(self._page(url=url), "https://idx.example/simple/demo/", NAME)
        assert file.url == url

    def test_yanked_true_means_empty_reason(self) -> None:
        (file,) = parse_json_page(self._page(yanked=True), "https://x/simple/demo/", NAME)
        assert file.yanked == ""

    def test_files_of_other_projects_are_dropped(self) -> None:
        page = self._page(filename="other-1.0-py3-none-any.whl")
        assert parse_json_page(page, "https://x/simple/demo/", NAME) == []

    def test_not_a_project_page(self) -> None:
        with pytest.raises(ValueError, match="PEP 691"):
            parse_json_page(b'{"name": "demo"}', "https://x/", NAME)


class TestParseHtml:
    def test_anchors_hashes_and_attributes(self) -> None:
        html = f"""<html><head><base href="https://cdn.example/pkgs/"></head><body>
        <a href="demo-1.0-py3-none-any.whl#sha256={SHA}" data-requires-python="&gt;=3.8"
           data-dist-info-metadata="sha256={"c" * 64}">w</a>
        <a href="demo-1.0.tar.gz#md5=00" data-yanked="">s</a>
        <a href="unrelated.txt">x</a></body></html>"""
        wheel, sdist = parse_html_page(html, "https://idx.example/simple/demo/", NAME)
        assert wheel.url == "https://cdn.example/pkgs/demo-1.0-py3-none-any.whl"
        assert wheel.sha256 == SHA and wheel.requires_python == ">=3.8"
        assert wheel.core_metadata_sha256 == "c" * 64
        assert sdist.sha256 is None and sdist.yanked == ""


def _upstream(handler: Callable[[httpx.Request], httpx.Response], **options: object) -> Upstream:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Upstream(client, NetworkOptions(**options))  # type: ignore[arg-type]


INDEX = SourceSpec("corp", "https://idx.example/simple", SourceKind.INDEX, "alice", "pw")


class TestProjectPage:
    def test_json_page_with_credentials_for_its_own_host(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            body = {
                "files": [
                    {
                        "filename": "demo-1.0-py3-none-any.whl",
                        "url": "f.whl",
                        "hashes": {"sha256": SHA},
                    }
                ]
            }
            return httpx.Response(
                200, json=body, headers={"content-type": "application/vnd.pypi.simple.v1+json"}
            )

        page = _upstream(handler).project_page(INDEX, NAME)
        assert page is not None and len(page.files) == 1
        assert seen[0].url == "https://idx.example/simple/demo/"
        assert seen[0].headers["authorization"].startswith("Basic ")

    def test_not_found_means_unknown(self) -> None:
        assert _upstream(lambda r: httpx.Response(404)).project_page(INDEX, NAME) is None

    @pytest.mark.parametrize("status", [401, 403, 500, 418])
    def test_any_other_status_is_a_source_error(self, status: int) -> None:
        upstream = _upstream(lambda r: httpx.Response(status), retries=0)
        with pytest.raises(SourceError, match=f"HTTP {status}") as caught:
            upstream.project_page(INDEX, NAME)
        assert "pw" not in str(caught.value)

    def test_off_host_redirect_is_refused(self) -> None:
        upstream = _upstream(
            lambda r: httpx.Response(302, headers={"location": "https://pypi.org/simple/demo/"})
        )
        with pytest.raises(SourceError, match="another host"):
            upstream.project_page(INDEX, NAME)

    def test_same_host_redirect_is_followed(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/simple/demo/":
                return httpx.Response(301, headers={"location": "/simple/demo-moved/"})
            return httpx.Response(200, text="<html></html>", headers={"content-type": "text/html"})

        page = _upstream(handler).project_page(INDEX, NAME)
        assert page is not None and page.files == ()

    def test_plain_http_to_a_remote_host_is_refused(self) -> None:
        source = SourceSpec("x", "http://idx.example/simple")
        with pytest.raises(SourceError, match="not a secure origin"):
            _upstream(lambda r: httpx.Response(200)).project_page(source, NAME)

    def test_unexpected_content_type(self) -> None:
        upstream = _upstream(
            lambda r: httpx.Response(200, text="x", headers={"content-type": "text/plain"})
        )
        with pytest.raises(SourceError, match="unexpected content type"):
            upstream.project_page(INDEX, NAME)

    def test_transient_errors_are_retried(self) -> None:
        answers = iter([httpx.Response(503), httpx.Response(404)])
        upstream = _upstream(lambda r: next(answers), retries=1)
        assert upstream.project_page(INDEX, NAME) is None


class TestLocalSources:
    def test_file_index_directory(self, tmp_path: Path) -> None:
        page = tmp_path / "simple" / "demo"
        page.mkdir(parents=True)
        (page / "index.html").write_text(f'<a href="/w/demo-1.0-py3-none-any.whl#sha256={SHA}">')
        source = SourceSpec("local", (tmp_path / "simple").as_uri())
        upstream = _upstream(lambda r: httpx.Response(500))
        found = upstream.project_page(source, NAME)
        assert found is not None and found.files[0].sha256 == SHA
        assert upstream.project_page(source, canonicalize_name("missing")) is None

    def test_find_links_folder_hashes_only_the_asked_project(self, tmp_path: Path) -> None:
        (tmp_path / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
        (tmp_path / "other-1.0-py3-none-any.whl").write_bytes(b"x")
        source = SourceSpec("links", str(tmp_path), SourceKind.FIND_LINKS)
        page = _upstream(lambda r: httpx.Response(500)).project_page(source, NAME)
        assert page is not None
        (file,) = page.files
        assert file.sha256 == hashlib.sha256(b"wheel bytes").hexdigest()

    def test_stream_reads_local_files(self, tmp_path: Path) -> None:
        path = tmp_path / "f.bin"
        path.write_bytes(b"abc" * 100_000)
        with _upstream(lambda r: httpx.Response(500)).open_stream(None, path.as_uri()) as chunks:
            assert b"".join(chunks) == path.read_bytes()

    def test_stream_failure_is_a_network_error(self) -> None:
        with (
            pytest.raises(NetworkError, match="HTTP 404"),
            _upstream(lambda r: httpx.Response(404)).open_stream(
                None, "https://files.example/x.whl"
            ) as chunks,
        ):
            b"".join(chunks)

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.distfiles import parse_filename
from safe_pip.errors import NetworkError, SourceError
from safe_pip.gateway.index_pages import parse_html_page, parse_json_page
from safe_pip.gateway.network import NetworkOptions
from safe_pip.gateway.sources import Upstream
from safe_pip.models import DistKind, SourceKind, SourceSpec

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

    @pytest.mark.parametrize(
        ("entry", "reason"),
        [
            ({"hashes": ["sha256", SHA]}, "hashes of file 'demo-1.0-py3-none-any.whl' is a list"),
            ({"filename": 5}, "filename of file '\\?' is a int"),
            ({"url": ["x"]}, "url of file .* is a list"),
            ({"requires-python": [">=3"]}, "requires-python of file .* is a list"),
            ({"core-metadata": "yes"}, "core-metadata of file .* is a str"),
        ],
    )
    def test_an_entry_of_the_wrong_shape_refuses_the_page(
        self, entry: dict[str, object], reason: str
    ) -> None:
        """A page PEP 691 does not describe is a broken or hostile source: refused whole
        (the caller makes it a SourceError naming the source), not read in part."""
        with pytest.raises(ValueError, match=reason):
            parse_json_page(self._page(**entry), "https://x/simple/demo/", NAME)

    def test_an_entry_that_is_not_a_table_refuses_the_page(self) -> None:
        page = json.dumps({"files": ["https://x/demo-1.0-py3-none-any.whl"]}).encode()
        with pytest.raises(ValueError, match="a file entry is a str, not a table"):
            parse_json_page(page, "https://x/simple/demo/", NAME)

    def test_json_nested_too_deeply_is_a_value_error(self) -> None:
        page = b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        with pytest.raises(ValueError, match="nested too deeply"):
            parse_json_page(page, "https://x/simple/demo/", NAME)

    def test_a_file_name_too_long_to_store_is_skipped(self) -> None:
        version = ".".join(["1"] * 200)
        page = self._page(filename=f"demo-{version}-py3-none-any.whl")
        assert parse_json_page(page, "https://x/simple/demo/", NAME) == []

    @pytest.mark.parametrize(
        "digest",
        [
            SHA + "\n--extra-index-url=https://evil.example/simple",
            SHA[:-1],
            SHA + "0",
            "z" * 64,
            64,
            ["a" * 64],
        ],
    )
    def test_a_malformed_digest_counts_as_none(self, digest: object) -> None:
        page = self._page(hashes={"sha256": digest}, **{"core-metadata": {"sha256": digest}})
        (file,) = parse_json_page(page, "https://x/simple/demo/", NAME)
        assert file.sha256 is None
        assert file.core_metadata_sha256 is None

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

    def test_a_malformed_fragment_digest_counts_as_none(self) -> None:
        html = f'<a href="demo-1.0-py3-none-any.whl#sha256={SHA}%0Aevil">w</a>'
        (wheel,) = parse_html_page(html, "https://idx.example/simple/demo/", NAME)
        assert wheel.sha256 is None


def _upstream(
    handler: Callable[[httpx.Request], httpx.Response], options: NetworkOptions | None = None
) -> Upstream:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Upstream(client, options or NetworkOptions())


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
        upstream = _upstream(lambda r: httpx.Response(status), NetworkOptions(retries=0))
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
        upstream = _upstream(lambda r: next(answers), NetworkOptions(retries=1))
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


def _json_answer(url: str, **extra: object) -> Callable[[httpx.Request], httpx.Response]:
    entry = {"filename": "demo-1.0-py3-none-any.whl", "url": url, "hashes": {"sha256": SHA}}
    body = {"files": [{**entry, **extra}]}
    headers = {"content-type": "application/vnd.pypi.simple.v1+json"}
    return lambda request: httpx.Response(200, json=body, headers=headers)


class TestWhereAPageMayPoint:
    """A remote page may only point at remote files (DESIGN invariant 8), judged on the URL
    as joined with its page: the string every reader fetches."""

    @pytest.mark.parametrize(
        "url",
        [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "File:/etc/passwd",
            "file://localhost/etc/passwd",
            "file://evil.example/etc/passwd",
            " file:///etc/passwd",
            "\tfile:///etc/passwd",
            "fi\tle:///etc/passwd",
            "file:///etc/passwd?",
        ],
    )
    def test_a_local_file_on_a_remote_page_is_a_source_error(self, url: str) -> None:
        with pytest.raises(SourceError, match=r"corp \(https://idx.example/simple\).*local file"):
            _upstream(_json_answer(url)).project_page(INDEX, NAME)

    def test_a_base_href_that_turns_relative_links_local_is_a_source_error(self) -> None:
        html = f'<base href="file:///tmp/"><a href="demo-1.0-py3-none-any.whl#sha256={SHA}">d</a>'
        upstream = _upstream(
            lambda r: httpx.Response(200, text=html, headers={"content-type": "text/html"})
        )
        with pytest.raises(SourceError, match="local file"):
            upstream.project_page(INDEX, NAME)

    def test_a_remote_find_links_page_may_not_point_at_local_files(self) -> None:
        html = '<a href="file:///tmp/demo-1.0-py3-none-any.whl">demo</a>'
        source = SourceSpec("links", "https://idx.example/links/", SourceKind.FIND_LINKS)
        upstream = _upstream(
            lambda r: httpx.Response(200, text=html, headers={"content-type": "text/html"})
        )
        with pytest.raises(SourceError, match="local file"):
            upstream.project_page(source, NAME)

    @pytest.mark.parametrize(
        "url", ["data:application/zip;base64,UEsFBg==", "ftp://files.example/demo.whl"]
    )
    def test_other_schemes_are_a_source_error(self, url: str) -> None:
        with pytest.raises(SourceError, match="does not download from"):
            _upstream(_json_answer(url)).project_page(INDEX, NAME)

    def test_a_switch_to_plain_http_on_a_remote_host_is_a_source_error(self) -> None:
        with pytest.raises(SourceError, match=r"plain http.*--trusted-host"):
            _upstream(_json_answer("http://cdn.example/demo.whl")).project_page(INDEX, NAME)

    @pytest.mark.parametrize(
        ("url", "options"),
        [
            ("//cdn.example/demo.whl", NetworkOptions()),
            ("http://127.0.0.1:8080/demo.whl", NetworkOptions()),
            ("http://cdn.example/demo.whl", NetworkOptions(trusted_hosts=("cdn.example",))),
        ],
    )
    def test_secure_remote_files_are_served(self, url: str, options: NetworkOptions) -> None:
        page = _upstream(_json_answer(url), options).project_page(INDEX, NAME)
        assert page is not None and len(page.files) == 1

    def test_a_file_index_may_name_local_and_remote_files(self, tmp_path: Path) -> None:
        page = tmp_path / "simple" / "demo"
        page.mkdir(parents=True)
        (page / "index.html").write_text(
            f'<a href="/w/demo-1.0-py3-none-any.whl#sha256={SHA}">'
            f'<a href="https://cdn.example/demo-2.0-py3-none-any.whl#sha256={SHA}">'
        )
        source = SourceSpec("local", (tmp_path / "simple").as_uri())
        found = _upstream(lambda r: httpx.Response(500)).project_page(source, NAME)
        assert found is not None
        assert [f.url for f in found.files] == [
            "file:///w/demo-1.0-py3-none-any.whl",
            "https://cdn.example/demo-2.0-py3-none-any.whl",
        ]

    def test_a_file_index_may_not_name_a_file_on_another_host(self, tmp_path: Path) -> None:
        page = tmp_path / "simple" / "demo"
        page.mkdir(parents=True)
        (page / "index.html").write_text(
            f'<a href="file://share.example/w/demo-1.0-py3-none-any.whl#sha256={SHA}">'
        )
        source = SourceSpec("local", (tmp_path / "simple").as_uri())
        with pytest.raises(SourceError, match="another host"):
            _upstream(lambda r: httpx.Response(500)).project_page(source, NAME)

    def test_a_local_find_links_page_may_name_local_files(self, tmp_path: Path) -> None:
        wheel = tmp_path / "demo-1.0-py3-none-any.whl"
        wheel.write_bytes(b"wheel bytes")
        links = tmp_path / "links.html"
        links.write_text(f'<a href="{wheel.as_uri()}">demo</a>')
        source = SourceSpec("links", str(links), SourceKind.FIND_LINKS)
        page = _upstream(lambda r: httpx.Response(500)).project_page(source, NAME)
        assert page is not None
        assert page.files[0].sha256 == hashlib.sha256(b"wheel bytes").hexdigest()

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "FILE:///etc/passwd", " file:/x"])
    def test_readers_refuse_a_local_file_for_a_remote_source(self, url: str) -> None:
        # Defence in depth: should a local URL of a remote source ever reach a reader.
        upstream = _upstream(lambda r: httpx.Response(500))
        with pytest.raises(SourceError, match="local file"):
            upstream.read_optional(INDEX, url)
        with pytest.raises(SourceError, match="local file"), upstream.open_stream(INDEX, url):
            pass

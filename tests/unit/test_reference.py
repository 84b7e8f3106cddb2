"""Reference data about the top projects: URL normalisation, the shipped file, the refresh."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from safe_pip.policy import reference
from safe_pip.policy.reference import FORMAT_VERSION, Reference, repositories, repository

ROOT = Path(__file__).resolve().parents[2]


def _refresh_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "refresh_top_packages", ROOT / "scripts" / "refresh_top_packages.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestRepository:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://github.com/psf/requests", "github.com/psf/requests"),
            ("https://GitHub.com/PSF/Requests.git/", "github.com/psf/requests"),
            ("http://www.github.com/psf/requests/tree/main/docs", "github.com/psf/requests"),
            ("https://github.com/psf/requests/issues?q=1#top", "github.com/psf/requests"),
            ("git+https://github.com/psf/requests.git", "github.com/psf/requests"),
            ("https://user:token@github.com:443/psf/requests", "github.com/psf/requests"),
            ("https://gitlab.com/group/sub/project/-/tree/main", "gitlab.com/group/sub/project"),
            ("https://bitbucket.org/owner/repo/src", "bitbucket.org/owner/repo"),
        ],
    )
    def test_normalises_a_repository_url(self, url: str, expected: str) -> None:
        assert repository(url) == expected

    @pytest.mark.parametrize(
        "url",
        [
            "https://github.com/pallets",  # an organisation, not a repository
            "https://github.com/sponsors/hynek",  # a funding page
            "https://github.com/aio-libs/.github",  # an organisation's profile
            "https://requests.readthedocs.io",  # documentation is freely linked
            "https://pypi.org/project/requests/",
            "http://[::1",  # not a URL at all
            "",
        ],
    )
    def test_other_urls_name_no_repository(self, url: str) -> None:
        assert repository(url) is None

    def test_reads_home_page_and_project_urls_once_each(self) -> None:
        metadata = {
            "home_page": "https://github.com/psf/requests",
            "project_url": [
                "Source, https://github.com/PSF/requests.git",
                "Documentation, https://requests.readthedocs.io",
                "Fork, https://github.com/someone/requests",
            ],
        }
        assert repositories(metadata) == ["github.com/psf/requests", "github.com/someone/requests"]


class TestReference:
    def document(self) -> dict[str, object]:
        return {
            "version": FORMAT_VERSION,
            "projects": {
                "big": {"r": ["github.com/o/big"], "s": ["big-cli"], "i": ["bg"]},
                "big-core": {"r": ["github.com/o/big"], "s": ["big-cli"]},
                "small": {},
            },
        }

    def test_builds_the_look_ups_in_rank_order(self) -> None:
        data = Reference.from_document(self.document())
        assert data.claims == {"github.com/o/big": ("big", "big-core")}
        assert data.commands == {"big-cli": "big"}  # the most popular provider
        assert data.imports == {"bg": "big"}
        assert data.rank == {"big": 0, "big-core": 1, "small": 2}

    def test_refuses_another_format_version(self) -> None:
        with pytest.raises(ValueError, match="format 2"):
            Reference.from_document({**self.document(), "version": 2})


class TestShippedData:
    def test_describes_the_top_projects(self) -> None:
        data = reference.load()
        assert len(data.rank) >= 900
        assert data.claims["github.com/psf/requests"][0] == "requests"
        assert data.commands["huggingface-cli"] == "huggingface-hub"
        assert data.imports["yaml"] == "pyyaml"
        assert data.imports["sklearn"] == "scikit-learn"

    def test_is_small_and_versioned(self) -> None:
        path = resources.files("safe_pip").joinpath("data", reference.DATA_FILE)
        text = path.read_text(encoding="utf-8")
        assert len(text.encode()) < 2_000_000
        assert json.loads(text)["version"] == FORMAT_VERSION

    def test_is_read_on_first_use_not_at_import(self) -> None:
        code = (
            "import safe_pip.policy.review, safe_pip.policy.impostors; "
            "import safe_pip.policy.reference as r; "
            "print(r.load.cache_info().currsize); r.load(); r.load(); "
            "print(r.load.cache_info().currsize, r.load.cache_info().misses)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == ["0", "1", "1"]


def _wheel(entry_points: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo/__init__.py", "")
        archive.writestr("demo/sub/__init__.py", "")
        archive.writestr("demo_speedups.cpython-312-x86_64-linux-gnu.so", b"\0")
        archive.writestr("_private.py", "")
        archive.writestr("tests/__init__.py", "")
        archive.writestr("google/protobuf/__init__.py", "")  # a namespace: no google/__init__
        archive.writestr(
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
            "Home-page: https://demo.readthedocs.io\n"
            "Project-URL: Source, https://github.com/Owner/Demo.git\n",
        )
        if entry_points:
            archive.writestr("demo-1.0.dist-info/entry_points.txt", entry_points)
    return buffer.getvalue()


class _Index:
    """A PEP 691 index in a MockTransport, with or without range requests and PEP 658."""

    def __init__(self, wheel: bytes, *, ranges: bool = True, pep658: bool = False) -> None:
        self.wheel, self.ranges, self.pep658 = wheel, ranges, pep658
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/simple/demo/":
            files = [
                {
                    "filename": "demo-1.0-py3-none-any.whl",
                    "url": "https://files.example/demo-1.0-py3-none-any.whl",
                    "size": len(self.wheel),
                    "upload-time": "2026-01-01T00:00:00Z",
                    "hashes": {},
                }
            ]
            return httpx.Response(200, json={"meta": {"api-version": "1.1"}, "files": files})
        if path.endswith(".metadata"):
            if not self.pep658:
                return httpx.Response(404)
            return httpx.Response(
                200, text="Metadata-Version: 2.1\nName: demo\nHome-page: https://github.com/o/d\n"
            )
        if path.endswith(".whl"):
            header = request.headers.get("range")
            if header and self.ranges:
                start, end = (int(part) for part in header.removeprefix("bytes=").split("-"))
                return httpx.Response(206, content=self.wheel[start : end + 1])
            return httpx.Response(200, content=self.wheel)
        return httpx.Response(404)


class TestRefresh:
    @pytest.mark.parametrize("ranges", [True, False])
    def test_reads_repositories_scripts_and_import_names_from_a_wheel(self, ranges: bool) -> None:
        script = _refresh_script()
        index = _Index(_wheel("[console_scripts]\nDemo-CLI = demo:main\ndemo = demo:main\n"))
        index.ranges = ranges
        with httpx.Client(transport=httpx.MockTransport(index)) as client:
            entry = script.Fetcher(client, "https://index.example/simple").entry("demo")
        assert entry == {
            "r": ["github.com/owner/demo"],
            "s": ["demo-cli"],
            "i": ["demo-speedups"],
        }

    def test_prefers_the_index_metadata_file(self) -> None:
        script = _refresh_script()
        index = _Index(_wheel(), pep658=True)
        with httpx.Client(transport=httpx.MockTransport(index)) as client:
            entry = script.Fetcher(client, "https://index.example/simple").entry("demo")
        assert entry["r"] == ["github.com/o/d"]
        assert "s" not in entry

    def test_reads_the_end_of_a_wheel_not_all_of_it(self) -> None:
        script = _refresh_script()
        wheel = _wheel() + b""
        padded = io.BytesIO()
        with zipfile.ZipFile(padded, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("padding.bin", b"x" * 300_000)
            with zipfile.ZipFile(io.BytesIO(wheel)) as source:
                for info in source.infolist():
                    archive.writestr(info, source.read(info))
        index = _Index(padded.getvalue())
        with httpx.Client(transport=httpx.MockTransport(index)) as client:
            script.Fetcher(client, "https://index.example/simple").entry("demo")
        fetched = [r for r in index.requests if r.url.path.endswith(".whl")]
        assert fetched and all("range" in r.headers for r in fetched)

    def test_writes_one_project_per_line(self, tmp_path: Path) -> None:
        script = _refresh_script()
        document = {
            "version": FORMAT_VERSION,
            "generated": "2026-12-02",
            "index": "https://pypi.org/simple",
            "projects": {"a": {"r": ["github.com/o/a"]}, "b": {}},
        }
        output = tmp_path / "top-projects.json"
        script.write_json_atomic(output, document)
        assert json.loads(output.read_text()) == document
        assert output.read_text().count("\n") == 4

    @pytest.mark.parametrize("args", [["--limit", "1001"], ["--concurrency", "5"]])
    def test_stays_within_the_polite_limits(self, args: list[str]) -> None:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "refresh_top_packages.py"),
                "--projects",
                *args,
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2
        assert "--limit must be 1..1000" in result.stderr

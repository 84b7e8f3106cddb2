"""What the command line shows: the review at 80 and 120 columns (snapshots), sizes, the
progress display, and "Using cached" only for a file an earlier command cached."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from rich.console import Console

from safe_pip.cli.present import PlainReporter, RichReporter, format_size
from safe_pip.cli.prompt import review_panels
from safe_pip.gateway.cache import FileCache
from safe_pip.gateway.network import NetworkOptions
from safe_pip.gateway.sources import Upstream
from safe_pip.install.fetch import Fetcher
from safe_pip.models import SourceSpec
from safe_pip.policy.review import ProjectFacts
from safe_pip.policy.trust_warnings import TrustWarning, WarningKind
from tests.support.files import demo_wheel

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
# To regenerate the snapshots deliberately, run these tests with SAFE_PIP_UPDATE_SNAPSHOTS=1.
UPDATE = bool(os.environ.get("SAFE_PIP_UPDATE_SNAPSHOTS"))


def _pending() -> list[ProjectFacts]:
    local = SourceSpec("file:///opt/pypi/simple", "file:///opt/pypi/simple/")
    pypi = SourceSpec("pypi", "https://pypi.org/simple")
    return [
        ProjectFacts(
            name=canonicalize_name("reqeusts"),
            version=Version("2.32.4"),
            filename="reqeusts-2.32.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256="a" * 64,
            source=local,
            wheel=True,
            size=1_234_567,
            released=None,
            first_released=None,
            summary=(
                "Python HTTP for Humans, with a summary long enough to need more than one "
                "line at eighty columns"
            ),
            home_page="https://example.com/a/very/long/home/page/that/does/not/fit/in/eighty/columns",
            warnings=(TrustWarning(WarningKind.TYPOSQUAT, "the name looks like 'requests'"),),
            known=None,
        ),
        ProjectFacts(
            name=canonicalize_name("six"),
            version=Version("1.17.0"),
            filename="six-1.17.0-py2.py3-none-any.whl",
            sha256="b" * 64,
            source=pypi,
            wheel=True,
            size=11_050,
            released=NOW - timedelta(days=365),
            first_released=NOW - timedelta(days=4000),
            summary="Python 2 and 3 compatibility utilities",
            home_page=None,
            warnings=(),
            known=None,
        ),
    ]


def _rendered(width: int) -> str:
    stream = io.StringIO()
    # As the command line's console: soft wrap on, no colour (the prompter asks for wrapping).
    console = Console(file=stream, width=width, no_color=True, soft_wrap=True, highlight=False)
    console.print(review_panels(_pending(), NOW), soft_wrap=False)
    return stream.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_the_review_matches_its_snapshot(width: int) -> None:
    snapshot = SNAPSHOTS / f"review-{width}.txt"
    shown = _rendered(width)
    if UPDATE:
        snapshot.write_text(shown, encoding="utf-8")
    assert shown == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 120])
def test_the_review_cuts_nothing(width: int) -> None:
    shown = _rendered(width)
    assert max(len(line) for line in shown.splitlines()) <= width
    joined = "".join(line.strip("│ ") for line in shown.splitlines())
    for item in _pending():
        assert item.filename in joined
        assert item.summary.replace(" ", "") in joined.replace(" ", "")
    assert "https://example.com/a/very/long/home/page/that/does/not/fit/in/eighty/columns" in joined


def test_the_review_says_what_the_index_does_not_give() -> None:
    shown = _rendered(120)
    assert "file:///opt/pypi/simple/ (" not in shown and "simple (file:" not in shown
    assert "released unknown" not in shown and "unknown" not in shown
    assert "the index gives no upload dates" in shown
    assert "pypi (https://pypi.org/simple)" in shown


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, "unknown size"), (532, "532 bytes"), (2048, "2.0 kB"), (1_234_567, "1.2 MB")],
)
def test_sizes_as_pip_prints_them(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_a_stage_spinner_shows_no_byte_counts() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=100, force_terminal=True, no_color=True)
    reporter = RichReporter(console, 0)
    reporter.stage("resolve")
    reporter.download_started("demo-1.0-py3-none-any.whl", 2048)
    reporter.download_advanced("demo-1.0-py3-none-any.whl", 1024)
    progress = reporter._progress
    console.print(progress.make_tasks_table(progress.tasks))
    stage, download = stream.getvalue().splitlines()[:2]
    assert "Resolve" in stage and "?" not in stage and "bytes" not in stage
    assert "1.0/2.0 kB" in download


WHEEL = b"not really a wheel, but bytes with a sha256"
SHA = hashlib.sha256(WHEEL).hexdigest()


def _fetcher(cache: Path) -> Fetcher:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=WHEEL)

    client = httpx.Client(transport=httpx.MockTransport(serve))
    return Fetcher(Upstream(client, NetworkOptions(retries=0)), FileCache(cache), retries=0)


def _said(fetcher: Fetcher, times: int) -> list[str]:
    stream = io.StringIO()
    console = Console(file=stream, width=200, no_color=True)
    reporter = PlainReporter(lambda line: console.print(line, markup=False, highlight=False), 0)
    for _ in range(times):
        fetcher.materialize(demo_wheel(SHA, size=len(WHEEL)), None, reporter)
    return stream.getvalue().splitlines()


class TestUsingCached:
    def test_a_first_download_is_not_cached(self, tmp_path: Path) -> None:
        # The second call finds the file this command stored itself (as after pip fetched
        # it through the gateway while resolving): downloaded, not cached.
        said = _said(_fetcher(tmp_path), 2)
        assert said == ["Downloading demo-1.0-py3-none-any.whl (43 bytes)"] * 2

    def test_a_file_an_earlier_command_cached(self, tmp_path: Path) -> None:
        _said(_fetcher(tmp_path), 1)
        assert _said(_fetcher(tmp_path), 1) == ["Using cached demo-1.0-py3-none-any.whl"]

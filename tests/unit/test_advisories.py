"""OSV advisories: matching, validation, the per-project index, sources and the cache."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.utils import canonicalize_name

from safe_pip.cli.common import advisory_options
from safe_pip.cli.options import parse_args
from safe_pip.errors import AdvisoryError, UsageError
from safe_pip.gateway.network import NetworkOptions, build_client
from safe_pip.policy.advisories import Advisory, parse_advisory
from safe_pip.policy.advisory_index import AdvisoryDatabase, build_index
from safe_pip.policy.advisory_options import OSV_PYPI_ZIP, AdvisoryOptions
from safe_pip.policy.advisory_source import load_advisories
from safe_pip.settings.files import load_file_settings
from tests.support.osv import REAL, AdvisoryServer, advisory, write_directory, zip_bytes

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _one(document: dict[str, Any], project: str = "widget") -> Advisory:
    parsed = parse_advisory(document)
    assert parsed is not None
    return parsed[1][canonicalize_name(project)]


class TestMatching:
    def test_introduced_and_fixed(self) -> None:
        item = _one(advisory("X-1", "widget", events=[[("introduced", "1.0"), ("fixed", "1.4")]]))
        assert not item.affects("0.9")
        assert item.affects("1.0") and item.affects("1.3.9") and item.affects("1.4rc1")
        assert not item.affects("1.4") and not item.affects("2.0")
        assert item.first_fix("1.2") == "1.4" and item.way_out("1.2") == ">=1.4"

    def test_introduced_zero_is_below_every_version(self) -> None:
        item = _one(advisory("X-1", "widget", events=[[("introduced", "0"), ("fixed", "2.0")]]))
        assert item.affects("0.0.1.dev1") and item.affects("1.9") and not item.affects("2.0")

    def test_last_affected_is_inclusive(self) -> None:
        item = _one(
            advisory("X-1", "widget", events=[[("introduced", "0"), ("last_affected", "1.11.0")]])
        )
        assert item.affects("1.11.0") and not item.affects("1.11.1")
        assert item.first_fix("1.0") is None and item.way_out("1.0") == ">1.11.0"

    def test_events_are_ordered_as_versions_not_as_written(self) -> None:
        events = [
            [("fixed", "1.10"), ("introduced", "1.2"), ("fixed", "2.1"), ("introduced", "2.0")]
        ]
        item = _one(advisory("X-1", "widget", events=events))
        assert [item.affects(v) for v in ("1.1", "1.2", "1.9", "1.10", "2.0", "2.1")] == [
            False,
            True,
            True,
            False,
            True,
            False,
        ]
        assert item.fix_versions() == ("1.10", "2.1")
        assert item.first_fix("2.0") == "2.1" and item.way_out("1.5") == ">=1.10"

    def test_explicit_versions_list_compares_as_pep440(self) -> None:
        item = _one(advisory("X-1", "widget", versions=["1.0", "2.0-alpha2", "legacy-1"]))
        assert item.affects("1.0.0") and item.affects("2.0a2") and item.affects("legacy-1")
        assert not item.affects("1.0.1")

    def test_no_ranges_and_no_versions_affect_nothing(self) -> None:
        item = _one(advisory("X-1", "widget"))
        assert not item.affects("1.0")

    def test_an_unparsable_event_is_skipped_not_fatal(self) -> None:
        events = [[("introduced", "0"), ("fixed", "not a version"), ("fixed", "3.0")]]
        item = _one(advisory("X-1", "widget", events=events))
        assert item.affects("2.0") and not item.affects("3.0")

    def test_names_are_normalised(self) -> None:
        parsed = parse_advisory(advisory("X-1", "Zope.Interface_Extra", versions=["1.0"]))
        assert parsed is not None and set(parsed[1]) == {"zope-interface-extra"}

    def test_only_pypi_entries_count(self) -> None:
        parsed = parse_advisory(advisory("X-1", "widget", versions=["1"], ecosystem="npm"))
        assert parsed == ("X-1", {})

    def test_withdrawn_advisories_are_ignored(self) -> None:
        document = advisory("X-1", "widget", versions=["1.0"], withdrawn="2026-01-02T00:00:00Z")
        assert parse_advisory(document) is None

    def test_title_falls_back_to_the_first_sentence_of_details(self) -> None:
        item = _one(advisory("X-1", "widget", details="It breaks. Badly.", versions=["1"]))
        assert item.title == "It breaks"
        assert _one(advisory("X-1", "widget", summary="S", versions=["1"])).title == "S"


class TestValidation:
    @pytest.mark.parametrize(
        "change",
        [
            {"id": 3},
            {"id": ""},
            {"modified": None},
            {"aliases": "CVE-1"},
            {"affected": {"package": "widget"}},
            {"affected": [{"package": {"ecosystem": "PyPI"}}]},
            {"affected": [{"package": {"ecosystem": "PyPI", "name": "w"}, "ranges": [{}]}]},
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "w"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1", "x": "2"}]}],
                    }
                ]
            },
            {"affected": [{"package": {"ecosystem": "PyPI", "name": "w"}, "versions": [1.0]}]},
        ],
    )
    def test_malformed_documents_are_refused(self, change: dict[str, Any]) -> None:
        document = {**advisory("X-1", "widget", versions=["1"]), **change}
        with pytest.raises(ValueError, match="well-formed OSV"):
            build_index([("x.json", json.dumps(document).encode())])

    def test_not_json_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"x\.json is not JSON"):
            build_index([("x.json", b"<html>captive portal</html>")])

    def test_no_advisory_at_all_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no OSV advisory"):
            build_index([])


class TestIndex:
    def test_lookup_reads_only_the_named_projects(self, tmp_path: Path) -> None:
        documents = [
            advisory("A-1", "alpha", versions=["1.0"], aliases=["CVE-1"]),
            advisory("B-1", "Beta_Pkg", events=[[("introduced", "0"), ("fixed", "2")]]),
            advisory("B-2", "beta-pkg", versions=["1.5"]),
        ]
        index, count = build_index((d["id"], json.dumps(d).encode()) for d in documents)
        assert count == 3
        path = tmp_path / "x.index"
        path.write_bytes(index)
        database = AdvisoryDatabase(path, "test", NOW, count)
        found = database.lookup(["BETA.pkg", "gamma"])
        assert set(found) == {"beta-pkg"} and [a.id for a in found["beta-pkg"]] == ["B-1", "B-2"]
        assert database.lookup(["alpha"])["alpha"][0].aliases == ("CVE-1",)

    def test_one_advisory_with_two_entries_for_a_project_is_one_advisory(self) -> None:
        document = advisory("A-1", "alpha", versions=["1.0"])
        document["affected"].append(
            {"package": {"ecosystem": "PyPI", "name": "alpha"}, "versions": ["3.0"]}
        )
        item = _one(document, "alpha")
        assert item.affects("1.0") and item.affects("3.0") and not item.affects("2.0")


_MADE: list[httpx.Client] = []


def _client() -> httpx.Client:
    _MADE.append(build_client(NetworkOptions(timeout=5, retries=0), {}))
    return _MADE[-1]


@pytest.fixture(autouse=True)
def _closed_clients() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


class TestLocalSources:
    def test_a_directory_of_json_files(self, tmp_path: Path) -> None:
        source = write_directory(tmp_path / "osv", [advisory("A-1", "alpha", versions=["1"])])
        database = load_advisories(AdvisoryOptions(str(source)), tmp_path / "home", _client)
        assert database is not None and database.lookup(["alpha"])["alpha"][0].id == "A-1"
        assert not _MADE  # a local source needs no network

    def test_a_zip_of_json_files(self, tmp_path: Path) -> None:
        path = tmp_path / "all.zip"
        path.write_bytes(zip_bytes([advisory("A-1", "alpha", versions=["1"])]))
        database = load_advisories(AdvisoryOptions(str(path)), tmp_path / "home", _client)
        assert database is not None and database.count == 1

    def test_a_changed_directory_is_indexed_again(self, tmp_path: Path) -> None:
        source = write_directory(tmp_path / "osv", [advisory("A-1", "alpha", versions=["1"])])
        options = AdvisoryOptions(str(source))
        assert load_advisories(options, tmp_path / "home", _client) is not None
        write_directory(source, [advisory("A-2", "alpha", versions=["2"])])
        database = load_advisories(options, tmp_path / "home", _client)
        assert database is not None and len(database.lookup(["alpha"])["alpha"]) == 2

    def test_yaml_files_are_a_clear_error_naming_the_osv_zip(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        source = tmp_path / "advisory-database" / "vulns" / "alpha"
        source.mkdir(parents=True)
        (source / "PYSEC-1.yaml").write_text("id: PYSEC-1\n")
        options = AdvisoryOptions(str(tmp_path / "advisory-database"))
        with caplog.at_level(logging.WARNING):
            assert load_advisories(options, tmp_path / "home", _client) is None
        assert "1 OSV YAML file(s)" in caplog.text and OSV_PYPI_ZIP in caplog.text
        assert "NOT checked" in caplog.text
        required = AdvisoryOptions(str(tmp_path / "advisory-database"), required=True)
        with pytest.raises(AdvisoryError, match="YAML"):
            load_advisories(required, tmp_path / "home", _client)

    def test_a_missing_source_is_never_a_silent_pass(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        options = AdvisoryOptions(str(tmp_path / "nowhere.zip"))
        with caplog.at_level(logging.WARNING):
            assert load_advisories(options, tmp_path / "home", _client) is None
        assert "does not exist" in caplog.text and "NOT checked" in caplog.text

    def test_old_local_data_is_a_warning_or_with_require_a_failure(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        source = write_directory(tmp_path / "osv", [advisory("A-1", "alpha", versions=["1"])])
        later = datetime.now(UTC) + timedelta(days=3)
        with caplog.at_level(logging.WARNING):
            database = load_advisories(
                AdvisoryOptions(str(source)), tmp_path / "h", _client, now=later
            )
        assert database is not None and "more than --advisories-max-age (1 days)" in caplog.text
        with pytest.raises(AdvisoryError, match="--require-advisories"):
            load_advisories(
                AdvisoryOptions(str(source), required=True), tmp_path / "h", _client, now=later
            )

    def test_no_source_checks_nothing_and_says_so_when_verbose(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO):
            assert load_advisories(AdvisoryOptions(), tmp_path, _client) is None
        assert "no source configured" in caplog.text


class TestRemoteSource:
    @pytest.fixture
    def server(self) -> Iterator[AdvisoryServer]:
        body = zip_bytes([advisory("A-1", "alpha", versions=["1.0"], aliases=["CVE-2026-1"])])
        with AdvisoryServer(body) as server:
            yield server

    def test_downloaded_once_then_served_from_the_cache(
        self, tmp_path: Path, server: AdvisoryServer
    ) -> None:
        options = AdvisoryOptions(server.url)
        first = load_advisories(options, tmp_path, _client, now=NOW)
        again = load_advisories(options, tmp_path, _client, now=NOW + timedelta(hours=23))
        assert first is not None and again is not None and len(server.requests) == 1
        assert again.lookup(["alpha"])["alpha"][0].aliases == ("CVE-2026-1",)
        meta = json.loads(next((tmp_path / "advisories").glob("*.json")).read_text())
        assert meta["fetched"] == NOW.isoformat() and meta["etag"] == server.etag

    def test_refreshed_when_older_than_the_maximum_age(
        self, tmp_path: Path, server: AdvisoryServer
    ) -> None:
        options = AdvisoryOptions(server.url, max_age_days=1)
        load_advisories(options, tmp_path, _client, now=NOW)
        server.body = zip_bytes([advisory("A-2", "alpha", versions=["2.0"])])
        database = load_advisories(options, tmp_path, _client, now=NOW + timedelta(days=2))
        assert database is not None and [a.id for a in database.lookup(["alpha"])["alpha"]] == [
            "A-2"
        ]
        assert server.requests[-1].get("If-None-Match") is not None

    def test_not_modified_keeps_the_index_and_renews_the_fetch_time(
        self, tmp_path: Path, server: AdvisoryServer
    ) -> None:
        options = AdvisoryOptions(server.url, max_age_days=1)
        load_advisories(options, tmp_path, _client, now=NOW)
        later = NOW + timedelta(days=2)
        database = load_advisories(options, tmp_path, _client, now=later)
        assert database is not None and database.fetched == later and len(server.requests) == 2
        assert load_advisories(options, tmp_path, _client, now=later) is not None
        assert len(server.requests) == 2

    def test_unreachable_with_a_stale_copy_warns_or_fails(
        self, tmp_path: Path, server: AdvisoryServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        load_advisories(AdvisoryOptions(server.url), tmp_path, _client, now=NOW)
        server.status = 503
        later = NOW + timedelta(days=5)
        with caplog.at_level(logging.WARNING):
            database = load_advisories(
                AdvisoryOptions(server.url), tmp_path, _client, now=later, retries=0
            )
        assert database is not None
        assert "could not be reached: HTTP 503" in caplog.text and "5.0 days ago" in caplog.text
        with pytest.raises(AdvisoryError, match="HTTP 503"):
            load_advisories(
                AdvisoryOptions(server.url, required=True), tmp_path, _client, now=later, retries=0
            )

    def test_unreachable_without_a_copy_checks_nothing_loudly(
        self, tmp_path: Path, server: AdvisoryServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        server.status = 404
        with caplog.at_level(logging.WARNING):
            assert load_advisories(AdvisoryOptions(server.url), tmp_path, _client) is None
        assert "HTTP 404" in caplog.text and "NOT checked" in caplog.text

    def test_a_body_that_is_not_a_zip_is_not_cached(
        self, tmp_path: Path, server: AdvisoryServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        server.body = b"<html>sign in to the wifi</html>"
        with caplog.at_level(logging.WARNING):
            assert load_advisories(AdvisoryOptions(server.url), tmp_path, _client) is None
        assert "not a zip of OSV JSON files" in caplog.text
        assert not list((tmp_path / "advisories").glob("*.index"))

    def test_a_malformed_member_rejects_the_whole_download(
        self, tmp_path: Path, server: AdvisoryServer
    ) -> None:
        load_advisories(AdvisoryOptions(server.url), tmp_path, _client, now=NOW)
        server.body = zip_bytes([advisory("A-9", "alpha", versions=["9"])], {"bad.json": b"[1]"})
        options = AdvisoryOptions(server.url, required=True)
        with pytest.raises(AdvisoryError, match=r"bad\.json is not a well-formed OSV"):
            load_advisories(options, tmp_path, _client, now=NOW + timedelta(days=2))

    def test_the_unreachable_client_is_the_commands_own(self, tmp_path: Path) -> None:
        def refused(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("proxy refused", request=request)

        options = AdvisoryOptions("https://advisories.example/all.zip", required=True)
        with (
            httpx.Client(transport=httpx.MockTransport(refused)) as client,
            pytest.raises(AdvisoryError, match="could not be reached: proxy refused"),
        ):
            load_advisories(options, tmp_path, lambda: client, retries=0)


class TestRealExtract:
    """Advisories of the Python Packaging Advisory Database, against versions they name."""

    @pytest.fixture
    def database(self, tmp_path: Path) -> AdvisoryDatabase:
        found = load_advisories(AdvisoryOptions(str(REAL), max_age_days=1e6), tmp_path, _client)
        assert found is not None
        return found

    def test_jinja2_before_2_11_3(self, database: AdvisoryDatabase) -> None:
        by_id = {a.id: a for a in database.lookup(["Jinja2"])["jinja2"]}
        assert set(by_id) == {"PYSEC-2019-217", "PYSEC-2021-66"}
        redos = by_id["PYSEC-2021-66"]
        assert redos.affects("2.11.2") and redos.affects("2.0rc1") and not redos.affects("2.11.3")
        assert redos.first_fix("2.10") == "2.11.3" and "CVE-2020-28493" in redos.aliases
        sandbox = by_id["PYSEC-2019-217"]
        assert sandbox.affects("2.10") and not sandbox.affects("2.10.1")

    def test_py_through_1_11_0_has_no_fix(self, database: AdvisoryDatabase) -> None:
        (redos,) = database.lookup(["py"])["py"]
        assert redos.id == "PYSEC-2022-42969" and redos.affects("1.11.0")
        assert not redos.affects("1.11.1") and redos.first_fix("1.11.0") is None
        assert "GHSA-w596-4wvx-j9j6" in redos.aliases

    def test_withdrawn_advisories_match_nothing(self, database: AdvisoryDatabase) -> None:
        assert database.lookup(["aiohttp", "flask-caching"]) == {}
        assert database.count == 5


class TestSettings:
    def _options(self, tmp_path: Path, toml: str, *argv: str, **environ: str) -> AdvisoryOptions:
        (tmp_path / "pyproject.toml").write_text(toml)
        files = load_file_settings(tmp_path, tmp_path / "home", environ)
        return advisory_options(parse_args("install", ["x", *argv]), files)

    def test_flags_win_and_ignores_are_the_union_with_reasons(self, tmp_path: Path) -> None:
        options = self._options(
            tmp_path,
            '[tool.safe-pip]\nadvisories = "osv.zip"\nadvisories-max-age = 7\n'
            '[tool.safe-pip.ignore-vuln]\n"GHSA-1" = "not reachable"\n',
            "--advisories-max-age",
            "2",
            "--ignore-vuln",
            "PYSEC-1,PYSEC-2",
        )
        assert options.source == "osv.zip" and options.max_age_days == 2 and not options.required
        assert options.ignored == {
            "GHSA-1": "not reachable",
            "PYSEC-1": "--ignore-vuln on the command line",
            "PYSEC-2": "--ignore-vuln on the command line",
        }

    def test_environment_variables(self, tmp_path: Path) -> None:
        options = self._options(
            tmp_path,
            "",
            SAFE_PIP_ADVISORIES="https://example/all.zip",
            SAFE_PIP_REQUIRE_ADVISORIES="true",
            SAFE_PIP_ADVISORIES_MAX_AGE="0.5",
        )
        assert options.source == "https://example/all.zip" and options.required
        assert options.max_age_days == 0.5

    @pytest.mark.parametrize(
        ("toml", "error"),
        [
            ('[tool.safe-pip.ignore-vuln]\n"GHSA-1" = ""\n', "needs a reason"),
            ('[tool.safe-pip]\nignore-vuln = ["GHSA-1"]\n', "must be a table of strings"),
            ("[tool.safe-pip]\nrequire-advisories = 'maybe'\n", "true or false"),
            ("[tool.safe-pip]\nadvisories-max-age = -1\n", "number of days"),
        ],
    )
    def test_malformed_settings_are_usage_errors(
        self, tmp_path: Path, toml: str, error: str
    ) -> None:
        with pytest.raises(UsageError, match=error):
            self._options(tmp_path, toml)

    def test_options_are_install_and_audit_only(self) -> None:
        with pytest.raises(UsageError):
            parse_args("lock", ["x", "--advisories", "osv.zip"])
        assert parse_args("audit", ["--format", "sarif"]).audit_format == "sarif"
        with pytest.raises(UsageError):
            parse_args("install", ["x", "--format", "json"])

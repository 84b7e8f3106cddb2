"""End to end: known vulnerabilities refused at install time, and ``safe-pip audit``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install
from tests.support.index import PackageIndex
from tests.support.osv import REAL, AdvisoryServer, advisory, write_directory, zip_bytes
from tests.support.outcomes import refused, succeeded

# A loopback port nothing listens on.
DEAD = "http://127.0.0.1:9/PyPI/all.zip"

DOCUMENTS = [
    advisory(
        "GHSA-wid9-0000-0001",
        "widget",
        events=[[("introduced", "0"), ("fixed", "2.0")]],
        aliases=["CVE-2026-0001"],
        summary="Widget deserialises untrusted input",
    ),
    advisory("PYSEC-2026-7", "gizmo", versions=["0.9"]),
    advisory("PYSEC-2026-8", "widget", versions=["1.0"], withdrawn="2026-06-01T00:00:00Z"),
]


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """widget 1.0 (vulnerable) and 2.0 (fixed); app 1.0 depends on any widget<3."""
    package_index = index()
    package_index.add(wheel("widget", "1.0"))
    package_index.add(wheel("widget", "2.0"))
    package_index.add(wheel("app", "1.0", requires=["widget<3"]))
    return package_index


@pytest.fixture
def advisories(tmp_path: Path) -> Path:
    return write_directory(tmp_path / "osv", DOCUMENTS)


def _home(safe_pip: SafePip) -> Path:
    return safe_pip.home / "safe-pip-home"


def _downloaded(index: PackageIndex) -> list[str]:
    return [path for path in index.requests if path.endswith(".whl")]


class TestInstall:
    def test_a_vulnerable_plan_is_refused_with_the_advisory_and_the_fix(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        result = install(safe_pip, venv, served, "widget==1.0", "--advisories", str(advisories))
        message = refused(
            result,
            "widget 1.0: GHSA-wid9-0000-0001 (CVE-2026-0001): Widget deserialises untrusted "
            "input; fixed in 2.0",
            "your requirement widget==1.0 (command line) excludes",
            "change it to widget>=2.0",
            "--ignore-vuln GHSA-wid9-0000-0001",
            untouched=venv,
        )
        assert "nothing was installed" in message
        assert not _downloaded(served)  # refused after resolution, before any download
        refusals = [line for line in safe_pip.audit_log() if line["decision"] == "refused"]
        assert [(r["project"], r["how"]) for r in refusals] == [
            ("widget", "known vulnerability GHSA-wid9-0000-0001")
        ]

    def test_the_exact_command_that_takes_the_fix_is_named_and_works(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        (safe_pip.cwd / "pin.txt").write_text("widget==1.0\n")
        result = install(
            safe_pip, venv, served, "app", "-c", "pin.txt", "--advisories", str(advisories)
        )
        refused(result, "widget==1.0 (-c pin.txt (line 1)) excludes", untouched=venv)
        # Without the constraint pip takes widget 2.0 (fixed): nothing to refuse.
        succeeded(install(safe_pip, venv, served, "app", "--advisories", str(advisories)))
        assert venv.installed()["widget"] == "2.0"

    def test_a_dependency_without_a_bound_gets_the_command(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        advisories: Path,
    ) -> None:
        only_old = index()
        only_old.add(wheel("widget", "1.0"))
        only_old.add(wheel("app", "1.0", requires=["widget"]))
        result = install(safe_pip, venv, only_old, "app", "--advisories", str(advisories))
        refused(result, "take the fixed versions: safe-pip install app 'widget>=2.0'")

    def test_ignore_vuln_lets_it_through_and_the_audit_log_records_it(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        result = install(
            safe_pip,
            venv,
            served,
            "widget==1.0",
            "--advisories",
            str(advisories),
            "--ignore-vuln",
            "CVE-2026-0001",
        )
        succeeded(result)
        assert venv.installed()["widget"] == "1.0"
        assert "GHSA-wid9-0000-0001" in result.stderr and "ignored" in result.stderr
        ignored = [line for line in safe_pip.audit_log() if line["decision"] == "ignored"]
        assert [(i["project"], i["version"], i["how"]) for i in ignored] == [
            (
                "widget",
                "1.0",
                "known vulnerability GHSA-wid9-0000-0001 ignored: --ignore-vuln on the "
                "command line",
            )
        ]

    def test_settings_name_the_source_and_ignore_with_a_reason(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        (safe_pip.cwd / "pyproject.toml").write_text(
            f'[tool.safe-pip]\nadvisories = "{advisories}"\n'
            f'[tool.safe-pip.ignore-vuln]\n"GHSA-wid9-0000-0001" = "only parses our own files"\n'
        )
        succeeded(install(safe_pip, venv, served, "widget==1.0"))
        (ignored,) = [line for line in safe_pip.audit_log() if line["decision"] == "ignored"]
        assert ignored["how"].endswith("ignored: only parses our own files")

    def test_an_ignore_setting_without_a_reason_is_a_usage_error(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        (safe_pip.cwd / "pyproject.toml").write_text(
            '[tool.safe-pip.ignore-vuln]\n"GHSA-wid9-0000-0001" = " "\n'
        )
        result = install(safe_pip, venv, served, "widget", "--advisories", str(advisories))
        assert result.returncode == 2 and "needs a reason" in result.stderr

    def test_dry_run_shows_the_advisory_in_the_plan(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        result = install(
            safe_pip, venv, served, "widget==1.0", "--dry-run", "--advisories", str(advisories)
        )
        output = succeeded(result)
        assert "WARNING: widget 1.0 has a known vulnerability: GHSA-wid9-0000-0001" in output
        assert "fixed in 2.0" in output and "Would install widget-1.0" in output
        assert not safe_pip.audit_log()

    def test_dry_run_audit_prints_the_table_and_fails(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> None:
        args = ("--dry-run", "--audit", "--advisories", str(advisories))
        result = install(safe_pip, venv, served, "app", "widget==1.0", *args)
        assert result.returncode == 1, result.stderr
        assert "GHSA-wid9-0000-0001 (CVE-2026-0001)" in result.stdout
        assert "Found 1 known vulnerability in 1 of 2 projects" in result.stdout
        clean = install(safe_pip, venv, served, "app", *args)
        assert "No known vulnerabilities in 2 projects" in succeeded(clean)

    def test_audit_without_dry_run_is_a_usage_error(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        result = install(safe_pip, venv, served, "widget", "--audit")
        assert result.returncode == 2 and "add --dry-run" in result.stderr

    def test_no_source_checks_nothing_and_verbose_says_so(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        result = install(safe_pip, venv, served, "widget==1.0", "-v")
        succeeded(result)
        assert "no source configured" in result.stderr

    def test_the_real_extract_refuses_a_jinja2_it_names(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        jinja = index()
        jinja.add(wheel("Jinja2", "2.11.2"))
        result = install(safe_pip, venv, jinja, "jinja2==2.11.2", "--advisories", str(REAL))
        refused(result, "PYSEC-2021-66 (CVE-2020-28493", "fixed in 2.11.3", untouched=venv)
        assert "PYSEC-2019-217" not in result.stderr  # fixed in 2.10.1


class TestUnreachableOrStale:
    @pytest.fixture
    def server(self) -> Iterator[AdvisoryServer]:
        with AdvisoryServer(zip_bytes(DOCUMENTS)) as server:
            yield server

    def test_the_zip_is_downloaded_and_checked(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, server: AdvisoryServer
    ) -> None:
        refused(
            install(safe_pip, venv, served, "widget==1.0", "--advisories", server.url),
            "GHSA-wid9-0000-0001",
        )
        assert len(server.requests) == 1
        assert list((_home(safe_pip) / "advisories").glob("*.index"))

    def test_unreachable_is_a_warning_never_a_silent_pass(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        result = install(
            safe_pip, venv, served, "widget==1.0", "--advisories", DEAD, "--retries", "0"
        )
        succeeded(result)
        assert "WARNING: advisory source http://127.0.0.1:9/PyPI/all.zip could not be reached" in (
            result.stderr
        )
        assert "known vulnerabilities were NOT checked" in result.stderr

    def test_unreachable_with_require_advisories_fails(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        result = install(
            safe_pip,
            venv,
            served,
            "widget==2.0",
            "--advisories",
            DEAD,
            "--retries",
            "0",
            "--require-advisories",
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "could not be reached" in result.stderr and "--require-advisories" in result.stderr
        assert venv.installed() == {}

    def test_a_stale_copy_is_used_with_a_warning_or_refused_when_required(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, server: AdvisoryServer
    ) -> None:
        succeeded(install(safe_pip, venv, served, "widget==2.0", "--advisories", server.url))
        server.status = 500
        stale = ("--advisories", server.url, "--advisories-max-age", "0", "--retries", "0")
        result = install(safe_pip, venv, served, "widget==1.0", *stale)
        refused(result, "GHSA-wid9-0000-0001", "HTTP 500", "using the copy fetched")
        required = install(safe_pip, venv, served, "widget==1.0", *stale, "--require-advisories")
        assert required.returncode == 1 and "HTTP 500" in required.stderr
        assert venv.installed()["widget"] == "2.0"


def _audit_env(
    safe_pip: SafePip, venv: Venv, advisories: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``safe-pip audit`` of the projects installed in ``venv``."""
    return safe_pip("audit", "--python", str(venv.python), "--advisories", str(advisories), *args)


class TestAuditCommand:
    @pytest.fixture
    def installed(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, advisories: Path
    ) -> Venv:
        succeeded(
            install(
                safe_pip,
                venv,
                served,
                "widget==1.0",
                "--advisories",
                str(advisories),
                "--ignore-vuln",
                "GHSA-wid9-0000-0001",
            )
        )
        return venv

    def test_table(self, safe_pip: SafePip, installed: Venv, advisories: Path) -> None:
        result = _audit_env(safe_pip, installed, advisories)
        assert result.returncode == 1, result.stderr
        row = next(line for line in result.stdout.splitlines() if line.strip().startswith("widget"))
        assert row.split()[:5] == ["widget", "1.0", "GHSA-wid9-0000-0001", "(CVE-2026-0001)", "2.0"]
        assert "Found 1 known vulnerability in 1 of 1 projects" in result.stdout

    def test_json_is_pip_audit_shaped(
        self, safe_pip: SafePip, installed: Venv, advisories: Path
    ) -> None:
        result = _audit_env(safe_pip, installed, advisories, "--format", "json")
        assert result.returncode == 1
        assert json.loads(result.stdout) == {
            "dependencies": [
                {
                    "name": "widget",
                    "version": "1.0",
                    "vulns": [
                        {
                            "id": "GHSA-wid9-0000-0001",
                            "fix_versions": ["2.0"],
                            "aliases": ["CVE-2026-0001"],
                            "description": "Details of GHSA-wid9-0000-0001.",
                        }
                    ],
                }
            ],
            "fixes": [],
        }

    def test_sarif_of_a_requirements_file(self, safe_pip: SafePip, advisories: Path) -> None:
        (safe_pip.cwd / "requirements.txt").write_text("# locked\ngizmo==0.9\nwidget==2.0\n")
        result = safe_pip(
            "audit", "-r", "requirements.txt", "--advisories", str(advisories), "--format", "sarif"
        )
        assert result.returncode == 1, result.stderr
        sarif = json.loads(result.stdout)
        assert sarif["version"] == "2.1.0"
        (run,) = sarif["runs"]
        assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["PYSEC-2026-7"]
        (found,) = run["results"]
        assert found["ruleId"] == "PYSEC-2026-7" and found["level"] == "error"
        location = found["locations"][0]["physicalLocation"]
        assert location == {
            "artifactLocation": {"uri": "requirements.txt"},
            "region": {"startLine": 2},
        }

    def test_a_clean_environment_exits_0(
        self, safe_pip: SafePip, venv: Venv, advisories: Path
    ) -> None:
        result = _audit_env(safe_pip, venv, advisories)
        assert "No known vulnerabilities in 0 projects" in succeeded(result)

    def test_ignored_advisories_are_listed_not_counted(
        self, safe_pip: SafePip, installed: Venv, advisories: Path
    ) -> None:
        result = _audit_env(safe_pip, installed, advisories, "--ignore-vuln", "GHSA-wid9-0000-0001")
        output = succeeded(result)
        assert "ignored: widget 1.0 GHSA-wid9-0000-0001" in output

    def test_unpinned_requirements_are_refused_with_the_alternative(
        self, safe_pip: SafePip, advisories: Path
    ) -> None:
        (safe_pip.cwd / "requirements.txt").write_text("widget>=1\n")
        result = safe_pip("audit", "-r", "requirements.txt", "--advisories", str(advisories))
        assert result.returncode == 2
        assert "safe-pip install --dry-run --audit -r" in result.stderr

    def test_without_a_source_it_says_where_to_get_one(self, safe_pip: SafePip, venv: Venv) -> None:
        result = safe_pip("audit", "--python", str(venv.python))
        assert result.returncode == 2
        assert "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip" in result.stderr

    def test_unreachable_data_is_a_failure_not_a_clean_audit(
        self, safe_pip: SafePip, venv: Venv
    ) -> None:
        result = safe_pip(
            "audit", "--python", str(venv.python), "--advisories", DEAD, "--retries", "0"
        )
        assert result.returncode == 1 and "nothing was checked" in result.stderr

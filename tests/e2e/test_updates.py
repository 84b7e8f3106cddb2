"""End to end: updates are security events (DESIGN invariant 9).

Each test replays a real pattern of attack on a project people already trust, with a
canary: a poisoned release whose code writes a marker file when it is imported (or, for a
source distribution, when its build backend runs). The canary must never land or run.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install, make_venv
from tests.support.index import PackageIndex
from tests.support.outcomes import ran, refused

NOW = datetime.now(UTC)


def _canary(markers: Path, name: str) -> dict[str, str]:
    """A package whose import writes a marker: the payload of a poisoned release."""
    return {
        f"{name}/__init__.py": (
            "import pathlib\n"
            f"pathlib.Path({str(markers)!r}).mkdir(parents=True, exist_ok=True)\n"
            f"(pathlib.Path({str(markers)!r}) / 'canary-ran').write_text('poisoned')\n"
        )
    }


def _install(
    safe_pip: SafePip, venv: Venv, index: PackageIndex, *args: str
) -> subprocess.CompletedProcess[str]:
    return install(safe_pip, venv, index, *args, env={"CI": "1"})


def _imports_cleanly(venv: Venv, module: str, markers: Path) -> None:
    result = venv.run(f"import {module}")
    assert result.returncode == 0, result.stderr
    assert ran(markers) == []


@pytest.fixture
def poisoned(
    index: Callable[..., PackageIndex], wheel: Callable[..., Path], markers: Path
) -> PackageIndex:
    """num2words 0.5.14 (90 days old) and a poisoned 0.5.15 uploaded an hour ago."""
    served = index()
    served.add(wheel("num2words", "0.5.14"), upload_time=NOW - timedelta(days=90))
    served.add(
        wheel("num2words", "0.5.15", files=_canary(markers, "num2words")),
        upload_time=NOW - timedelta(hours=1),
    )
    return served


class TestCooldown:
    def test_a_poisoned_release_an_hour_old_is_held_back_in_ci(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex, markers: Path
    ) -> None:
        result = _install(safe_pip, venv, poisoned, "num2words")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"num2words": "0.5.14"}
        output = result.stdout + result.stderr
        assert (
            "num2words 0.5.15 (uploaded 1 h ago) held back by the 7-day cooldown; "
            "installing 0.5.14" in output
        )
        assert "--trust num2words==0.5.15" in output
        upgrade = _install(safe_pip, venv, poisoned, "-U", "num2words")
        assert upgrade.returncode == 0, upgrade.stderr
        assert venv.installed() == {"num2words": "0.5.14"}
        _imports_cleanly(venv, "num2words", markers)

    def test_an_exact_pin_only_a_young_file_meets_is_refused_naming_the_flag(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex, markers: Path
    ) -> None:
        result = _install(safe_pip, venv, poisoned, "num2words==0.5.15")
        refused(
            result,
            "num2words: 0.5.15 (uploaded 1 h ago) held back by the 7-day cooldown",
            "--trust num2words==0.5.15",
            "safe-pip trust allow-new num2words==0.5.15",
            untouched=venv,
        )

    def test_an_exemption_lets_the_release_through_says_so_and_is_audited(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex
    ) -> None:
        assert _install(safe_pip, venv, poisoned, "num2words").returncode == 0
        added = safe_pip(
            "trust", "allow-new", "num2words==0.5.15", "--reason", "urgent fix for CVE-1"
        )
        assert added.returncode == 0, added.stderr
        result = _install(safe_pip, venv, poisoned, "-U", "num2words")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"num2words": "0.5.15"}
        assert 'the exemption num2words==0.5.15 (reason: "urgent fix for CVE-1"' in (
            result.stdout + result.stderr
        )
        exempted = [line for line in safe_pip.audit_log() if line["decision"] == "exempted"]
        assert len(exempted) == 2  # added, then used
        assert all("urgent fix for CVE-1" in (line["how"] or "") for line in exempted)
        assert exempted[1]["version"] == "0.5.15" and exempted[1]["filename"]

    def test_an_expired_exemption_no_longer_applies_and_says_so(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex
    ) -> None:
        (safe_pip.cwd / "safe-pip.toml").write_text(
            '[allow-new]\n"num2words" = {reason = "hotfix", until = 2020-01-01}\n'
        )
        result = _install(safe_pip, venv, poisoned, "num2words")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"num2words": "0.5.14"}
        assert 'the exemption num2words (reason: "hotfix"; until 2020-01-01' in (
            result.stdout + result.stderr
        )
        assert "expired; it no longer applies" in result.stdout + result.stderr

    def test_naming_the_release_on_the_command_takes_it(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex
    ) -> None:
        result = _install(safe_pip, venv, poisoned, "--trust", "num2words==0.5.15", "num2words")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"num2words": "0.5.15"}

    def test_a_hash_locked_install_is_exempt(
        self, safe_pip: SafePip, venv: Venv, poisoned: PackageIndex
    ) -> None:
        # The lock was the review: the user pinned this exact file.
        (entry,) = [f for f in poisoned.files["num2words"] if "0.5.15" in f.path.name]
        requirements = safe_pip.cwd / "requirements.txt"
        requirements.write_text(f"num2words==0.5.15 --hash=sha256:{entry.real_sha256}\n")
        result = _install(safe_pip, venv, poisoned, "-r", str(requirements))
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"num2words": "0.5.15"}


class TestReplacedRelease:
    def test_a_release_replaced_after_install_is_an_alarm_until_forgotten(
        self,
        safe_pip: SafePip,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        markers: Path,
        tmp_path: Path,
    ) -> None:
        served = index()
        original = served.add(wheel("widget", "1.0"), upload_time=NOW - timedelta(days=60))
        first = make_venv(tmp_path / "first")
        assert _install(safe_pip, first, served, "widget").returncode == 0
        # The publisher's account is taken over: the release is deleted and re-uploaded
        # under a new file name (an index never reuses one), with a payload.
        replacement_dir = tmp_path / "replacement"
        built = wheel("widget", "1.0", files=_canary(markers, "widget"))
        replacement_dir.mkdir()
        replacement = replacement_dir / "widget-1.0-1-py3-none-any.whl"
        shutil.move(built, replacement)
        served.files["widget"] = []
        served.add(replacement, upload_time=NOW - timedelta(days=8))
        second = make_venv(tmp_path / "second")
        result = _install(safe_pip, second, served, "widget")
        refused(
            result,
            original.path.name,
            "no longer listed",
            "widget-1.0-1-py3-none-any.whl: new, uploaded 8 days ago",
            "safe-pip trust forget widget==1.0",
            untouched=second,
        )
        assert ran(markers) == []
        refusals = [line for line in safe_pip.audit_log() if line["decision"] == "refused"]
        assert "release changed after it was installed" in (refusals[-1]["how"] or "")
        forgot = safe_pip("trust", "forget", "widget==1.0")
        assert forgot.returncode == 0, forgot.stderr
        accepted = _install(safe_pip, second, served, "widget")
        assert accepted.returncode == 0, accepted.stderr

    def test_a_file_added_to_an_installed_release_is_an_alarm(
        self,
        safe_pip: SafePip,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        tmp_path: Path,
    ) -> None:
        served = index()
        served.add(wheel("widget", "1.0"), upload_time=NOW - timedelta(days=60))
        assert _install(safe_pip, make_venv(tmp_path / "a"), served, "widget").returncode == 0
        extra = tmp_path / "extra"
        extra.mkdir()
        added = extra / "widget-1.0-py2.py3-none-any.whl"
        shutil.copy(wheel("widget", "1.0", summary="Added later"), added)
        served.add(added, upload_time=NOW - timedelta(days=9))
        result = _install(safe_pip, make_venv(tmp_path / "b"), served, "widget")
        refused(result, "widget-1.0-py2.py3-none-any.whl: new, uploaded 9 days ago")


class TestUpdateReview:
    def test_a_dormant_project_waking_up_is_refused_unattended_unless_named(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        markers: Path,
    ) -> None:
        served = index()
        served.add(wheel("ctx", "0.1.2"), upload_time=NOW - timedelta(days=8 * 365))
        assert _install(safe_pip, venv, served, "ctx==0.1.2").returncode == 0
        served.add(
            wheel("ctx", "0.2.2", files=_canary(markers, "ctx")),
            upload_time=NOW - timedelta(days=10),
        )
        result = _install(safe_pip, venv, served, "-U", "ctx")
        refused(result, "ctx 0.2.2", "first release in 8.0 years", "--trust ctx==0.2.2")
        assert venv.installed() == {"ctx": "0.1.2"}
        _imports_cleanly(venv, "ctx", markers)
        named = _install(safe_pip, venv, served, "-U", "--trust", "ctx", "ctx")
        assert named.returncode == 0, named.stderr
        assert venv.installed() == {"ctx": "0.2.2"}

    def test_a_new_release_of_a_build_allowed_project_is_not_built_unattended(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        sdist: Callable[..., Path],
        markers: Path,
    ) -> None:
        served = index()
        served.add(sdist("builder", "1.0"), upload_time=NOW - timedelta(days=100))
        first = _install(safe_pip, venv, served, "--allow-sdist", "builder", "builder")
        assert first.returncode == 0, first.stderr
        shutil.rmtree(markers)
        served.add(sdist("builder", "2.0"), upload_time=NOW - timedelta(days=10))
        result = _install(safe_pip, venv, served, "-U", "--allow-sdist", "builder", "builder")
        refused(result, "builder 2.0", "built from source", "--trust builder==2.0")
        assert ran(markers) == []
        assert venv.installed() == {"builder": "1.0"}

    def test_a_poisoned_update_past_the_cooldown_is_refused_in_ci(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        markers: Path,
    ) -> None:
        # The ultralytics pattern: a trusted project's next release, eight days old, adds
        # a dependency, a command and a native payload.
        served = index()
        served.add(wheel("ultra", "8.3.40"), upload_time=NOW - timedelta(days=40))
        served.add(wheel("helper", "1.0"), upload_time=NOW - timedelta(days=40))
        assert _install(safe_pip, venv, served, "ultra").returncode == 0
        payload = {**_canary(markers, "ultra"), "ultra/_miner.abi3.so": b"\x7fELF"}
        served.add(
            wheel(
                "ultra",
                "8.3.41",
                requires=["helper"],
                entry_points={"pip": "ultra:main"},
                files=payload,
            ),
            upload_time=NOW - timedelta(days=8),
        )
        result = _install(safe_pip, venv, served, "-U", "ultra")
        refused(
            result,
            "new dependencies: helper",
            "new console scripts: console_scripts:pip",
            "native libraries added: ultra/_miner.so",
            "--trust ultra==8.3.41",
        )
        assert venv.installed() == {"ultra": "8.3.40"}
        _imports_cleanly(venv, "ultra", markers)
        refusals = [line for line in safe_pip.audit_log() if line["decision"] == "refused"]
        assert refusals[-1]["project"] == "ultra" and refusals[-1]["version"] == "8.3.41"
        named = _install(safe_pip, venv, served, "-U", "--trust", "ultra==8.3.41", "ultra")
        assert named.returncode == 0, named.stderr
        assert venv.installed() == {"ultra": "8.3.41", "helper": "1.0"}
        approved = [
            line
            for line in safe_pip.audit_log()
            if line["decision"] == "approved" and line["project"] == "ultra"
        ]
        assert (approved[-1]["version"], approved[-1]["how"]) == ("8.3.41", "flag")

    def test_an_update_that_changes_nothing_that_runs_goes_through_as_updated(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        served = index()
        served.add(wheel("steady", "1.0"), upload_time=NOW - timedelta(days=40))
        assert _install(safe_pip, venv, served, "steady").returncode == 0
        served.add(wheel("steady", "1.1"), upload_time=NOW - timedelta(days=9))
        result = _install(safe_pip, venv, served, "-U", "steady")
        assert result.returncode == 0, result.stderr
        assert "updated from 1.0: nothing that runs changed" in result.stdout + result.stderr
        assert venv.installed() == {"steady": "1.1"}


def test_a_dry_run_says_what_was_held_back_when_nothing_else_changes(
    safe_pip: SafePip, venv: Venv, poisoned: PackageIndex
) -> None:
    assert _install(safe_pip, venv, poisoned, "num2words").returncode == 0
    result = _install(safe_pip, venv, poisoned, "--dry-run", "-U", "num2words")
    assert result.returncode == 0, result.stderr
    assert (
        "note: num2words 0.5.15 (uploaded 1 h ago) held back by the 7-day cooldown; "
        "nothing newer installed" in result.stdout
    )


def test_allow_new_needs_a_reason_and_lists_what_it_allows(safe_pip: SafePip) -> None:
    missing = safe_pip("trust", "allow-new", "num2words==0.5.15")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    past = safe_pip("trust", "allow-new", "num2words", "--reason", "x", "--until", "2020-01-01")
    assert past.returncode == 2 and "has passed" in past.stderr
    added = safe_pip("trust", "allow-new", "num2words", "--reason", "fix", "--until", "2999-01-01")
    assert added.returncode == 0, added.stderr
    listed = safe_pip("trust", "allow-new")
    assert 'num2words (reason: "fix"; until 2999-01-01; trust store)' in listed.stdout

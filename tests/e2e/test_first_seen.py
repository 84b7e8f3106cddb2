"""End to end: first-seen approval, the trust store, remembered hashes, ``safe-pip trust``."""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from safe_pip.policy.trust import ProjectRecord, StoreDocument
from tests.conftest import SafePip, Venv, _safe_pip_command, install, make_venv
from tests.support.dists import WheelSpec, build_wheel, write_project
from tests.support.index import PackageIndex
from tests.support.outcomes import ran, refused, succeeded


@pytest.fixture
def strict(safe_pip: SafePip) -> SafePip:
    """safe-pip with nothing approved in advance."""
    safe_pip.trust_all = False
    return safe_pip


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """widget 1.0 (depends on gizmo), gizmo 1.0, and the typosquat reqeusts 1.0."""
    package_index = index()
    package_index.add(wheel("widget", "1.0", requires=["gizmo"]))
    package_index.add(wheel("gizmo", "1.0"))
    package_index.add(wheel("reqeusts", "1.0"))
    return package_index


def _home(safe_pip: SafePip) -> Path:
    return safe_pip.home / "safe-pip-home"


def _store(safe_pip: SafePip) -> dict[str, ProjectRecord]:
    document: StoreDocument = json.loads((_home(safe_pip) / "trust.json").read_text())
    return document["projects"]


class TestUnattended:
    def test_refuses_every_first_seen_project_and_installs_nothing(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        message = refused(install(strict, venv, served, "widget"))
        assert "widget 1.0" in message and "gizmo 1.0" in message
        assert "--trust widget,gizmo" in message or "--trust gizmo,widget" in message
        assert "safe-pip trust add" in message and "trusted = [" in message
        assert "widget" not in venv.installed() and "gizmo" not in venv.installed()
        assert not (_home(strict) / "trust.json").exists()
        refusals = {line["project"] for line in strict.audit_log() if line["decision"] == "refused"}
        assert refusals == {"widget", "gizmo"}

    def test_a_typosquat_is_named_in_the_refusal(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        message = refused(install(strict, venv, served, "reqeusts"))
        assert "reqeusts" in message and "'requests'" in message

    def test_dry_run_shows_the_status_and_records_nothing(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        out = succeeded(
            install(strict, venv, served, "--dry-run", "--trust", "gizmo", "reqeusts", "gizmo")
        )
        assert "first seen, not approved" in out
        assert "first seen, approved by flag" in out
        assert "looks like 'requests'" in out
        assert not (_home(strict) / "trust.json").exists()
        assert strict.audit_log() == []


def _settings_file(safe_pip: SafePip, key: str) -> None:
    (safe_pip.cwd / "pyproject.toml").write_text(f'[tool.safe-pip]\n{key} = ["widget", "gizmo"]\n')


class TestApprovalRoutes:
    @pytest.mark.parametrize(
        ("args", "how"),
        [
            (("--trust", "widget,gizmo"), "flag"),
            (("--trust", "widget", "--trust", "gizmo"), "flag"),
            (("--trust", ":all:"), "flag"),
        ],
    )
    def test_flags(
        self, strict: SafePip, venv: Venv, served: PackageIndex, args: tuple[str, ...], how: str
    ) -> None:
        succeeded(install(strict, venv, served, *args, "widget"))
        assert venv.installed().keys() >= {"widget", "gizmo"}
        store = _store(strict)
        assert store["widget"]["how"] == how and store["gizmo"]["how"] == how
        assert store["widget"]["source"] == served.url

    @pytest.mark.parametrize("key", ["trusted", "trust"])
    def test_settings_file(
        self, strict: SafePip, venv: Venv, served: PackageIndex, key: str
    ) -> None:
        _settings_file(strict, key)
        succeeded(install(strict, venv, served, "widget"))
        assert _store(strict)["widget"]["how"] == "settings"

    def test_trust_add_beforehand(self, strict: SafePip, venv: Venv, served: PackageIndex) -> None:
        succeeded(strict("trust", "add", "widget", "gizmo"))
        succeeded(install(strict, venv, served, "widget"))
        store = _store(strict)
        assert store["widget"]["how"] == "command"
        assert store["widget"]["source"] == served.url
        assert list(store["widget"]["files"]) == ["1.0"]

    def test_hash_pinned_requirements(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        digest = served.files["gizmo"][0].real_sha256
        requirements = strict.cwd / "requirements.txt"
        requirements.write_text(f"gizmo==1.0 --hash=sha256:{digest}\n")
        succeeded(install(strict, venv, served, "-r", str(requirements)))
        assert _store(strict)["gizmo"]["how"] == "hash-pin"
        requirements.write_text(f"gizmo>=1.0 --hash=sha256:{digest}\n")
        other = make_venv(strict.home / "other")
        # An unpinned line with a hash is not an approval (the store approves it now, so
        # use a fresh home).
        fresh = SafePip(strict.home / "fresh", strict.cwd, trust_all=False)
        (fresh.home / "user").mkdir(parents=True)
        refused(install(fresh, other, served, "-r", str(requirements)))

    def test_approval_is_remembered_across_environments(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        succeeded(install(strict, venv, served, "--trust", "widget,gizmo", "widget"))
        second = make_venv(strict.home / "second")
        succeeded(install(strict, second, served, "widget"))
        assert second.installed().keys() >= {"widget", "gizmo"}
        installed = [line for line in strict.audit_log() if line["decision"] == "installed"]
        assert len(installed) == 4
        assert all(len(line["sha256"]) == 64 for line in installed)
        assert {line["how"] for line in installed} == {"flag", "store"}


def _on_terminal(safe_pip: SafePip, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run safe-pip on a pseudo-terminal, answering each question as it appears."""
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [*_safe_pip_command(), *args],
        cwd=safe_pip.cwd,
        env=safe_pip.env(),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and output.rstrip().endswith(b"]"):
                os.write(leader, pending.pop(0).encode() + b"\n")
        else:
            process.kill()
            pytest.fail("safe-pip did not finish on the terminal:\n" + output.decode())
        return process.wait(timeout=60), output.decode(errors="replace")
    finally:
        os.close(leader)


class TestInteractive:
    def test_yes_installs_and_records(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        args = ["--python", str(venv.python), "install", "-i", served.url, "widget"]
        status, output = _on_terminal(strict, args, ["y"])
        assert status == 0, output
        assert "widget" in output and "gizmo" in output and "Approve all 2" in output
        assert venv.installed().keys() >= {"widget", "gizmo"}
        assert _store(strict)["widget"]["how"] == "prompt"

    def test_no_installs_nothing(self, strict: SafePip, venv: Venv, served: PackageIndex) -> None:
        args = ["--python", str(venv.python), "install", "-i", served.url, "widget"]
        status, output = _on_terminal(strict, args, ["n"])
        assert status == 3, output
        assert "You refused" in output
        assert "widget" not in venv.installed()
        assert not (_home(strict) / "trust.json").exists()

    def test_one_by_one_a_suspicious_project_defaults_to_no(
        self, strict: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        args = ["--python", str(venv.python), "install", "-i", served.url, "gizmo", "reqeusts"]
        status, output = _on_terminal(strict, args, ["o", "", ""])
        assert status == 3, output
        assert "looks like 'requests'" in output
        assert "reqeusts" not in venv.installed() and "gizmo" not in venv.installed()
        refusals = {line["project"] for line in strict.audit_log() if line["decision"] == "refused"}
        assert refusals == {"reqeusts"}

    def test_a_build_requirement_is_shown_with_what_its_page_says(
        self,
        strict: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
        markers: Path,
    ) -> None:
        # pip asks for a build requirement only once it reads the project: its review must
        # see the page the gateway fetched then, which says the project is ten days old.
        served = index()
        young = datetime.now(UTC) - timedelta(days=10)
        served.add(wheel("build-helper", "1.0"), upload_time=young)
        project = write_project(
            strict.cwd / "proj", "myproj", "0.1", markers, build_requires=["build-helper"]
        )
        args = ["--python", str(venv.python), "install", "-i", served.url, str(project)]
        status, output = _on_terminal(strict, args, ["n"])
        assert status == 3, output
        assert "build-helper" in output
        assert "first release is only 10 days old" in output
        assert not any(name.startswith("myproj-") for name in ran(markers))


class TestSourceChange:
    def test_a_known_name_from_another_source_is_refused(
        self,
        safe_pip: SafePip,
        venv: Venv,
        served: PackageIndex,
        index: Callable[..., PackageIndex],
    ) -> None:
        succeeded(install(safe_pip, venv, served, "gizmo"))
        other = index()
        other.add(served.files["gizmo"][0].path)
        second = make_venv(safe_pip.home / "second")
        # SAFE_PIP_TRUST=:all: approves names, not the source that now serves them.
        message = refused(install(safe_pip, second, other, "gizmo"))
        assert served.url.rstrip("/") in message and other.url.rstrip("/") in message
        assert "dependency confusion" in message
        assert "--trust gizmo" in message
        assert "gizmo" not in second.installed()
        succeeded(install(safe_pip, second, other, "--trust", "gizmo", "gizmo"))
        assert _store(safe_pip)["gizmo"]["source"] == other.url


class TestRememberedHashes:
    def test_a_changed_file_is_refused_until_forgotten(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        succeeded(install(safe_pip, venv, served, "gizmo"))
        original = served.files["gizmo"][0].real_sha256
        assert _store(safe_pip)["gizmo"]["files"] == {
            "1.0": {"gizmo-1.0-py3-none-any.whl": original}
        }
        changed = build_wheel(safe_pip.home / "changed", WheelSpec("gizmo", "1.0", summary="new"))
        served.files["gizmo"] = []
        served.add(changed)
        second = make_venv(safe_pip.home / "second")
        message = refused(install(safe_pip, second, served, "gizmo"))
        assert original in message
        assert hashlib.sha256(changed.read_bytes()).hexdigest() in message
        assert "safe-pip trust forget gizmo==1.0" in message
        assert "gizmo" not in second.installed()
        refusals = [line for line in safe_pip.audit_log() if line["decision"] == "refused"]
        assert [line["project"] for line in refusals] == ["gizmo"]
        assert original in refusals[0]["how"]
        assert "forgot" in succeeded(safe_pip("trust", "forget", "gizmo==1.0"))
        succeeded(install(safe_pip, second, served, "gizmo"))
        files = _store(safe_pip)["gizmo"]["files"]
        assert files == {
            "1.0": {"gizmo-1.0-py3-none-any.whl": served.files["gizmo"][0].real_sha256}
        }


class TestTrustCommand:
    def test_list_add_remove(self, safe_pip: SafePip, venv: Venv, served: PackageIndex) -> None:
        assert "No approved projects" in succeeded(safe_pip("trust", "list"))
        succeeded(install(safe_pip, venv, served, "gizmo"))
        added = succeeded(safe_pip("trust", "add", "Widget", "gizmo"))
        assert "widget: approved" in added and "gizmo: already approved" in added
        listing = succeeded(safe_pip("trust", "list"))
        gizmo = next(line for line in listing.splitlines() if line.startswith("gizmo"))
        assert served.url in gizmo and "settings" in gizmo and "1.0" in gizmo
        widget = next(line for line in listing.splitlines() if line.startswith("widget"))
        assert "(not installed yet)" in widget and "command" in widget
        assert "removed" in succeeded(safe_pip("trust", "remove", "widget"))
        assert "widget" not in succeeded(safe_pip("trust", "list"))
        missing = safe_pip("trust", "remove", "widget")
        assert missing.returncode == 1 and "not in the trust store" in missing.stderr
        assert safe_pip("trust", "forget", "gizmo").returncode == 2
        assert safe_pip("trust", "bogus").returncode == 2
        decisions = [line["decision"] for line in safe_pip.audit_log()]
        assert decisions.count("removed") == 1 and "approved" in decisions

    def test_a_corrupt_store_is_reported_not_reset(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        store = _home(safe_pip) / "trust.json"
        store.parent.mkdir(parents=True)
        store.write_text("{broken")
        for result in (safe_pip("trust", "list"), install(safe_pip, venv, served, "gizmo")):
            assert result.returncode == 1
            assert str(store) in result.stderr and "Traceback" not in result.stderr
        assert store.read_text() == "{broken"
        assert "gizmo" not in venv.installed()


def test_concurrent_runs_keep_the_store_intact(
    safe_pip: SafePip, served: PackageIndex, tmp_path: Path
) -> None:
    venvs = [make_venv(tmp_path / f"venv{n}") for n in range(3)]
    projects = ["gizmo", "reqeusts", "widget"]
    processes = [
        # A look-alike (reqeusts) is approved only by its name, not by SAFE_PIP_TRUST=:all:.
        safe_pip.start(
            "--python", str(v.python), "install", "-i", served.url, "--trust", name, name
        )
        for v, name in zip(venvs, projects, strict=True)
    ]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    assert set(_store(safe_pip)) == {"gizmo", "reqeusts", "widget"}


def test_credentials_never_reach_the_store_or_the_audit_log(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    private = index(auth=("alice", "pa55-w0rd-x"))
    private.add(wheel("gizmo", "1.0"))
    url = private.url_with_credentials("alice", "pa55-w0rd-x")
    succeeded(safe_pip("--python", str(venv.python), "install", "-i", url, "gizmo"))
    assert "gizmo" in _store(safe_pip)
    for path in _home(safe_pip).rglob("*"):
        if path.is_file():
            assert b"pa55-w0rd-x" not in path.read_bytes(), path

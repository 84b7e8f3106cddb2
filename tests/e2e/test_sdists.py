"""End to end: source distributions never run unless allowed (security invariant 1).

Every sdist here has a build backend that writes a marker file the moment it is imported
or any hook runs; an empty marker directory proves no package code ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.support.dists import write_project
from tests.support.index import PackageIndex
from tests.support.outcomes import ran


@pytest.fixture
def source_only(index: Callable[..., PackageIndex], sdist: Callable[..., Path]) -> PackageIndex:
    """``builder`` 1.0 exists only as an sdist."""
    served = index()
    served.add(sdist("builder", "1.0"))
    return served


class TestRefusedWithoutAllowance:
    def test_install_refuses_and_runs_nothing(
        self, safe_pip: SafePip, venv: Venv, source_only: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--trust",
            ":all:",
            "-i",
            source_only.url,
            "builder",
        )
        assert result.returncode == 3, result.stderr
        assert "builder 1.0" in result.stderr
        assert "--allow-sdist builder" in result.stderr
        assert ran(markers) == []
        assert venv.installed() == {}

    def test_dry_run_refuses_and_runs_nothing(
        self, safe_pip: SafePip, venv: Venv, source_only: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--dry-run",
            "-i",
            source_only.url,
            "builder",
        )
        assert result.returncode == 3
        assert ran(markers) == []

    def test_download_refuses_and_runs_nothing(
        self, safe_pip: SafePip, source_only: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip("download", "-d", "out", "-i", source_only.url, "builder")
        assert result.returncode == 3, result.stderr
        assert "--allow-sdist builder" in result.stderr
        assert ran(markers) == []
        assert list((safe_pip.cwd / "out").glob("*")) == []

    def test_wheel_refuses_and_runs_nothing(
        self, safe_pip: SafePip, source_only: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip("wheel", "-w", "out", "-i", source_only.url, "builder")
        assert result.returncode == 3, result.stderr
        assert ran(markers) == []

    def test_no_binary_needs_allowance(
        self, safe_pip: SafePip, venv: Venv, source_only: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--no-binary",
            "builder",
            "-i",
            source_only.url,
            "builder",
        )
        assert result.returncode == 3
        assert "--allow-sdist builder" in result.stderr
        assert ran(markers) == []

    def test_local_source_archive_needs_allowance(
        self, safe_pip: SafePip, venv: Venv, sdist: Callable[..., Path], markers: Path
    ) -> None:
        archive = sdist("local-builder", "1.0")
        result = safe_pip("--python", str(venv.python), "install", str(archive))
        assert result.returncode == 3
        assert "'local-builder @ file://" in result.stderr
        assert "--allow-sdist local-builder" in result.stderr
        assert ran(markers) == []

    def test_plain_pip_does_run_the_backend(
        self, source_only: PackageIndex, markers: Path, tmp_path: Path
    ) -> None:
        """The control: without safe-pip, resolving alone runs the sdist's code."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--no-cache-dir",
                "--index-url",
                source_only.url,
                "builder",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert "builder-prepare_metadata_for_build_wheel" in ran(markers)


def test_allowed_sdist_is_built_and_installed(
    safe_pip: SafePip, venv: Venv, source_only: PackageIndex, markers: Path
) -> None:
    dry = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--dry-run",
        "--allow-sdist",
        "builder",
        "-i",
        source_only.url,
        "builder",
    )
    assert dry.returncode == 0, dry.stderr
    assert "builder-1.0 (built from source" in dry.stdout
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "--allow-sdist",
        "builder",
        "-i",
        source_only.url,
        "builder",
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"builder": "1.0"}
    assert venv.run("import builder; print(builder.BUILT_FROM_SOURCE)").stdout == "True\n"
    assert "builder-build_wheel" in ran(markers)


def test_newest_release_source_only_installs_latest_wheel(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    sdist: Callable[..., Path],
    markers: Path,
) -> None:
    served = index()
    served.add(wheel("mixed", "1.0"))
    served.add(sdist("mixed", "2.0"))
    result = safe_pip(
        "--python", str(venv.python), "install", "--trust", ":all:", "-i", served.url, "mixed"
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"mixed": "1.0"}
    assert ran(markers) == []


def test_allowed_project_with_source_only_dependency_is_refused_for_it(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    sdist: Callable[..., Path],
    markers: Path,
) -> None:
    served = index()
    served.add(sdist("parent", "1.0", requires=["child"]))
    served.add(sdist("child", "1.0"))
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "--allow-sdist",
        "parent",
        "-i",
        served.url,
        "parent",
    )
    assert result.returncode == 3, result.stderr
    assert "child 1.0" in result.stderr and "--allow-sdist child" in result.stderr
    assert not any(name.startswith("child-") for name in ran(markers))
    assert venv.installed() == {}


def test_local_project_builds_with_requirements_from_the_gateway(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    markers: Path,
) -> None:
    served = index()
    served.add(wheel("build-helper", "1.0"))
    project = write_project(
        safe_pip.cwd / "proj", "myproj", "0.1", markers, build_requires=["build-helper"]
    )
    result = safe_pip(
        "--python", str(venv.python), "install", "--trust", ":all:", "-i", served.url, str(project)
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"myproj": "0.1"}
    assert served.asked("build-helper")
    direct_url = json.loads(
        (venv.site_packages / "myproj-0.1.dist-info" / "direct_url.json").read_text()
    )
    assert direct_url["url"] == project.resolve().as_uri()


def test_a_new_project_as_a_build_requirement_is_not_approved_by_all(
    safe_pip: SafePip,
    venv: Venv,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    markers: Path,
) -> None:
    # Its code runs as soon as it is approved, so it gets the whole review: its page says it
    # first appeared ten days ago (past the cooldown, but a new project), a warning that
    # --trust :all: never approves.
    served = index()
    served.add(wheel("build-helper", "1.0"), upload_time=datetime.now(UTC) - timedelta(days=10))
    project = write_project(
        safe_pip.cwd / "proj", "myproj", "0.1", markers, build_requires=["build-helper"]
    )
    result = safe_pip(
        "--python", str(venv.python), "install", "--trust", ":all:", "-i", served.url, str(project)
    )
    assert result.returncode == 3, result.stderr
    assert "does not approve a project with a warning (build-helper)" in result.stderr
    assert not any(name.startswith("myproj-") for name in ran(markers))
    assert venv.installed() == {}


def test_editable_local_project(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], markers: Path
) -> None:
    served = index()
    project = write_project(safe_pip.cwd / "proj", "editme", "0.2", markers)
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "-i",
        served.url,
        "-e",
        str(project),
    )
    assert result.returncode == 0, result.stderr
    assert "editme-build_editable" in ran(markers)
    direct_url = json.loads(
        (venv.site_packages / "editme-0.2.dist-info" / "direct_url.json").read_text()
    )
    assert direct_url["dir_info"] == {"editable": True}


def test_git_requirement_needs_allowance_then_builds_the_resolved_commit(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], markers: Path, tmp_path: Path
) -> None:
    repo = write_project(tmp_path / "repo", "fromgit", "0.3", markers)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "init"], check=True)
    requirement = f"fromgit @ git+{repo.as_uri()}"
    served = index()
    refused = safe_pip("--python", str(venv.python), "install", "-i", served.url, requirement)
    assert refused.returncode == 3
    assert "--allow-sdist fromgit" in refused.stderr
    assert ran(markers) == []
    result = safe_pip(
        "--python",
        str(venv.python),
        "install",
        "--trust",
        ":all:",
        "--allow-sdist",
        "fromgit",
        "-i",
        served.url,
        requirement,
    )
    assert result.returncode == 0, result.stderr
    assert venv.installed() == {"fromgit": "0.3"}


def test_download_fetches_wheels_through_the_gateway(
    safe_pip: SafePip, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    served = index()
    served.add(wheel("fetched", "1.0"))
    (safe_pip.cwd / "req.txt").write_text(f"--index-url {served.url}\nfetched\n")
    result = safe_pip("download", "-d", "out", "-r", "req.txt")
    assert result.returncode == 0, result.stderr
    assert (safe_pip.cwd / "out" / "fetched-1.0-py3-none-any.whl").is_file()
    assert "127.0.0.1" not in result.stdout.replace(served.host, "")


def test_wheel_builds_only_allowed_projects(
    safe_pip: SafePip, source_only: PackageIndex, markers: Path
) -> None:
    result = safe_pip(
        "wheel", "-w", "out", "--allow-sdist", "builder", "-i", source_only.url, "builder"
    )
    assert result.returncode == 0, result.stderr
    assert (safe_pip.cwd / "out" / "builder-1.0-py3-none-any.whl").is_file()

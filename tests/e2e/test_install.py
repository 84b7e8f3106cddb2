"""End to end: the installed ``safe-pip`` command against real loopback indexes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, make_venv
from tests.support.index import PackageIndex
from tests.support.interpreters import marked_python
from tests.support.outcomes import succeeded

pytestmark = pytest.mark.usefixtures("safe_pip")


@pytest.fixture
def demo_index(
    index: Callable[..., PackageIndex], wheel: Callable[..., Path], request: pytest.FixtureRequest
) -> PackageIndex:
    """alpha 1.0/2.0 (depends on beta), beta 1.0/1.1, gamma 1.0 with a console script."""
    flavour, pep658 = getattr(request, "param", ("json", True))
    served = index(flavour=flavour, pep658=pep658)
    served.add(wheel("alpha", "1.0", requires=["beta>=1.0"]))
    served.add(wheel("alpha", "2.0", requires=["beta>=1.1"]))
    served.add(wheel("beta", "1.0"))
    served.add(wheel("beta", "1.1"))
    served.add(wheel("gamma", "1.0", entry_points={"gamma-hello": "gamma:main"}))
    return served


@pytest.mark.parametrize(
    "demo_index",
    [("json", True), ("json", False), ("html", True), ("html", False)],
    indirect=True,
    ids=["json-pep658", "json", "html-pep658", "html"],
)
def test_installs_with_dependencies_into_a_venv_without_pip(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    out = succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "-i",
            demo_index.url,
            "--trust",
            ":all:",
            "alpha",
        )
    )
    assert "Successfully installed alpha-2.0 beta-1.1" in out
    assert venv.installed() == {"alpha": "2.0", "beta": "1.1"}
    assert not (venv.site_packages / "pip").exists()
    dist_info = venv.site_packages / "alpha-2.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "safe-pip\n"
    assert (dist_info / "REQUESTED").exists()
    assert not (venv.site_packages / "beta-1.1.dist-info" / "REQUESTED").exists()
    assert (
        venv.run("import alpha, beta; print(alpha.__version__, beta.__version__)").stdout
        == "2.0 1.1\n"
    )


def test_compiles_bytecode_and_records_it(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(safe_pip("install", "--python", str(venv.python), "-i", demo_index.url, "beta"))
    tag = sys.implementation.cache_tag
    pyc = venv.site_packages / "beta" / "__pycache__" / f"__init__.{tag}.pyc"
    assert pyc.is_file()
    record = (venv.site_packages / "beta-1.1.dist-info" / "RECORD").read_text()
    assert f"beta/__pycache__/__init__.{tag}.pyc,," in record


def test_no_compile_writes_no_bytecode(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(
        safe_pip(
            "install", "--python", str(venv.python), "-i", demo_index.url, "--no-compile", "beta"
        )
    )
    assert not (venv.site_packages / "beta" / "__pycache__").exists()


def test_console_scripts_work(safe_pip: SafePip, venv: Venv, demo_index: PackageIndex) -> None:
    succeeded(safe_pip("--python", str(venv.python), "install", "-i", demo_index.url, "gamma"))
    script = venv.path / "bin" / "gamma-hello"
    assert script.read_text().startswith(f"#!{venv.python}")
    result = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    assert result.stdout == "gamma 1.0\n"


def test_already_satisfied_is_a_no_op(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(safe_pip("--python", str(venv.python), "install", "-i", demo_index.url, "beta==1.0"))
    before = {p: p.stat().st_mtime_ns for p in venv.site_packages.rglob("*")}
    out = succeeded(safe_pip("--python", str(venv.python), "install", "-i", demo_index.url, "beta"))
    assert "Requirement already satisfied: beta" in out
    assert "Successfully installed" not in out
    assert {p: p.stat().st_mtime_ns for p in venv.site_packages.rglob("*")} == before


def test_upgrade_removes_the_replaced_version(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(
        safe_pip(
            "--python", str(venv.python), "install", "-i", demo_index.url, "alpha==1.0", "beta==1.0"
        )
    )
    out = succeeded(
        safe_pip("--python", str(venv.python), "install", "-i", demo_index.url, "-U", "alpha")
    )
    assert "Successfully installed alpha-2.0 beta-1.1" in out
    assert venv.installed() == {"alpha": "2.0", "beta": "1.1"}
    assert not list(venv.site_packages.glob(".safe-pip-*"))
    assert venv.run("import alpha; print(alpha.__version__)").stdout == "2.0\n"


def test_upgrade_removes_files_only_the_old_version_had(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    served = index()
    served.add(wheel("delta", "1.0", files={"delta/__init__.py": "", "delta/old.py": "X = 1\n"}))
    served.add(wheel("delta", "2.0", files={"delta/__init__.py": ""}))
    succeeded(safe_pip("--python", str(venv.python), "install", "-i", served.url, "delta==1.0"))
    assert (venv.site_packages / "delta" / "old.py").exists()
    succeeded(safe_pip("--python", str(venv.python), "install", "-i", served.url, "-U", "delta"))
    assert not (venv.site_packages / "delta" / "old.py").exists()
    assert not list((venv.site_packages / "delta").rglob("old*"))
    assert venv.installed() == {"delta": "2.0"}


def test_dry_run_prints_the_plan_and_installs_nothing(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    out = succeeded(
        safe_pip(
            "--python", str(venv.python), "install", "--dry-run", "-i", demo_index.url, "alpha"
        )
    )
    assert "alpha-2.0 (wheel, from " in out
    assert "Would install alpha-2.0 beta-1.1" in out
    assert venv.installed() == {}


def test_target_directory(safe_pip: SafePip, tmp_path: Path, demo_index: PackageIndex) -> None:
    target = tmp_path / "target"
    succeeded(safe_pip("install", "--target", str(target), "-i", demo_index.url, "alpha", "gamma"))
    assert (target / "alpha" / "__init__.py").is_file()
    assert (target / "beta-1.1.dist-info" / "RECORD").is_file()
    assert (target / "bin" / "gamma-hello").is_file()
    result = subprocess.run(
        [sys.executable, "-c", "import alpha; print(alpha.__version__)"],
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "2.0\n"


def test_target_directory_keeps_existing_projects_without_upgrade(
    safe_pip: SafePip, tmp_path: Path, demo_index: PackageIndex
) -> None:
    target = tmp_path / "target"
    succeeded(safe_pip("install", "--target", str(target), "-i", demo_index.url, "beta==1.0"))
    result = safe_pip("install", "--target", str(target), "-i", demo_index.url, "beta==1.1")
    assert result.returncode == 0
    assert "Specify --upgrade" in result.stderr
    assert (target / "beta-1.0.dist-info").is_dir()
    succeeded(safe_pip("install", "--target", str(target), "-U", "-i", demo_index.url, "beta==1.1"))
    assert not (target / "beta-1.0.dist-info").exists()
    assert (target / "beta-1.1.dist-info").is_dir()


def test_prefix(safe_pip: SafePip, tmp_path: Path, demo_index: PackageIndex) -> None:
    prefix = tmp_path / "prefix"
    succeeded(safe_pip("install", "--prefix", str(prefix), "-i", demo_index.url, "beta"))
    major, minor = sys.version_info[:2]
    assert (prefix / "lib" / f"python{major}.{minor}" / "site-packages" / "beta").is_dir()


def test_user_scheme_in_a_venv_is_refused_like_pip(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    result = safe_pip(
        "--python", str(venv.python), "install", "--user", "-i", demo_index.url, "beta"
    )
    assert result.returncode == 2
    assert "User site-packages are not visible" in result.stderr


def test_requirements_file_with_its_own_index_line(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    requirements = safe_pip.cwd / "requirements.txt"
    requirements.write_text(
        f"# the index comes from the file\n--index-url {demo_index.url}\n"
        "alpha==1.0 \\\n    ; python_version >= '3'\n-r more.txt\n"
    )
    (safe_pip.cwd / "more.txt").write_text("gamma  # a comment\n")
    out = succeeded(safe_pip("--python", str(venv.python), "install", "-r", "requirements.txt"))
    assert "Successfully installed" in out
    assert venv.installed() == {"alpha": "1.0", "beta": "1.1", "gamma": "1.0"}


def test_constraints_file(safe_pip: SafePip, venv: Venv, demo_index: PackageIndex) -> None:
    (safe_pip.cwd / "constraints.txt").write_text("beta<1.1\n")
    succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "-i",
            demo_index.url,
            "-c",
            "constraints.txt",
            "alpha==1.0",
        )
    )
    assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}


def test_no_deps(safe_pip: SafePip, venv: Venv, demo_index: PackageIndex) -> None:
    succeeded(
        safe_pip(
            "--python", str(venv.python), "install", "--no-deps", "-i", demo_index.url, "alpha"
        )
    )
    assert venv.installed() == {"alpha": "2.0"}


def test_pre_releases_only_with_pre(
    safe_pip: SafePip, venv: Venv, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> None:
    served = index()
    served.add(wheel("omega", "1.0"))
    served.add(wheel("omega", "2.0b1"))
    succeeded(
        safe_pip("--python", str(venv.python), "install", "--dry-run", "-i", served.url, "omega")
    )
    out = succeeded(
        safe_pip(
            "--python", str(venv.python), "install", "--dry-run", "--pre", "-i", served.url, "omega"
        )
    )
    assert "Would install omega-2.0b1" in out


def test_find_links_folder_without_index(
    safe_pip: SafePip, venv: Venv, wheel: Callable[..., Path], tmp_path: Path
) -> None:
    wheel("beta", "1.0")
    succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--no-index",
            "-f",
            str(tmp_path / "dists"),
            "beta",
        )
    )
    assert venv.installed() == {"beta": "1.0"}


def test_file_url_index(
    safe_pip: SafePip, venv: Venv, wheel: Callable[..., Path], tmp_path: Path
) -> None:
    path = wheel("beta", "1.0")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    page = tmp_path / "simple" / "beta"
    page.mkdir(parents=True)
    (page / "index.html").write_text(f'<a href="{path.as_uri()}#sha256={digest}">x</a>')
    succeeded(
        safe_pip(
            "--python", str(venv.python), "install", "-i", (tmp_path / "simple").as_uri(), "beta"
        )
    )
    assert venv.installed() == {"beta": "1.0"}


def test_active_virtual_env_is_the_default_target(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(
        safe_pip("install", "-i", demo_index.url, "beta", env={"VIRTUAL_ENV": str(venv.path)})
    )
    assert venv.installed() == {"beta": "1.1"}


def test_report_file_describes_what_was_installed(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
) -> None:
    succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "-i",
            demo_index.url,
            "--report",
            "report.json",
            "alpha",
        )
    )
    report = json.loads((safe_pip.cwd / "report.json").read_text())
    assert report["version"] == "1"
    names = {item["metadata"]["name"]: item for item in report["install"]}
    assert set(names) == {"alpha", "beta"}
    assert names["alpha"]["requested"] is True
    assert names["beta"]["download_info"]["url"].startswith(demo_index.url.rsplit("/simple", 1)[0])
    assert "127.0.0.1" in names["beta"]["download_info"]["url"]


@pytest.mark.parametrize("extra", [(), ("-q",), ("-v",)])
def test_report_to_standard_output_is_the_report_alone(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex, extra: tuple[str, ...]
) -> None:
    stdout = succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--dry-run",
            *extra,
            "-i",
            demo_index.url,
            "--report",
            "-",
            "alpha",
        )
    )
    report = json.loads(stdout)
    assert {item["metadata"]["name"] for item in report["install"]} == {"alpha", "beta"}
    assert venv.installed() == {}


class TestErrors:
    def test_closed_output_stops_with_a_message_and_installs_nothing(
        self, safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
    ) -> None:
        process = safe_pip.start(
            "--python", str(venv.python), "install", "-v", "-i", demo_index.url, "alpha"
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # as `safe-pip install ... | head -1` does, at once
        with process.stderr:
            stderr = process.stderr.read()
        assert process.wait(timeout=120) == 1
        assert "safe-pip's output was closed" in stderr
        assert "Traceback" not in stderr
        assert venv.installed() == {}

    def test_unknown_project(self, safe_pip: SafePip, venv: Venv, demo_index: PackageIndex) -> None:
        result = safe_pip(
            "--python", str(venv.python), "install", "-i", demo_index.url, "no-such-project"
        )
        assert result.returncode == 1
        assert "No source knows a project named 'no-such-project'" in result.stderr
        assert "Traceback" not in result.stderr
        assert venv.installed() == {}

    def test_impossible_resolution(
        self, safe_pip: SafePip, venv: Venv, demo_index: PackageIndex
    ) -> None:
        result = safe_pip(
            "--python", str(venv.python), "install", "-i", demo_index.url, "alpha==2.0", "beta==1.0"
        )
        assert result.returncode == 1
        assert "beta" in result.stderr and "alpha" in result.stderr
        assert "Traceback" not in result.stderr

    def test_unreachable_index_names_the_source(self, safe_pip: SafePip, venv: Venv) -> None:
        result = safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--retries",
            "0",
            "-i",
            "http://127.0.0.1:9/simple/",
            "beta",
        )
        assert result.returncode == 1
        assert "127.0.0.1:9" in result.stderr and "could not be reached" in result.stderr
        assert "Traceback" not in result.stderr

    def test_usage_error_exit_status(self, safe_pip: SafePip) -> None:
        result = safe_pip("install", "--no-such-option")
        assert result.returncode == 2
        assert "--no-such-option" in result.stderr

    def test_missing_requirement(self, safe_pip: SafePip) -> None:
        result = safe_pip("install")
        assert result.returncode == 2
        assert "at least one requirement" in result.stderr

    def test_missing_requirements_file(self, safe_pip: SafePip) -> None:
        result = safe_pip("install", "-r", "nope.txt")
        assert result.returncode == 2
        assert "nope.txt" in result.stderr


def test_python_option_after_the_command(
    safe_pip: SafePip, tmp_path: Path, demo_index: PackageIndex
) -> None:
    other = make_venv(tmp_path / "other")
    succeeded(safe_pip("install", "-i", demo_index.url, "--python", str(other.path), "beta"))
    assert other.installed() == {"beta": "1.1"}


def test_root_relocates_the_whole_install(
    safe_pip: SafePip, venv: Venv, demo_index: PackageIndex, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    succeeded(
        safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--root",
            str(root),
            "-i",
            demo_index.url,
            "gamma",
        )
    )
    relocated = root / venv.site_packages.relative_to("/")
    assert (relocated / "gamma" / "__init__.py").is_file()
    assert venv.installed() == {}
    script = root / (venv.path / "bin" / "gamma-hello").relative_to("/")
    assert script.read_text().startswith(f"#!{venv.python}")


def test_externally_managed_environment_is_respected_like_pip(
    safe_pip: SafePip, demo_index: PackageIndex, tmp_path: Path
) -> None:
    # A copy of a system Python: were the check to fail, beta lands in the copy.
    system = tmp_path / "system"
    python = str(marked_python(system, "Use apt install python3-xyz."))
    refused = safe_pip("--python", python, "install", "-i", demo_index.url, "beta")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "externally managed" in refused.stderr
    assert "Use apt install python3-xyz." in refused.stderr
    assert "--break-system-packages" in refused.stderr
    assert not list(system.rglob("beta*"))
    overridden = safe_pip(
        "--python",
        python,
        "install",
        "--break-system-packages",
        "--dry-run",
        "-i",
        demo_index.url,
        "beta",
    )
    assert overridden.returncode == 0, overridden.stderr
    assert "Would install beta-1.1" in overridden.stdout
    target = tmp_path / "target"
    into_target = safe_pip(
        "--python", python, "install", "--target", str(target), "-i", demo_index.url, "beta"
    )
    assert into_target.returncode == 0, into_target.stderr
    assert (target / "beta" / "__init__.py").is_file()
    assert not list(system.rglob("beta*"))

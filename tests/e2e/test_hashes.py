"""End to end: hash-checking mode as pip has it, the index's sha256, and ``safe-pip lock``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, make_venv
from tests.support.index import PackageIndex
from tests.support.outcomes import refused, succeeded

pytestmark = pytest.mark.usefixtures("safe_pip")

WRONG = "0" * 64


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def dists(wheel: Callable[..., Path]) -> dict[str, Path]:
    """alpha 1.0 (depends on beta>=1.0), beta 1.0 and 1.1."""
    return {
        "alpha": wheel("alpha", "1.0", requires=["beta>=1.0"]),
        "beta-1.0": wheel("beta", "1.0"),
        "beta-1.1": wheel("beta", "1.1"),
    }


@pytest.fixture
def served(index: Callable[..., PackageIndex], dists: dict[str, Path]) -> PackageIndex:
    started = index()
    for path in dists.values():
        started.add(path)
    return started


def _install(
    safe_pip: SafePip, venv: Venv, served: PackageIndex, *args: str
) -> subprocess.CompletedProcess[str]:
    return safe_pip(
        "install", "--python", str(venv.python), "-i", served.url, "--trust", ":all:", *args
    )


def _requirements(safe_pip: SafePip, text: str, name: str = "requirements.txt") -> str:
    path = safe_pip.cwd / name
    path.write_text(text)
    return str(path)


class TestHashCheckingMode:
    def test_a_hashed_set_installs(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        req = _requirements(
            safe_pip,
            f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}\n"
            f"beta==1.0 --hash=sha256:{_sha(dists['beta-1.0'])}\n",
        )
        succeeded(_install(safe_pip, venv, served, "-r", req))
        assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}

    def test_require_hashes_refuses_an_unpinned_requirement(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex
    ) -> None:
        req = _requirements(safe_pip, "beta>=1.0\n")
        err = refused(
            _install(safe_pip, venv, served, "--require-hashes", "-r", req), untouched=venv
        )
        assert "all requirements must have their versions pinned with ==" in err
        assert f"beta>=1.0 from beta-1.1-py3-none-any.whl (from beta>=1.0 (-r {req}" in err
        assert served.url not in err

    def test_a_dependency_without_a_hash_is_refused_with_the_line_to_paste(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        # One --hash in the file turns hash-checking mode on, as in pip.
        req = _requirements(safe_pip, f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}\n")
        err = refused(_install(safe_pip, venv, served, "-r", req), untouched=venv)
        assert "pinned with ==" in err
        assert f"beta==1.1 --hash=sha256:{_sha(dists['beta-1.1'])}" in err

    def test_a_pinned_requirement_without_a_hash_shows_its_hash(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        req = _requirements(safe_pip, "alpha==1.0\nbeta==1.0\n")
        err = refused(
            _install(safe_pip, venv, served, "--require-hashes", "-r", req), untouched=venv
        )
        assert "Hashes are required in --require-hashes mode" in err
        # pip names the first requirement it prepared; safe-pip lock writes them all.
        assert f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}" in err
        assert "safe-pip lock" in err

    def test_a_mismatch_shows_expected_and_got_and_installs_nothing(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        req = _requirements(
            safe_pip,
            f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}\nbeta==1.0 --hash=sha256:{WRONG}\n",
        )
        err = refused(_install(safe_pip, venv, served, "-r", req), untouched=venv)
        assert "THESE PACKAGES DO NOT MATCH THE HASHES" in err
        assert f"Expected sha256 {WRONG}" in err
        assert f"Got        {_sha(dists['beta-1.0'])}" in err

    def test_several_hashes_per_requirement_in_any_case(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        # Continuations, comments and ${VARIABLES} as pip reads them, in a nested file.
        inner = _requirements(
            safe_pip,
            "# pinned\n"
            f"alpha==1.0 \\\n    --hash=sha256:{WRONG} \\\n"
            f"    --hash=SHA256:{_sha(dists['alpha']).upper()}  # either file\n"
            "beta==${BETA_VERSION} --hash=sha256:" + _sha(dists["beta-1.0"]) + "\n",
            "inner.txt",
        )
        outer = _requirements(safe_pip, "-r inner.txt\n")
        result = safe_pip(
            "install",
            "--python",
            str(venv.python),
            "-i",
            served.url,
            "--trust",
            ":all:",
            "-r",
            outer,
            env={"BETA_VERSION": "1.0"},
        )
        succeeded(result)
        assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}
        assert inner

    @pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha224"])
    def test_weak_algorithms_are_refused(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, algorithm: str
    ) -> None:
        req = _requirements(safe_pip, f"beta==1.0 --hash={algorithm}:{'1' * 40}\n")
        result = _install(safe_pip, venv, served, "-r", req)
        assert result.returncode == 2, result.stderr
        assert f"weak hash algorithm {algorithm!r} on line 1 of {req}" in result.stderr
        assert "sha256, sha384, sha512" in result.stderr
        assert venv.installed() == {}

    def test_no_deps_needs_no_dependency_hash(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        req = _requirements(safe_pip, f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}\n")
        succeeded(_install(safe_pip, venv, served, "--no-deps", "-r", req))
        assert venv.installed() == {"alpha": "1.0"}

    def test_a_constraint_can_carry_a_dependency_hash(
        self, safe_pip: SafePip, venv: Venv, served: PackageIndex, dists: dict[str, Path]
    ) -> None:
        req = _requirements(safe_pip, f"alpha==1.0 --hash=sha256:{_sha(dists['alpha'])}\n")
        constraints = _requirements(
            safe_pip, f"beta==1.0 --hash=sha256:{_sha(dists['beta-1.0'])}\n", "constraints.txt"
        )
        succeeded(_install(safe_pip, venv, served, "-r", req, "-c", constraints))
        assert venv.installed() == {"alpha": "1.0", "beta": "1.0"}

    @pytest.mark.parametrize("repeat_in", ["requirements", "constraints"])
    def test_hashes_of_repeated_lines_intersect(
        self,
        safe_pip: SafePip,
        venv: Venv,
        served: PackageIndex,
        dists: dict[str, Path],
        repeat_in: str,
    ) -> None:
        # pip 26 checks the download against the first line only; safe-pip wants every
        # line that pins a project to allow its file, as pip documents.
        sha = _sha(dists["beta-1.0"])
        text = f"beta==1.0 --hash=sha256:{sha} --hash=sha256:{WRONG}\n"
        repeat = f"beta==1.0 --hash=sha256:{WRONG}\n"
        args = ["--no-deps"]
        if repeat_in == "requirements":
            args += ["-r", _requirements(safe_pip, text + repeat)]
        else:
            args += ["-r", _requirements(safe_pip, text)]
            args += ["-c", _requirements(safe_pip, repeat, "constraints.txt")]
        err = refused(_install(safe_pip, venv, served, *args), untouched=venv)
        assert "THESE PACKAGES DO NOT MATCH THE HASHES" in err
        assert f"Got        {sha}" in err


class TestIndexHashes:
    @pytest.mark.parametrize("hash_mode", [False, True], ids=["plain", "hash-mode"])
    def test_bytes_that_differ_from_the_index_hash_are_refused(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        dists: dict[str, Path],
        hash_mode: bool,
    ) -> None:
        # In hash mode the user's own (right) hash must not stand in for the index's.
        served = index()
        served.add(dists["beta-1.0"], sha256=WRONG)
        real = _sha(dists["beta-1.0"])
        args = ["-r", _requirements(safe_pip, f"beta==1.0 --hash=sha256:{real}\n")]
        err = refused(
            _install(safe_pip, venv, served, *(args if hash_mode else ["beta"])), untouched=venv
        )
        assert "does not match its sha256" in err
        assert f"Expected sha256 {WRONG}" in err
        assert f"Got        {real}" in err

    def test_a_file_listed_without_sha256_is_refused(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        dists: dict[str, Path],
    ) -> None:
        served = index(flavour="html")
        served.add(dists["beta-1.0"], listed_hash=False)
        err = refused(_install(safe_pip, venv, served, "beta"), untouched=venv)
        assert "beta 1.0" in err
        assert "without a sha256" in err


def _lock(safe_pip: SafePip, served: PackageIndex, *args: str) -> str:
    return succeeded(safe_pip("lock", "-i", served.url, *args))


class TestLock:
    def test_lock_lists_every_compatible_file_of_each_pinned_version(
        self, safe_pip: SafePip, served: PackageIndex, wheel: Callable[..., Path]
    ) -> None:
        py3 = wheel("beta", "1.1", tag="py311-none-any")
        windows = wheel("beta", "1.1", tag="cp39-cp39-win_amd64")
        served.add(py3)
        served.add(windows)
        text = _lock(safe_pip, served, "alpha")
        assert text.startswith("#\n# This file was generated by safe-pip lock")
        assert f"safe-pip lock -i {served.url} alpha" in text
        beta = text[text.index("beta==1.1 \\\n") :]
        assert _sha(py3) in beta
        assert _sha(windows) not in text
        assert f"    # from {served.url}" in beta
        assert text.index("alpha==1.0 \\") < text.index("beta==1.1 \\")

    def test_a_foreign_platform_locks_all_its_wheels(
        self, safe_pip: SafePip, served: PackageIndex, wheel: Callable[..., Path], tmp_path: Path
    ) -> None:
        windows = wheel("beta", "1.1", tag="cp39-cp39-win_amd64")
        served.add(windows)
        out = safe_pip.cwd / "win.txt"
        result = safe_pip(
            "lock",
            "-i",
            served.url,
            "--platform",
            "win_amd64",
            "--python-version",
            "3.9",
            "--only-binary=:all:",
            "beta",
            "-o",
            str(out),
        )
        succeeded(result)
        assert "Locked 1 projects into" in result.stderr
        text = out.read_text()
        assert _sha(windows) in text
        assert text.count("--hash=sha256:") == 2

    def test_lock_writes_no_credentials(
        self, safe_pip: SafePip, index: Callable[..., PackageIndex], dists: dict[str, Path]
    ) -> None:
        served = index(auth=("user", "s3cret"))
        served.add(dists["beta-1.0"])
        text = succeeded(
            safe_pip("lock", "-i", served.url_with_credentials("user", "s3cret"), "beta")
        )
        assert "s3cret" not in text
        assert "beta==1.0 \\" in text

    def test_lock_keeps_the_cooldown(
        self, safe_pip: SafePip, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
    ) -> None:
        from datetime import UTC, datetime, timedelta

        served = index()
        now = datetime.now(UTC)
        served.add(wheel("beta", "1.0"), upload_time=now - timedelta(days=30))
        served.add(wheel("beta", "1.1"), upload_time=now - timedelta(hours=1))
        text = _lock(safe_pip, served, "--min-release-age", "7", "beta")
        assert "beta==1.0 \\" in text

    def test_lock_refuses_local_projects(self, safe_pip: SafePip, served: PackageIndex) -> None:
        project = safe_pip.cwd / "proj"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "1"\n')
        result = safe_pip("lock", "-i", served.url, "-e", str(project))
        assert result.returncode == 2, result.stderr
        assert f"cannot lock the editable local project {project}" in result.stderr
        assert "Traceback" not in result.stderr
        assert not served.asked("setuptools")

    def test_lock_does_not_write_requirements_under_a_pylock_name(
        self, safe_pip: SafePip, served: PackageIndex
    ) -> None:
        result = safe_pip("lock", "-i", served.url, "beta", "-o", "pylock.toml")
        assert result.returncode == 2, result.stderr
        assert "not PEP 751 pylock.toml" in result.stderr
        assert not (safe_pip.cwd / "pylock.toml").exists()

    def test_lock_then_install_unattended_in_a_fresh_venv(
        self, safe_pip: SafePip, served: PackageIndex, tmp_path: Path
    ) -> None:
        # No --trust and no trust-everything default: the hashes of the lock are the approval.
        safe_pip.trust_all = False
        fresh = make_venv(tmp_path / "fresh")
        install = ["install", "--python", str(fresh.python), "-i", served.url]
        unpinned = safe_pip(*install, "alpha", env={"CI": "true"})
        assert unpinned.returncode == 3, unpinned.stderr
        assert fresh.installed() == {}
        (safe_pip.cwd / "requirements.in").write_text("alpha\n")
        succeeded(
            safe_pip("lock", "-i", served.url, "-r", "requirements.in", "-o", "requirements.txt")
        )
        succeeded(safe_pip(*install, "-r", "requirements.txt", env={"CI": "true"}))
        assert fresh.installed() == {"alpha": "1.0", "beta": "1.1"}

    def test_plain_pip_installs_the_lock_in_hash_checking_mode(
        self, safe_pip: SafePip, served: PackageIndex, tmp_path: Path
    ) -> None:
        lock = safe_pip.cwd / "requirements.txt"
        succeeded(safe_pip("lock", "-i", served.url, "alpha", "-o", str(lock)))
        fresh = make_venv(tmp_path / "fresh")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(fresh.python),
                "install",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--require-hashes",
                "-i",
                served.url,
                "-r",
                str(lock),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=safe_pip.env(),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert fresh.installed() == {"alpha": "1.0", "beta": "1.1"}

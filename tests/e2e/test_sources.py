"""End to end: source priority, pins, failing sources, credentials, cooldown, TLS.

Security invariant 2 (a project name is served from exactly one source: the first that
knows it, or its pin) and invariant 6 (credentials never appear in output, logs, the
trust store or the cache) are checked here.
"""

from __future__ import annotations

import ssl
import stat
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.support.index import PackageIndex

DATA = Path(__file__).parent.parent / "data"
SECRET = "s3cr3t-Pa55word"


@pytest.fixture
def private_and_public(
    index: Callable[..., PackageIndex], wheel: Callable[..., Path]
) -> tuple[PackageIndex, PackageIndex]:
    """A private index with corp-lib 1.0, a public one with an attacker's corp-lib 99.0."""
    private = index()
    private.add(wheel("corp-lib", "1.0", files={"corp_lib/__init__.py": "ORIGIN = 'private'\n"}))
    public = index()
    public.add(wheel("corp-lib", "99.0", files={"corp_lib/__init__.py": "ORIGIN = 'public'\n"}))
    public.add(wheel("requests-ish", "2.0"))
    return private, public


def _install(
    safe_pip: SafePip, venv: Venv, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return safe_pip("--python", str(venv.python), "install", "--trust", ":all:", *args, env=env)


class TestFirstSourceWins:
    def test_private_version_wins_a_name_collision(
        self, safe_pip: SafePip, venv: Venv, private_and_public: tuple[PackageIndex, PackageIndex]
    ) -> None:
        private, public = private_and_public
        result = _install(
            safe_pip, venv, "--index-url", public.url, "--extra-index-url", private.url, "corp-lib"
        )
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-lib": "1.0"}
        assert venv.run("import corp_lib; print(corp_lib.ORIGIN)").stdout == "private\n"
        # Sources are asked one at a time: the public index never heard the private name.
        assert not public.asked("corp-lib")

    def test_lower_sources_still_serve_other_names(
        self, safe_pip: SafePip, venv: Venv, private_and_public: tuple[PackageIndex, PackageIndex]
    ) -> None:
        private, public = private_and_public
        result = _install(
            safe_pip, venv, "-i", public.url, "--extra-index-url", private.url, "requests-ish"
        )
        assert result.returncode == 0, result.stderr
        assert private.asked("requests-ish") and public.asked("requests-ish")

    def test_extra_indexes_keep_the_order_given(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
        index: Callable[..., PackageIndex],
    ) -> None:
        private, public = private_and_public
        result = _install(
            safe_pip,
            venv,
            "-i",
            index().url,
            "--extra-index-url",
            public.url,
            "--extra-index-url",
            private.url,
            "corp-lib",
        )
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-lib": "99.0"}
        assert not private.asked("corp-lib")

    @pytest.mark.parametrize("route", ["environment", "pip.conf", "settings"])
    def test_same_rule_from_every_configuration_route(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
        route: str,
    ) -> None:
        private, public = private_and_public
        env = {"PIP_INDEX_URL": public.url}
        if route == "environment":
            env["PIP_EXTRA_INDEX_URL"] = private.url
        elif route == "pip.conf":
            conf = safe_pip.cwd / "pip.conf"
            conf.write_text(
                f"[global]\nindex-url = {public.url}\nextra-index-url = {private.url}\n"
            )
            env["PIP_CONFIG_FILE"] = str(conf)
        else:
            (safe_pip.cwd / "safe-pip.toml").write_text(f'extra-index-url = ["{private.url}"]\n')
        result = _install(safe_pip, venv, "corp-lib", env=env)
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-lib": "1.0"}

    def test_dry_run_and_verbose_name_the_source(
        self, safe_pip: SafePip, venv: Venv, private_and_public: tuple[PackageIndex, PackageIndex]
    ) -> None:
        private, public = private_and_public
        (safe_pip.cwd / "safe-pip.toml").write_text(f'[sources]\ncorp = "{private.url}"\n')
        result = safe_pip(
            "--python",
            str(venv.python),
            "install",
            "--dry-run",
            "-v",
            "-i",
            public.url,
            "--extra-index-url",
            private.url,
            "corp-lib",
            "requests-ish",
        )
        assert result.returncode == 0, result.stderr
        assert "corp-lib-1.0 (wheel, from corp)" in result.stdout
        assert f"requests-ish-2.0 (wheel, from {public.url.rstrip('/')}" in result.stdout
        assert "corp-lib: served by corp" in result.stderr


class TestPins:
    def test_a_pinned_name_is_never_asked_elsewhere(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        _private, public = private_and_public
        public.add(wheel("corp-tools", "5.0"))
        pinned = index()
        (safe_pip.cwd / "pyproject.toml").write_text(
            f'[tool.safe-pip.sources]\ncorp = "{pinned.url}"\n\n'
            '[tool.safe-pip.pins]\n"corp-*" = "corp"\n'
        )
        result = _install(safe_pip, venv, "-i", public.url, "corp-tools")
        assert result.returncode == 1
        assert "No source knows a project named 'corp-tools' (asked: corp)" in result.stderr
        assert pinned.asked("corp-tools")
        assert not public.asked("corp-tools")
        assert venv.installed() == {}

    def test_a_pin_serves_from_its_source_even_below_others(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
    ) -> None:
        private, public = private_and_public
        (safe_pip.cwd / "safe-pip.toml").write_text(
            f'[sources]\ncorp = "{private.url}"\n[pins]\n"corp-lib" = "corp"\n'
        )
        result = _install(safe_pip, venv, "-i", public.url, "corp-lib")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-lib": "1.0"}
        assert not public.asked("corp-lib")

    def test_a_pin_to_an_unknown_source_is_a_usage_error(
        self, safe_pip: SafePip, venv: Venv
    ) -> None:
        (safe_pip.cwd / "safe-pip.toml").write_text('[pins]\n"corp-*" = "nowhere"\n')
        result = _install(safe_pip, venv, "corp-lib")
        assert result.returncode == 2
        assert "no source named 'nowhere'" in result.stderr


class TestFailClosed:
    @pytest.mark.parametrize("status", [500, 503, 401, 403])
    def test_an_error_never_falls_through(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
        status: int,
    ) -> None:
        private, public = private_and_public
        private.fail("corp-lib", status)
        result = _install(
            safe_pip,
            venv,
            "--retries",
            "1",
            "-i",
            public.url,
            "--extra-index-url",
            private.url,
            "corp-lib",
        )
        assert result.returncode == 1
        assert f"HTTP {status}" in result.stderr
        assert "corp-lib" in result.stderr and private.host in result.stderr
        assert "Traceback" not in result.stderr
        assert not public.asked("corp-lib")
        assert venv.installed() == {}

    def test_a_timeout_never_falls_through(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
    ) -> None:
        private, public = private_and_public
        private.fail("corp-lib", delay=3)
        result = _install(
            safe_pip,
            venv,
            "--timeout",
            "0.5",
            "--retries",
            "0",
            "-i",
            public.url,
            "--extra-index-url",
            private.url,
            "corp-lib",
        )
        assert result.returncode == 1
        assert "timed out" in result.stderr and private.host in result.stderr
        assert not public.asked("corp-lib")

    def test_a_redirect_to_another_host_is_refused(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
    ) -> None:
        private, public = private_and_public
        private.fail(
            "corp-lib", redirect=f"http://localhost:{public.host.split(':')[1]}/simple/corp-lib/"
        )
        result = _install(
            safe_pip, venv, "-i", public.url, "--extra-index-url", private.url, "corp-lib"
        )
        assert result.returncode == 1
        assert "redirected" in result.stderr and "another host" in result.stderr
        assert not public.asked("corp-lib")

    def test_transient_errors_are_retried(
        self,
        safe_pip: SafePip,
        venv: Venv,
        private_and_public: tuple[PackageIndex, PackageIndex],
    ) -> None:
        private, public = private_and_public
        private.fail("corp-lib", 503, times=2)
        result = _install(
            safe_pip,
            venv,
            "--retries",
            "3",
            "-i",
            public.url,
            "--extra-index-url",
            private.url,
            "corp-lib",
        )
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-lib": "1.0"}


class TestCredentials:
    @pytest.fixture
    def locked(
        self, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
    ) -> PackageIndex:
        served = index(auth=("alice", SECRET))
        served.add(wheel("corp-secret", "1.0"))
        return served

    def _assert_no_secret(self, safe_pip: SafePip, *outputs: str) -> None:
        for output in outputs:
            assert SECRET not in output
        for path in (safe_pip.home / "safe-pip-home").rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path
        for path in safe_pip.cwd.rglob("*"):
            if path.is_file() and path.suffix in (".log", ".json"):
                assert SECRET.encode() not in path.read_bytes(), path

    def test_credentials_in_the_index_url_never_leak(
        self, safe_pip: SafePip, venv: Venv, locked: PackageIndex
    ) -> None:
        result = _install(
            safe_pip,
            venv,
            "-vv",
            "--log",
            "install.log",
            "--report",
            "report.json",
            "-i",
            locked.url_with_credentials("alice", SECRET),
            "corp-secret",
        )
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"corp-secret": "1.0"}
        self._assert_no_secret(safe_pip, result.stdout, result.stderr)
        assert (safe_pip.cwd / "install.log").stat().st_size > 0

    def test_wrong_credentials_fail_without_showing_them(
        self, safe_pip: SafePip, venv: Venv, locked: PackageIndex
    ) -> None:
        result = _install(
            safe_pip,
            venv,
            "-v",
            "-i",
            locked.url_with_credentials("alice", SECRET + "x"),
            "corp-secret",
        )
        assert result.returncode == 1
        assert "HTTP 401" in result.stderr
        assert SECRET not in result.stdout + result.stderr

    def test_netrc(self, safe_pip: SafePip, venv: Venv, locked: PackageIndex) -> None:
        netrc = safe_pip.home / "user" / ".netrc"
        netrc.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
        netrc.chmod(0o600)
        result = _install(safe_pip, venv, "-vv", "-i", locked.url, "corp-secret")
        assert result.returncode == 0, result.stderr
        self._assert_no_secret(safe_pip, result.stdout, result.stderr)

    def test_keyring_subprocess(
        self, safe_pip: SafePip, venv: Venv, locked: PackageIndex, tmp_path: Path
    ) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        keyring = bin_dir / "keyring"
        keyring.write_text(
            f'#!/bin/sh\n[ "$1" = get ] && [ "$3" = alice ] && echo "{SECRET}" && exit 0\nexit 1\n'
        )
        keyring.chmod(keyring.stat().st_mode | stat.S_IEXEC)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
        result = _install(
            safe_pip,
            venv,
            "--keyring-provider",
            "subprocess",
            "-i",
            locked.url_with_credentials("alice"),
            "corp-secret",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        self._assert_no_secret(safe_pip, result.stdout, result.stderr)

    def test_explicit_keyring_provider_without_keyring_is_a_usage_error(
        self, safe_pip: SafePip, venv: Venv, locked: PackageIndex, tmp_path: Path
    ) -> None:
        result = _install(
            safe_pip,
            venv,
            "--keyring-provider",
            "subprocess",
            "-i",
            locked.url,
            "corp-secret",
            env={"PATH": str(tmp_path)},
        )
        assert result.returncode == 2
        assert "no 'keyring' command" in result.stderr


class TestMinReleaseAge:
    def test_cooldown_picks_the_newest_release_old_enough(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        served = index()
        now = datetime.now(UTC)
        served.add(wheel("fresh", "1.0"), upload_time=now - timedelta(days=30))
        served.add(wheel("fresh", "2.0"), upload_time=now - timedelta(hours=6))
        result = _install(safe_pip, venv, "--min-release-age", "7", "-i", served.url, "fresh")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"fresh": "1.0"}
        pinned = _install(safe_pip, venv, "--min-release-age", "7", "-i", served.url, "fresh==2.0")
        assert pinned.returncode == 3
        assert "held back by the 7-day cooldown" in pinned.stderr
        assert "--trust fresh==2.0" in pinned.stderr

    def test_uploaded_prior_to_means_the_same(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        served = index()
        now = datetime.now(UTC)
        served.add(wheel("fresh", "1.0"), upload_time=now - timedelta(days=30))
        served.add(wheel("fresh", "2.0"), upload_time=now - timedelta(hours=6))
        result = _install(safe_pip, venv, "--uploaded-prior-to", "P3D", "-i", served.url, "fresh")
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"fresh": "1.0"}

    def test_files_without_upload_time_are_kept(
        self,
        safe_pip: SafePip,
        venv: Venv,
        index: Callable[..., PackageIndex],
        wheel: Callable[..., Path],
    ) -> None:
        served = index()
        served.add(wheel("timeless", "1.0"), upload_time=None)
        result = _install(
            safe_pip, venv, "-v", "--min-release-age", "7", "-i", served.url, "timeless"
        )
        assert result.returncode == 0, result.stderr
        assert "without an upload time" in result.stderr


class TestTls:
    @pytest.fixture
    def https_index(
        self, index: Callable[..., PackageIndex], wheel: Callable[..., Path]
    ) -> PackageIndex:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(DATA / "tls" / "server.pem")
        served = index(tls=context)
        served.add(wheel("tlsproj", "1.0"))
        return served

    def test_an_untrusted_certificate_fails_closed(
        self, safe_pip: SafePip, venv: Venv, https_index: PackageIndex
    ) -> None:
        result = _install(safe_pip, venv, "--retries", "0", "-i", https_index.url, "tlsproj")
        assert result.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate" in result.stderr
        assert venv.installed() == {}

    def test_cert_option_trusts_a_private_ca(
        self, safe_pip: SafePip, venv: Venv, https_index: PackageIndex
    ) -> None:
        result = _install(
            safe_pip, venv, "--cert", str(DATA / "tls" / "ca.pem"), "-i", https_index.url, "tlsproj"
        )
        assert result.returncode == 0, result.stderr
        assert venv.installed() == {"tlsproj": "1.0"}

    def test_trusted_host_skips_verification_for_that_host(
        self, safe_pip: SafePip, venv: Venv, https_index: PackageIndex
    ) -> None:
        result = _install(
            safe_pip, venv, "--trusted-host", https_index.host, "-i", https_index.url, "tlsproj"
        )
        assert result.returncode == 0, result.stderr

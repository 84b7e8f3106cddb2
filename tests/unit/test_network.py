from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safe_pip.errors import UsageError
from safe_pip.gateway.network import (
    NetworkOptions,
    build_client,
    is_secure_origin,
    keyring_command,
    keyring_password,
    netrc_credentials,
    origin_of,
    redact_url,
    split_credentials,
    with_retries,
)


class TestCredentialsInUrls:
    def test_split(self) -> None:
        clean, user, password = split_credentials("https://al%40ice:p%3Ass@idx.example:8443/s/")
        assert (clean, user, password) == ("https://idx.example:8443/s/", "al@ice", "p:ss")

    def test_no_credentials(self) -> None:
        assert split_credentials("https://idx.example/s/") == ("https://idx.example/s/", None, None)

    def test_redact(self) -> None:
        assert redact_url("https://u:secret@idx.example/s/") == "https://****@idx.example/s/"
        assert redact_url("https://idx.example/s/") == "https://idx.example/s/"


class TestOrigins:
    def test_default_ports_are_explicit(self) -> None:
        assert origin_of("https://Idx.Example/x") == ("https", "idx.example", 443)

    @pytest.mark.parametrize(
        ("url", "trusted", "secure"),
        [
            ("https://a.example/", (), True),
            ("file:///srv/simple", (), True),
            ("http://127.0.0.1:8080/", (), True),
            ("http://localhost/", (), True),
            ("http://a.example/", (), False),
            ("http://a.example:8080/", ("a.example",), True),
            ("http://a.example:8080/", ("a.example:9090",), False),
        ],
    )
    def test_secure_origin(self, url: str, trusted: tuple[str, ...], secure: bool) -> None:
        assert is_secure_origin(url, trusted) is secure


class TestRetries:
    def test_transient_failures_are_retried_with_backoff(self) -> None:
        delays: list[float] = []
        attempts: Iterator[Exception | str] = iter(
            [httpx.ConnectError("down"), httpx.ConnectError("down"), "ok"]
        )

        def action() -> str:
            value = next(attempts)
            if isinstance(value, Exception):
                raise value
            return value

        assert with_retries(action, 2, sleep=delays.append) == "ok"
        assert delays == [0.25, 0.5]

    def test_gives_up(self) -> None:
        def action() -> str:
            raise httpx.ConnectError("down")

        with pytest.raises(httpx.ConnectError):
            with_retries(action, 1, sleep=lambda _: None)

    def test_a_client_error_is_not_retried(self) -> None:
        calls: list[int] = []
        request = httpx.Request("GET", "https://x/")

        def action() -> str:
            calls.append(1)
            raise httpx.HTTPStatusError("no", request=request, response=httpx.Response(404))

        with pytest.raises(httpx.HTTPStatusError):
            with_retries(action, 3, sleep=lambda _: None)
        assert calls == [1]


class TestNetrc:
    def test_credentials_for_the_host(self, tmp_path: Path) -> None:
        path = tmp_path / "netrc"
        path.write_text("machine idx.example login alice password pw\n")
        assert netrc_credentials("https://idx.example/simple", str(path)) == ("alice", "pw")
        assert netrc_credentials("https://other.example/", str(path)) is None

    def test_missing_file(self, tmp_path: Path) -> None:
        assert netrc_credentials("https://idx.example/", str(tmp_path / "none")) is None


class TestKeyring:
    def _fake(self, tmp_path: Path) -> Path:
        script = tmp_path / "keyring"
        script.write_text('#!/bin/sh\n[ "$2" = idx.example ] && echo pw-for-$3 && exit 0\nexit 1\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return script

    def test_falls_back_from_the_url_to_the_host(self, tmp_path: Path) -> None:
        fake = self._fake(tmp_path)
        assert keyring_password(str(fake), "https://idx.example/simple", "bob") == "pw-for-bob"

    def test_provider_resolution(self, tmp_path: Path) -> None:
        self._fake(tmp_path)
        path = str(tmp_path)
        assert keyring_command("disabled", no_input=False, path=path) is None
        assert keyring_command("auto", no_input=True, path=path) is None
        assert keyring_command("auto", no_input=False, path=path) == str(tmp_path / "keyring")
        assert keyring_command("auto", no_input=False, path=str(tmp_path / "empty")) is None
        with pytest.raises(UsageError, match="no 'keyring' command"):
            keyring_command("subprocess", no_input=False, path=str(tmp_path / "empty"))


class TestClient:
    def test_bad_certificate_file_is_a_usage_error(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="--cert"):
            build_client(NetworkOptions(cert=str(tmp_path / "missing.pem")), {})

    def test_client_never_follows_redirects_by_itself(self) -> None:
        with build_client(NetworkOptions(), {}) as client:
            assert client.follow_redirects is False

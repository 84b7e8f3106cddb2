"""``safe-pip audit`` as a function, and the set-up every online command shares."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from safe_pip.cli.audit_cmd import run_audit_command
from safe_pip.cli.common import network_options, read_url, setup_logging
from safe_pip.cli.options import parse_args
from safe_pip.errors import EXIT_FAILED, EXIT_OK, UsageError
from tests.support.osv import advisory, write_directory


@pytest.fixture
def restored_logging() -> Iterator[logging.Logger]:
    logger = logging.getLogger("safe_pip")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No settings, pip configuration or home of the user's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAFE_PIP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "no-pip.conf"))
    return tmp_path


def _audit(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_audit_command(
        list(argv),
        Console(file=out, width=200, highlight=False, soft_wrap=True),
        Console(file=err, width=200, highlight=False, soft_wrap=True),
    )
    return status, out.getvalue(), err.getvalue()


class TestRunAuditCommand:
    @pytest.fixture
    def arguments(self, isolated: Path, restored_logging: logging.Logger) -> list[str]:
        requirements = isolated / "requirements.txt"
        requirements.write_text("widget==1.0\ngizmo==2.0\n")
        osv = write_directory(
            isolated / "osv", [advisory("PYSEC-2026-1", "widget", versions=["1.0"])]
        )
        return ["-r", str(requirements), "--advisories", str(osv)]

    def test_the_table_and_the_summary(self, arguments: list[str]) -> None:
        status, out, err = _audit(*arguments)
        assert status == EXIT_FAILED
        assert "PYSEC-2026-1" in out
        assert "Found 1 known vulnerability in 1 of 2 projects" in out
        assert err == ""

    def test_json(self, arguments: list[str]) -> None:
        status, out, _ = _audit(*arguments, "--format", "json")
        assert status == EXIT_FAILED
        dependencies = json.loads(out)["dependencies"]
        assert [(d["name"], [v["id"] for v in d["vulns"]]) for d in dependencies] == [
            ("widget", ["PYSEC-2026-1"]),
            ("gizmo", []),
        ]

    def test_sarif_names_the_requirements_line(self, arguments: list[str]) -> None:
        status, out, _ = _audit(*arguments, "--format", "sarif")
        assert status == EXIT_FAILED
        (result,) = json.loads(out)["runs"][0]["results"]
        location = result["locations"][0]["physicalLocation"]
        assert result["ruleId"] == "PYSEC-2026-1"
        assert location["region"] == {"startLine": 1}

    def test_nothing_found(self, arguments: list[str], isolated: Path) -> None:
        (isolated / "requirements.txt").write_text("gizmo==2.0\n")
        status, out, _ = _audit(*arguments)
        assert (status, out.splitlines()[-1]) == (
            EXIT_OK,
            f"No known vulnerabilities in 1 projects (advisories from {isolated / 'osv'}).",
        )

    def test_requirements_as_arguments_are_refused(self, arguments: list[str]) -> None:
        with pytest.raises(UsageError, match=r"takes no requirements \(widget\)"):
            _audit(*arguments, "widget")

    def test_no_advisory_source_is_refused(
        self, isolated: Path, restored_logging: logging.Logger
    ) -> None:
        (isolated / "requirements.txt").write_text("widget==1.0\n")
        with pytest.raises(UsageError, match="needs advisory data"):
            _audit("-r", str(isolated / "requirements.txt"))


class TestNetworkOptions:
    def test_the_flags_and_the_trusted_hosts(self) -> None:
        args = parse_args("audit", ["--timeout", "3", "--retries", "0", "--proxy", "http://p"])
        options = network_options(args, ["a.example", "b.example"], {"NETRC": "/n"})
        assert (options.timeout, options.retries, options.proxy) == (3.0, 0, "http://p")
        assert options.trusted_hosts == ("a.example", "b.example")
        assert options.netrc_path == "/n"

    def test_an_unusable_timeout_is_refused(self) -> None:
        args = parse_args("audit", ["--timeout", "0"])
        with pytest.raises(UsageError, match="--timeout"):
            network_options(args, [], {})


class _Missing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_requirements_url_that_fails_is_named_without_its_credentials() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Missing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        args = parse_args("audit", ["--no-proxy-env"])  # a proxy of the machine's is no use
        fetch = read_url(network_options(args, [], {}), {})
        url = f"http://user:secret@127.0.0.1:{server.server_address[1]}/req.txt"
        with pytest.raises(UsageError, match="HTTP 404") as raised:
            fetch(url)
    finally:
        server.shutdown()
        server.server_close()
    assert "secret" not in str(raised.value)


def test_logging_is_set_up_once_however_often_asked(
    restored_logging: logging.Logger, tmp_path: Path
) -> None:
    setup_logging(0, None)
    setup_logging(1, str(tmp_path / "log.txt"))
    console, file = restored_logging.handlers
    assert console.level == logging.INFO
    assert file.level == logging.DEBUG
    restored_logging.debug("only in the file")
    file.flush()
    assert "only in the file" in (tmp_path / "log.txt").read_text()

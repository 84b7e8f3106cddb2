"""End to end: hostile input never becomes pip options (DESIGN invariant 8), and the
gateway's secret never appears on a command line (DESIGN invariant 7).

safe-pip writes the requirement lines it hands pip into a requirements file of its own. A
line break hidden in a field (an ``${VAR}`` whose value holds one, a build requirement, an
editable path) would make the rest of the field a new line of that file, which pip reads
as an option (``--extra-index-url`` around the gateway, ``--no-require-hashes``) or as a
requirement nobody checked. Every such input is refused with exit status 2, naming where it
was written; the canary index behind the hidden option is never asked, and no code runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv
from tests.support.dists import write_project
from tests.support.index import PackageIndex
from tests.support.outcomes import ran

# Every separator str.splitlines() breaks at (pip splits requirements files with it).
LINE_BREAKS = {
    "LF": "\n",
    "CR": "\r",
    "CRLF": "\r\n",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
}
# The gateway's address with its secret path token (secrets.token_urlsafe(24)).
SECRET_RE = re.compile(rb"127\.0\.0\.1:\d+/[A-Za-z0-9_-]{32}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """The index the command names: ``alpha`` 1.0 as a wheel."""
    served = index()
    served.add(wheel("alpha", "1.0"))
    return served


@pytest.fixture
def evil(index: Callable[..., PackageIndex], sdist: Callable[..., Path]) -> PackageIndex:
    """An index nobody named: ``payload`` 1.0 as an sdist whose backend marks that it ran."""
    served = index()
    served.add(sdist("payload", "1.0"))
    return served


def _usage_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


def _untouched(venv: Venv, evil: PackageIndex, markers: Path) -> None:
    assert venv.installed() == {}
    assert evil.requests == []
    assert ran(markers) == []


class TestLineBreaksInRequirementsFiles:
    @pytest.mark.parametrize("brk", LINE_BREAKS.values(), ids=LINE_BREAKS.keys())
    def test_a_hash_variable_cannot_add_option_lines(
        self,
        safe_pip: SafePip,
        venv: Venv,
        good: PackageIndex,
        evil: PackageIndex,
        markers: Path,
        wheel: Callable[..., Path],
        brk: str,
    ) -> None:
        digest = _sha(wheel("alpha", "1.0"))
        hidden = f"{digest}{brk}--extra-index-url={evil.url}{brk}--no-require-hashes{brk}payload"
        (safe_pip.cwd / "req.txt").write_text('alpha==1.0 --hash="sha256:${ALPHA_HASH}"\n')
        result = safe_pip(
            "install",
            "--python",
            str(venv.python),
            "-i",
            good.url,
            "--allow-sdist",
            "payload",
            "-r",
            "req.txt",
            env={"ALPHA_HASH": hidden},
        )
        _usage_error(result, "line 1 of req.txt")
        _untouched(venv, evil, markers)

    def test_an_editable_path_cannot_add_options(
        self, safe_pip: SafePip, venv: Venv, good: PackageIndex, evil: PackageIndex, markers: Path
    ) -> None:
        # shlex reads the quoted path as one word; written unquoted, pip would read ./proj
        # as the editable project (and build it) and the rest as options of the line.
        write_project(safe_pip.cwd / "proj", "proj", "1.0", markers)
        (safe_pip.cwd / "req.txt").write_text(f'-e "./proj --extra-index-url={evil.url}"\n')
        result = safe_pip(
            "install", "--python", str(venv.python), "-i", good.url, "-r", "req.txt", "payload"
        )
        assert result.returncode in (1, 2), result.stderr
        assert "Traceback" not in result.stderr
        _untouched(venv, evil, markers)


class TestSettings:
    def test_a_settings_file_value(
        self, safe_pip: SafePip, venv: Venv, good: PackageIndex, evil: PackageIndex, markers: Path
    ) -> None:
        (safe_pip.cwd / "pyproject.toml").write_text(
            f'[tool.safe-pip]\nextra-index-url = ["{good.url}\\u2028{evil.url}"]\n'
        )
        result = safe_pip("install", "--python", str(venv.python), "-i", good.url, "alpha")
        _usage_error(result, "pyproject.toml", "extra-index-url", "line break (U+2028)")
        _untouched(venv, evil, markers)

    def test_a_safe_pip_variable(
        self, safe_pip: SafePip, venv: Venv, good: PackageIndex, evil: PackageIndex, markers: Path
    ) -> None:
        result = safe_pip(
            "install",
            "--python",
            str(venv.python),
            "alpha",
            env={"SAFE_PIP_INDEX_URL": f"{good.url}\n--extra-index-url={evil.url}"},
        )
        _usage_error(result, "SAFE_PIP_INDEX_URL", "line break (U+000A)")
        _untouched(venv, evil, markers)


class TestLockFiles:
    def test_a_listed_digest_cannot_add_options_to_a_lock(
        self,
        safe_pip: SafePip,
        good: PackageIndex,
        evil: PackageIndex,
        wheel: Callable[..., Path],
    ) -> None:
        # A lock lists every served file of the pinned version, with the digest the index
        # gave: one with a line break would give the lock file an option line of its own.
        hostile = wheel("alpha", "1.0", tag="py30-none-any")
        good.add(hostile, sha256=f"{_sha(hostile)}\n--extra-index-url={evil.url}")
        result = safe_pip("lock", "-i", good.url, "-o", "lock.txt", "alpha")
        assert result.returncode == 0, result.stderr
        lock = (safe_pip.cwd / "lock.txt").read_text()
        assert evil.url not in lock
        assert f"--hash=sha256:{_sha(wheel('alpha', '1.0'))}" in lock
        assert evil.requests == []


def _descendants(root: int) -> set[int]:
    """``root`` and every process started below it, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = {root}
    grown = True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in found}
        grown = not below <= found
        found |= below
    return found


@dataclass
class Watched:
    """A finished command, and every command line and environment its processes had."""

    result: subprocess.CompletedProcess[str]
    command_lines: set[bytes] = field(default_factory=set)
    environments: set[bytes] = field(default_factory=set)

    def leaks(self) -> list[bytes]:
        return [c for c in self.command_lines | self.environments if SECRET_RE.search(c)]

    def saw_pip(self) -> bool:
        return any(
            b"pip" in line and not line.split(b"\0")[0].endswith(b"safe-pip")
            for line in self.command_lines
        )


def _watched(safe_pip: SafePip, *args: str) -> Watched:
    """Run the command while reading /proc/<pid>/cmdline (readable by every local user) and
    /proc/<pid>/environ of each of its processes, every few milliseconds."""
    process = safe_pip.start(*args)
    watched = Watched(subprocess.CompletedProcess(process.args, -1))
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for pid in _descendants(process.pid):
                for name, seen in (
                    ("cmdline", watched.command_lines),
                    ("environ", watched.environments),
                ):
                    with contextlib.suppress(OSError):
                        seen.add(Path(f"/proc/{pid}/{name}").read_bytes())
            stop.wait(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        stdout, stderr = process.communicate(timeout=180)
    finally:
        stop.set()
        thread.join()
    watched.result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return watched


@pytest.fixture
def slow(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    """``alpha`` 1.0 and ``helper`` 1.0 as wheels, each page served a second late, so pip is
    surely running while the command lines are read."""
    served = index()
    served.add(wheel("alpha", "1.0"))
    served.add(wheel("helper", "1.0"))
    served.fail("alpha", delay=1.0)
    served.fail("helper", delay=1.0)
    return served


def _no_secret(watched: Watched) -> None:
    assert watched.result.returncode == 0, watched.result.stderr
    assert watched.saw_pip(), watched.command_lines
    assert watched.leaks() == [], [c.replace(b"\0", b" ")[-400:] for c in watched.leaks()]


class TestTheGatewaySecretIsOnNoCommandLine:
    def test_download(self, safe_pip: SafePip, slow: PackageIndex) -> None:
        _no_secret(_watched(safe_pip, "download", "-d", "out", "-i", slow.url, "alpha"))
        assert [p.name for p in (safe_pip.cwd / "out").iterdir()] == ["alpha-1.0-py3-none-any.whl"]

    def test_wheel(self, safe_pip: SafePip, slow: PackageIndex) -> None:
        _no_secret(_watched(safe_pip, "wheel", "-w", "out", "-i", slow.url, "alpha"))

    def test_lock(self, safe_pip: SafePip, slow: PackageIndex, venv: Venv) -> None:
        _no_secret(_watched(safe_pip, "lock", "-i", slow.url, "alpha"))
        _no_secret(
            _watched(safe_pip, "--python", str(venv.python), "lock", "-i", slow.url, "alpha")
        )

    def test_install(self, safe_pip: SafePip, slow: PackageIndex, venv: Venv) -> None:
        _no_secret(
            _watched(safe_pip, "install", "--python", str(venv.python), "-i", slow.url, "alpha")
        )
        assert venv.installed() == {"alpha": "1.0"}

    def test_pips_own_build_environment(
        self, safe_pip: SafePip, slow: PackageIndex, sdist: Callable[..., Path]
    ) -> None:
        # pip reads an allowed sdist's metadata by building it, and installs its build
        # requirements with a pip of its own, to which it hands its index on the command line.
        slow.add(sdist("builder", "1.0", build_requires=["helper"]))
        watched = _watched(
            safe_pip, "download", "-d", "out", "--allow-sdist", "builder", "-i", slow.url, "builder"
        )
        _no_secret(watched)
        assert slow.asked("helper")

    def test_the_build_stage_and_pips_own_build_environment(
        self, safe_pip: SafePip, slow: PackageIndex, sdist: Callable[..., Path], venv: Venv
    ) -> None:
        # pip reads the allowed sdist's metadata by building it, installing its build
        # requirements with a pip of its own; safe-pip's builder then installs them again.
        slow.add(sdist("builder", "1.0", build_requires=["helper"]))
        watched = _watched(
            safe_pip,
            "install",
            "--python",
            str(venv.python),
            "--allow-sdist",
            "builder",
            "-i",
            slow.url,
            "builder",
        )
        _no_secret(watched)
        assert venv.installed() == {"builder": "1.0"}

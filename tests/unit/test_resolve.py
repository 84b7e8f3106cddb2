from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import HashMismatch, PolicyDenied, ResolveError, SdistRefused, UsageError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.gateway.served import ServedFile
from safe_pip.gateway.shadows import Elsewhere
from safe_pip.models import (
    DistKind,
    DroppedFile,
    DropReason,
    IndexFile,
    Pin,
    ProjectPage,
    ServedProject,
    SourceSpec,
)
from safe_pip.resolve.failures import pip_failure
from safe_pip.resolve.handoff import Cleaner, PipFiles
from safe_pip.resolve.report import plan_from_report
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.resolver import run_gated
from tests.support.files import demo_wheel

BASE = "http://127.0.0.1:4242/tok"
SOURCE = SourceSpec("corp", "https://corp.example/simple")
SHA = "c" * 64
FILE = demo_wheel(SHA)


class _Selector:
    policy = FilePolicy()

    def __init__(self, answers: dict[NormalizedName, ServedProject | None]) -> None:
        self.answers = answers

    def candidates(self, name: NormalizedName) -> tuple[SourceSpec, ...]:
        return (SOURCE,)

    def pin_of(self, name: NormalizedName) -> Pin | None:
        return None

    def elsewhere(self, name: NormalizedName, served: SourceSpec) -> list[Elsewhere]:
        return []


class _Gateway:
    base_url = BASE
    index_url = f"{BASE}/simple/"
    failure = None

    def __init__(self, answers: dict[NormalizedName, ServedProject | None] | None = None) -> None:
        self.selector = _Selector(answers or {})

    def lookup_url(self, url: str) -> ServedFile | None:
        return ServedFile(FILE, SOURCE) if url.startswith(f"{BASE}/files/{SHA}/") else None


def _item(url: str, name: str = "demo", **info: Any) -> dict[str, Any]:
    return {
        "download_info": {"url": url, **info},
        "requested": True,
        "is_yanked": False,
        "metadata": {"name": name, "version": "1.0", "requires_dist": ["x>1"]},
    }


def _unchanged(text: str) -> str:
    return text


class TestPlan:
    def test_index_files_map_back_to_their_source(self) -> None:
        report = {
            "version": "1",
            "environment": {"python_version": "3.11"},
            "install": [_item(f"{BASE}/files/{SHA}/demo-1.0-py3-none-any.whl")],
        }
        plan = plan_from_report(report, _Gateway())
        (dist,) = plan
        assert dist.file is FILE and dist.source is SOURCE and dist.sha256 == SHA
        assert dist.requested and dist.metadata["requires_dist"] == ["x>1"]
        assert plan.environment == {"python_version": "3.11"}

    def test_local_directory_and_editable(self, tmp_path: Path) -> None:
        report = {
            "version": "1",
            "install": [_item(tmp_path.as_uri(), dir_info={"editable": True})],
        }
        (dist,) = plan_from_report(report, _Gateway())
        assert dist.kind is DistKind.LOCAL_DIR and dist.editable
        assert dist.local_path == str(tmp_path) and dist.needs_build

    def test_local_wheel_is_hashed(self, tmp_path: Path) -> None:
        wheel = tmp_path / "demo-1.0-py3-none-any.whl"
        wheel.write_bytes(b"w")
        report = {"version": "1", "install": [_item(wheel.as_uri(), archive_info={})]}
        (dist,) = plan_from_report(report, _Gateway())
        assert dist.kind is DistKind.WHEEL and dist.local_sha256 is not None

    def test_git_requirement_is_pinned_to_the_commit(self) -> None:
        report = {
            "version": "1",
            "install": [
                _item(
                    "https://git.example/repo.git", vcs_info={"vcs": "git", "commit_id": "abc123"}
                )
            ],
        }
        (dist,) = plan_from_report(report, _Gateway())
        assert dist.kind is DistKind.VCS and dist.vcs is not None
        assert dist.vcs.commit == "abc123"

    def test_other_vcs_are_refused(self) -> None:
        report = {
            "version": "1",
            "install": [
                _item("https://hg.example/repo", vcs_info={"vcs": "hg", "commit_id": "abc"})
            ],
        }
        with pytest.raises(PolicyDenied, match="only git"):
            plan_from_report(report, _Gateway())

    def test_direct_url_without_a_hash_is_refused(self) -> None:
        report = {"version": "1", "install": [_item("https://x.example/demo-1.0.tar.gz")]}
        with pytest.raises(PolicyDenied, match="not a verifiable"):
            plan_from_report(report, _Gateway())

    def test_unknown_report_version(self) -> None:
        with pytest.raises(ResolveError, match="unknown version"):
            plan_from_report({"version": "2"}, _Gateway())


class TestMessages:
    def test_gateway_addresses_and_temporary_files_are_rewritten(self, tmp_path: Path) -> None:
        files = PipFiles.write(tmp_path, [RequirementLine("demo==1.0", "-r req.txt (line 3)")])
        clean = Cleaner(_Gateway(), files)
        text = (
            f"Cannot install -r {files.requirements} (line 1) because ... "
            f"{BASE}/files/{SHA}/demo-1.0-py3-none-any.whl from {BASE}/simple/demo/"
        )
        cleaned = clean(text)
        assert "demo==1.0 (-r req.txt (line 3))" in cleaned
        assert BASE not in cleaned and "demo-1.0-py3-none-any.whl" in cleaned

    def test_conflict_explanation(self) -> None:
        stdout = "Collecting x\n\nThe conflict is caused by:\n  a\n\nTo fix this you could"
        error = pip_failure(stdout, "ERROR: ResolutionImpossible", _unchanged, _Gateway())
        assert isinstance(error, ResolveError)
        assert str(error).endswith("ResolutionImpossible\n  The conflict is caused by:\n    a")
        error = pip_failure("nothing", "ERROR: ResolutionImpossible", _unchanged, _Gateway())
        assert str(error).endswith("ResolutionImpossible")


class TestFailure:
    def test_source_only_requirement_is_a_policy_refusal(self) -> None:
        sdist = IndexFile(
            "demo-2.0.tar.gz", "u", canonicalize_name("demo"), Version("2.0"), DistKind.SDIST, SHA
        )
        served = ServedProject(
            ProjectPage(canonicalize_name("demo"), SOURCE, (sdist,)),
            (),
            (DroppedFile(sdist, DropReason.SDIST),),
        )
        error = pip_failure(
            "",
            "ERROR: No matching distribution found for demo>=2",
            _unchanged,
            _Gateway({canonicalize_name("demo"): served}),
        )
        assert isinstance(error, SdistRefused)
        assert "demo 2.0" in str(error) and "--allow-sdist demo" in str(error)

    def test_unknown_project_names_the_sources_asked(self) -> None:
        error = pip_failure(
            "",
            "ERROR: No matching distribution found for ghost",
            _unchanged,
            _Gateway({canonicalize_name("ghost"): None}),
        )
        assert isinstance(error, ResolveError)
        assert "No source knows a project named 'ghost' (asked: corp)" in str(error)

    def test_hash_checking_refusal_suggests_pins_for_the_files_pip_chose(self) -> None:
        stderr = (
            "ERROR: In --require-hashes mode, all requirements must have their versions "
            f"pinned with ==. These do not:\n    demo from {BASE}/files/{SHA}/demo-1.0.whl\n"
        )
        error = pip_failure("", stderr, lambda text: text.replace(BASE, "GW"), _Gateway())
        assert isinstance(error, HashMismatch)
        assert "Hash-checking mode refused these requirements" in str(error)
        assert f"    demo==1.0 --hash=sha256:{SHA}\n" in str(error)
        assert f"GW/files/{SHA}" in str(error) and "safe-pip lock -r" in str(error)

    def test_hash_checking_refusal_without_unpinned_lines_suggests_none(self) -> None:
        stderr = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE."
        error = pip_failure("", stderr, _unchanged, _Gateway())
        assert isinstance(error, HashMismatch)
        assert "use lines like these" not in str(error)


class TestWrittenFiles:
    def test_only_this_user_can_read_them(self, tmp_path: Path) -> None:
        files = PipFiles.write(tmp_path, [RequirementLine("demo==1.0", "command line")])
        assert (files.requirements.stat().st_mode & 0o777) == 0o600
        assert files.requirements.read_text() == "demo==1.0\n"
        assert (files.constraints.stat().st_mode & 0o777) == 0o600

    @pytest.mark.parametrize("brk", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"])
    def test_a_line_pip_would_split_is_refused_naming_its_origin(
        self, tmp_path: Path, brk: str
    ) -> None:
        # A build requirement comes from a package's own pyproject.toml: safe-pip never
        # parsed it as a requirements file line.
        line = RequirementLine(
            f"helper{brk}--extra-index-url=http://evil.example/", "build requirement of x 1.0"
        )
        with pytest.raises(UsageError) as caught:
            PipFiles.write(tmp_path, [line])
        assert "(build requirement of x 1.0)" in str(caught.value)
        assert "line break" in str(caught.value)
        assert not (tmp_path / "requirements.txt").exists()


class TestRunGated:
    def test_the_gateway_is_on_no_command_line_and_not_in_the_log(
        self,
        tmp_path: Path,
        started: list[subprocess.Popen[str]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        # Every local user can read a command line (/proc/PID/cmdline, ps); the gateway's
        # address carries its secret. pip is told it on standard input.
        caplog.set_level(logging.DEBUG, logger="safe_pip")
        with pytest.raises(ResolveError, match="No source knows a project named 'demo'"):
            run_gated(
                ["download", "--no-index", "-d", str(tmp_path / "out")],
                [RequirementLine("demo==1.0", "command line")],
                _Gateway(),
                tmp_path,
                os.environ,
            )
        argvs = [process.args for process in started]
        assert all(isinstance(argv, list) for argv in argvs)
        assert [argv[0] for argv in argvs if isinstance(argv, list)] == [sys.executable]
        assert BASE not in repr(argvs)
        assert BASE not in caplog.text
        assert "--index-url <gateway>/simple/" in caplog.text

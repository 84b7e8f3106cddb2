from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.build.builder import Builder, BuildRequirements
from safe_pip.build.buildsystem import read_build_system
from safe_pip.build.options import parse_config_settings
from safe_pip.build.sources import extract
from safe_pip.errors import FirstSeenRefused, PolicyDenied, SdistRefused, UsageError
from safe_pip.models import DistKind, IndexFile, NameSet, Plan, PlannedDist, SourceSpec


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


class TestExtract:
    def test_returns_the_single_top_directory(self, tmp_path: Path) -> None:
        archive = _tar(tmp_path / "p-1.0.tar.gz", {"p-1.0/pyproject.toml": b"", "p-1.0/x.py": b""})
        root = extract(archive, tmp_path / "out", "p 1.0")
        assert root.name == "p-1.0" and (root / "x.py").is_file()

    def test_members_escaping_the_root_are_refused(self, tmp_path: Path) -> None:
        archive = _tar(tmp_path / "p-1.0.tar.gz", {"p-1.0/ok": b"", "../evil": b"x"})
        with pytest.raises(PolicyDenied, match="outside its root"):
            extract(archive, tmp_path / "out", "p 1.0")
        assert not (tmp_path / "evil").exists()


class TestBackend:
    def test_declared_backend(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "b"\nbackend-path = ["."]\n'
        )
        backend = read_build_system(tmp_path, "p")
        assert backend.requires == ("flit_core",) and backend.backend == "b"
        assert backend.backend_path == (str(tmp_path.resolve()),)

    def test_legacy_default(self, tmp_path: Path) -> None:
        backend = read_build_system(tmp_path, "p")
        assert backend.backend == "setuptools.build_meta:__legacy__"

    def test_backend_path_outside_the_project_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[build-system]\nbuild-backend = "b"\nbackend-path = [".."]\n'
        )
        with pytest.raises(PolicyDenied, match="outside the project"):
            read_build_system(tmp_path, "p")


class TestConfigSettings:
    def test_repeated_keys_make_a_list(self) -> None:
        assert parse_config_settings(["a=1", "b=2", "a=3"]) == {"a": ["1", "3"], "b": "2"}

    def test_malformed(self) -> None:
        with pytest.raises(UsageError, match="KEY=VALUE"):
            parse_config_settings(["novalue"])


def _refuse_all(plan: Plan) -> None:
    raise AssertionError("nothing may be reviewed")


def _builder(tmp_path: Path, allow: NameSet, local: frozenset[Path] = frozenset()) -> Builder:
    return Builder(
        cast(Any, None),
        cast(Any, None),
        tmp_path / "work",
        {},
        approve=_refuse_all,
        allow_sdist=allow,
        local_projects=local,
    )


def _dist(kind: DistKind, name: str = "beta", local_path: str | None = None) -> PlannedDist:
    return PlannedDist(
        canonicalize_name(name), Version("1.0"), kind, True, {}, local_path=local_path
    )


class TestBuildAllowance:
    """Defence in depth: the builder refuses what admission and the gateway kept out."""

    @pytest.mark.parametrize("kind", [DistKind.SDIST, DistKind.VCS])
    def test_a_source_not_allowed_is_never_built(self, tmp_path: Path, kind: DistKind) -> None:
        builder = _builder(tmp_path, NameSet(["other"]))
        with pytest.raises(SdistRefused, match="--allow-sdist beta"):
            builder.build(_dist(kind), tmp_path / "beta-1.0.tar.gz")
        assert not (tmp_path / "work").exists()

    def test_a_local_directory_the_user_did_not_name_is_never_built(self, tmp_path: Path) -> None:
        builder = _builder(tmp_path, NameSet(), frozenset({(tmp_path / "mine").resolve()}))
        with pytest.raises(SdistRefused, match="--allow-sdist beta"):
            builder.build(_dist(DistKind.LOCAL_DIR, local_path=str(tmp_path / "other")), None)
        assert not (tmp_path / "work").exists()

    @pytest.mark.parametrize(
        "requirement", ["helper @ https://x.example/helper-1.0.tar.gz", "./helper.tar.gz"]
    )
    def test_build_requirements_by_url_or_path_are_refused_before_pip_reads_them(
        self, tmp_path: Path, requirement: str
    ) -> None:
        requirements = BuildRequirements(cast(Any, None), {}, _refuse_all)
        (tmp_path / "area").mkdir()
        with pytest.raises(PolicyDenied, match="only from the sources"):
            requirements.install(
                _dist(DistKind.SDIST), tmp_path / "python", [requirement], tmp_path / "area"
            )


class TestBuildRequirements:
    """Resolved first, reviewed, then installed pinned to the reviewed files."""

    def _plan(self) -> Plan:
        file = IndexFile(
            "hatchling-1.0-py3-none-any.whl",
            "https://files.example/hatchling-1.0-py3-none-any.whl",
            canonicalize_name("hatchling"),
            Version("1.0"),
            DistKind.WHEEL,
            "b" * 64,
        )
        source = SourceSpec("pypi", "https://pypi.org/simple")
        return Plan((PlannedDist(file.project, file.version, file.kind, False, {}, file, source),))

    def _run(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approve: Callable[[Plan], None]
    ) -> list[tuple[list[str], list[str]]]:
        installs: list[tuple[list[str], list[str]]] = []
        plan = self._plan()
        monkeypatch.setattr("safe_pip.build.builder.resolve", lambda *args: plan)
        monkeypatch.setattr(
            "safe_pip.build.builder.run_gated",
            lambda command, lines, *a, **k: installs.append(
                (list(command), [line.to_pip_line() for line in lines])
            ),
        )
        requirements = BuildRequirements(cast(Any, None), {}, approve)
        (tmp_path / "area").mkdir()
        requirements.install(
            _dist(DistKind.SDIST), tmp_path / "python", ["hatchling"], tmp_path / "area"
        )
        return installs

    def test_nothing_is_installed_unless_approved(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(plan: Plan) -> None:
            raise FirstSeenRefused("add --trust hatchling")

        with pytest.raises(FirstSeenRefused):
            self._run(tmp_path, monkeypatch, refuse)

    def test_the_reviewed_files_are_installed_pinned(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        reviewed: list[Plan] = []
        installs = self._run(tmp_path, monkeypatch, reviewed.append)
        assert reviewed == [self._plan()]
        assert installs == [
            (
                ["install", "--quiet", "--no-deps", "--require-hashes"],
                ["hatchling==1.0 --hash=sha256:" + "b" * 64],
            )
        ]

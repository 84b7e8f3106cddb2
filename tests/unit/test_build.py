from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from safe_pip.build import _extract, _read_backend, parse_config_settings
from safe_pip.errors import PolicyDenied, UsageError


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
        root = _extract(archive, tmp_path / "out", "p 1.0")
        assert root.name == "p-1.0" and (root / "x.py").is_file()

    def test_members_escaping_the_root_are_refused(self, tmp_path: Path) -> None:
        archive = _tar(tmp_path / "p-1.0.tar.gz", {"p-1.0/ok": b"", "../evil": b"x"})
        with pytest.raises(PolicyDenied, match="outside its root"):
            _extract(archive, tmp_path / "out", "p 1.0")
        assert not (tmp_path / "evil").exists()


class TestBackend:
    def test_declared_backend(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "b"\nbackend-path = ["."]\n'
        )
        backend = _read_backend(tmp_path, "p")
        assert backend.requires == ("flit_core",) and backend.backend == "b"
        assert backend.backend_path == (str(tmp_path.resolve()),)

    def test_legacy_default(self, tmp_path: Path) -> None:
        backend = _read_backend(tmp_path, "p")
        assert backend.backend == "setuptools.build_meta:__legacy__"

    def test_backend_path_outside_the_project_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(
            '[build-system]\nbuild-backend = "b"\nbackend-path = [".."]\n'
        )
        with pytest.raises(PolicyDenied, match="outside the project"):
            _read_backend(tmp_path, "p")


class TestConfigSettings:
    def test_repeated_keys_make_a_list(self) -> None:
        assert parse_config_settings(["a=1", "b=2", "a=3"]) == {"a": ["1", "3"], "b": "2"}

    def test_malformed(self) -> None:
        with pytest.raises(UsageError, match="KEY=VALUE"):
            parse_config_settings(["novalue"])

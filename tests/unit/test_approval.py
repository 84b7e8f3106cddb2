"""The trust stage's records after an install."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from safe_pip.approval import TrustCheck, remember
from safe_pip.audit import AuditLog
from safe_pip.errors import TrustStoreError
from safe_pip.install import InstallResult
from safe_pip.models import DistKind, IndexFile, PlannedDist, SourceSpec
from safe_pip.trust import TrustStore

SOURCE = SourceSpec("pypi", "https://pypi.org/simple")


def _installed(name: str) -> PlannedDist:
    file = IndexFile(
        f"{name}-1.0-py3-none-any.whl",
        f"https://files.example/{name}-1.0-py3-none-any.whl",
        canonicalize_name(name),
        Version("1.0"),
        DistKind.WHEEL,
        "a" * 64,
    )
    return PlannedDist(file.project, file.version, file.kind, True, {}, file, SOURCE)


def _check(home: Path) -> TrustCheck:
    return TrustCheck(TrustStore(home), AuditLog(home), (), datetime.now(UTC))


class TestRemember:
    def test_records_every_installed_file(self, tmp_path: Path) -> None:
        remember(_check(tmp_path), InstallResult((_installed("demo"),), ()))
        (project,) = TrustStore(tmp_path).load().values()
        assert project.files == {"1.0": {"demo-1.0-py3-none-any.whl": "a" * 64}}

    def test_a_store_that_cannot_be_written_says_the_install_went_through(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def full(*args: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("safe_pip.trust.write_json_atomic", full)
        with pytest.raises(TrustStoreError) as caught:
            remember(_check(tmp_path), InstallResult((_installed("demo"),), ()))
        message = str(caught.value)
        assert message.startswith("Installed demo-1.0, but safe-pip could not record it")
        assert "No space left on device" in message
        assert "stay installed" in message

"""End to end: ``safe-pip doctor`` in a project, with a controlled PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import SafePip, Venv, _safe_pip_command


def _path(tmp_path: Path, venv: Venv, *, plain_pip: bool) -> dict[str, str]:
    """A PATH whose pip is safe-pip (or plain pip) and whose python3 is a venv without pip."""
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir()
    if plain_pip:
        pip = bin_dir / "pip"
        pip.write_text('#!/bin/sh\nexec /usr/bin/env python3 -m pip "$@"\n')
        pip.chmod(0o755)
    else:
        (bin_dir / "pip").symlink_to(_safe_pip_command()[0])
    return {"PATH": f"{bin_dir}{os.pathsep}{venv.path / 'bin'}"}


def test_a_clean_set_up(safe_pip: SafePip, venv: Venv, tmp_path: Path) -> None:
    result = safe_pip("doctor", env=_path(tmp_path, venv, plain_pip=False))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no way around safe-pip found" in result.stdout
    assert "Note: A shell alias cannot be seen from here" in result.stdout


def test_findings_with_fixes_and_json(safe_pip: SafePip, venv: Venv, tmp_path: Path) -> None:
    (safe_pip.cwd / "Dockerfile").write_text(
        "FROM python:3.12-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
    )
    env = {
        **_path(tmp_path, venv, plain_pip=True),
        "PIP_EXTRA_INDEX_URL": "https://public.example/simple",
    }
    result = safe_pip("doctor", env=env)
    assert result.returncode == 1, result.stderr
    assert "3 way(s) around safe-pip found" in result.stdout
    assert "`pip` on PATH is plain pip" in result.stdout
    assert "Dockerfile line 3 installs with plain pip" in result.stdout
    assert result.stdout.count("   Fix: ") == 3
    as_json = safe_pip("doctor", "--json", env=env)
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert [finding["check"] for finding in document["findings"]] == [
        "pip-on-path",
        "extra-index",
        "project-file",
    ]


def test_a_broken_trust_store(safe_pip: SafePip, venv: Venv, tmp_path: Path) -> None:
    home = safe_pip.home / "safe-pip-home"
    home.mkdir(parents=True)
    (home / "trust.json").write_text("[]")
    result = safe_pip("doctor", "--json", env=_path(tmp_path, venv, plain_pip=False))
    assert result.returncode == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["check"] == "trust-store" and "trust.json" in finding["fix"]


def test_usage_error(safe_pip: SafePip) -> None:
    result = safe_pip("doctor", "--frobnicate")
    assert result.returncode == 2 and "safe-pip doctor takes only --json" in result.stderr
    assert "Traceback" not in result.stderr

"""safe-pip doctor: each way around safe-pip is found, with its fix; a clean set-up is clean."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from safe_pip.cli.doctor_cmd import run_doctor_command
from safe_pip.doctor import diagnose, project_files
from safe_pip.errors import UsageError
from tests.conftest import Venv

PLAIN_PIP = "#!/usr/bin/python3\nfrom pip._internal.cli.main import main\nmain()\n"
SAFE_PIP = "#!/venv/bin/python\nfrom safe_pip.cli import entrypoint\nentrypoint()\n"


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def clean(tmp_path: Path, venv: Venv) -> dict[str, str]:
    """A PATH whose python3 is a venv without pip and whose pip is safe-pip; no pip.conf."""
    bin_dir = tmp_path / "bin"
    _script(bin_dir / "safe-pip", SAFE_PIP)
    (bin_dir / "pip").symlink_to(bin_dir / "safe-pip")
    _script(bin_dir / "pip3", SAFE_PIP)
    return {"PATH": f"{bin_dir}{os.pathsep}{venv.path / 'bin'}", "PIP_CONFIG_FILE": os.devnull}


def _checks(environ: dict[str, str], project: Path, home: Path) -> list[str]:
    return [finding.check for finding in diagnose(environ, project, home).findings]


def test_a_clean_set_up(clean: dict[str, str], tmp_path: Path) -> None:
    diagnosis = diagnose(clean, tmp_path / "project", tmp_path / "home")
    assert diagnosis.clean, diagnosis.findings
    assert any("alias" in note for note in diagnosis.notes)
    assert any("redirect" in note for note in diagnosis.notes)


def test_plain_pip_on_path(clean: dict[str, str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    _script(plain / "pip", PLAIN_PIP)
    environ = {**clean, "PATH": f"{plain}{os.pathsep}{clean['PATH']}"}
    (finding,) = diagnose(environ, tmp_path, tmp_path / "home").findings
    assert finding.check == "pip-on-path" and finding.where == str(plain / "pip")
    assert "ln -s" in finding.fix and str(tmp_path / "bin" / "safe-pip") in finding.fix


def test_python_m_pip_reaches_plain_pip(clean: dict[str, str], tmp_path: Path, venv: Venv) -> None:
    (venv.site_packages / "pip-24.0.dist-info").mkdir()
    (finding,) = diagnose(clean, tmp_path, tmp_path / "home").findings
    assert finding.check == "python-m-pip"
    assert "plain pip 24.0" in finding.problem and "the first python3 on PATH" in finding.problem
    assert "safe-pip uninstall pip" in finding.fix


def test_safe_pips_own_pip_is_a_note(tmp_path: Path) -> None:
    own = str(Path(sys.executable).parent)
    diagnosis = diagnose({"PATH": own, "PIP_CONFIG_FILE": os.devnull}, tmp_path, tmp_path)
    assert "python-m-pip" not in [finding.check for finding in diagnosis.findings]
    assert any("safe-pip's own environment" in note for note in diagnosis.notes)


def test_extra_indexes(clean: dict[str, str], tmp_path: Path) -> None:
    environ = {**clean, "PIP_EXTRA_INDEX_URL": "https://user:s3cret@public.example/simple"}
    (finding,) = diagnose(environ, tmp_path, tmp_path / "home").findings
    assert finding.check == "extra-index" and finding.where == "PIP_EXTRA_INDEX_URL"
    assert "s3cret" not in finding.problem and "public.example" in finding.problem
    assert "[tool.safe-pip.pins]" in finding.fix
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nextra_index_url = https://public.example/simple\n")
    (finding,) = diagnose({**clean, "PIP_CONFIG_FILE": str(conf)}, tmp_path, tmp_path).findings
    assert finding.check == "extra-index" and str(conf) in finding.problem


def test_an_unreadable_pip_conf(clean: dict[str, str], tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("not a section\n")
    (finding,) = diagnose({**clean, "PIP_CONFIG_FILE": str(conf)}, tmp_path, tmp_path).findings
    assert finding.check == "pip-config" and str(conf) in finding.problem


def test_an_environment_without_an_interpreter_is_a_note_not_a_config_finding(
    clean: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty-venv"
    empty.mkdir()
    diagnosis = diagnose({**clean, "VIRTUAL_ENV": str(empty)}, tmp_path, tmp_path / "home")
    assert diagnosis.clean, diagnosis.findings
    assert any("`python -m pip` was not checked" in note for note in diagnosis.notes)


def test_plain_pip_in_project_files(clean: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(
        "FROM python:3.12\n"
        "# RUN pip install commented-out\n"
        "RUN safe-pip install --require-hashes -r requirements.txt\n"
        "RUN python -m pip install --require-hashes --no-deps -r safe-pip.lock \\\n"
        "    && python -m pip install --no-deps .\n"
        "RUN apt-get update && \\\n"
        "    pip3 install requests\n"
    )
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("steps:\n  - run: python3.12 -m pip install -e .\n")
    (project / "noxfile.py").write_text("def tests(session):\n    session.install('pytest')\n")
    (project / "Makefile").write_text("install:\n\tuv pip install -r requirements.txt\n")
    (project / "README.md").write_text("pip install nothing-here\n")
    found = diagnose(clean, project, tmp_path / "home").findings
    assert [finding.where for finding in found] == [
        ".github/workflows/ci.yml:2",
        "Dockerfile:6",
        "Makefile:2",
        "noxfile.py:2",
    ]
    assert "pip3 install" in found[1].problem
    assert all("safe-pip install" in finding.fix for finding in found)
    assert project_files(project)[0] == workflows / "ci.yml"


def test_a_broken_trust_store(clean: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "trust.json").write_text("{not json")
    (finding,) = diagnose(clean, tmp_path, home).findings
    assert finding.check == "trust-store" and "not valid JSON" in finding.problem
    assert f"mv {home / 'trust.json'}" in finding.fix


class TestCommand:
    def test_exit_status_and_json(
        self, clean: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for key, value in clean.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        out = io.StringIO()
        assert run_doctor_command([], out) == 0
        assert "no way around safe-pip found" in out.getvalue()
        (tmp_path / "Dockerfile").write_text("RUN pip install flask\n")
        out = io.StringIO()
        assert run_doctor_command(["--json"], out) == 1
        document = json.loads(out.getvalue())
        assert document["clean"] is False
        assert document["findings"][0]["where"] == "Dockerfile:1"
        assert set(document["findings"][0]) == {"check", "problem", "fix", "where"}

    def test_unknown_argument(self) -> None:
        with pytest.raises(UsageError, match="--json"):
            run_doctor_command(["--fix"], io.StringIO())

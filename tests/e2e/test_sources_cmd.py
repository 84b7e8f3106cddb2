"""``safe-pip sources``: the resolved source list, with where each entry came from."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SafePip


def test_lists_sources_in_order_with_their_origins_groups_and_pins(
    safe_pip: SafePip, tmp_path: Path
) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(
        "[global]\nextra-index-url = https://corp.example/simple\n", encoding="utf-8"
    )
    (safe_pip.cwd / "pyproject.toml").write_text(
        "[tool.safe-pip.sources]\n"
        'corp = { url = "https://corp.example/simple", private = true }\n'
        'cache = { url = "file:///srv/cache", mirror-of = "pypi" }\n'
        "[tool.safe-pip.pins]\n"
        '"corp-*" = "corp"\n',
        encoding="utf-8",
    )
    wheels = tmp_path / "wheels"
    result = safe_pip(
        "sources",
        "-f",
        str(wheels),
        env={"PIP_CONFIG_FILE": str(pip_conf), "PIP_INDEX_URL": "https://pypi.org/simple"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    listed = [line.strip() for line in lines if line.startswith("  ") and ". " in line]
    assert listed[0].startswith(f"1. {wheels} (local; find-links; from the command line")
    assert listed[1].startswith("2. corp (https://corp.example/simple) (private; index;")
    assert f"from pip configuration file {pip_conf} [global]" in listed[1]
    assert "check-public-shadows" in listed[1]
    assert listed[2] == (
        "3. pypi (https://pypi.org/simple) (public; index; from environment variable PIP_INDEX_URL)"
    )
    assert listed[3].startswith("4. cache (file:///srv/cache) (public; index; mirror of pypi")
    assert "  corp-* -> corp (https://corp.example/simple)" in lines


def test_help(safe_pip: SafePip) -> None:
    result = safe_pip("sources", "--help")
    assert result.returncode == 0
    assert "Nothing is asked of any source." in result.stdout

"""Time ``safe-pip audit`` of an environment of 300 projects against a PyPI-sized advisory set.

The advisory set is synthetic but shaped like osv.dev's PyPI export: ADVISORIES documents
over PROJECTS projects, each with an ECOSYSTEM range and a PYSEC-style explicit list of
every affected version, a few hundred characters of details and aliases. It is written as
one zip, indexed once (timed: that is the cost paid at each download), then the environment
is audited with the index cached: the core (installed projects read, index opened, every
project matched), and the whole command in a fresh process.

Usage: python scripts/bench_audit.py [--advisories N] [--projects N] [--installed N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from safe_pip.install.installed import find_installed
from safe_pip.policy.advisory_options import AdvisoryOptions
from safe_pip.policy.advisory_source import load_advisories
from safe_pip.policy.vulnerabilities import check_packages


def _document(number: int, project: str, rng: random.Random) -> dict[str, Any]:
    fixed_minor = rng.randint(1, 40)
    versions = [
        f"{major}.{minor}.{patch}"
        for major in (0, 1)
        for minor in range(fixed_minor)
        for patch in range(3)
    ]
    return {
        "schema_version": "1.6.0",
        "id": f"PYSEC-2026-{number}",
        "modified": "2026-11-30T00:00:00Z",
        "published": "2026-01-01T00:00:00Z",
        "aliases": [f"CVE-2026-{number}", f"GHSA-{number:04x}-bench-0000"],
        "details": "A synthetic advisory for the benchmark. " * 8,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": project, "purl": f"pkg:pypi/{project}"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": f"1.{fixed_minor}.0"}],
                    }
                ],
                "versions": versions,
            }
        ],
    }


def write_zip(path: Path, advisories: int, projects: int, seed: int = 2026) -> list[str]:
    """The synthetic advisory zip; returns the project names."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    names = [f"project-{i:05d}" for i in range(projects)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(advisories):
            document = _document(number, rng.choice(names), rng)
            archive.writestr(f"{document['id']}.json", json.dumps(document))
    return names


def write_environment(site: Path, names: list[str], installed: int, seed: int = 7) -> None:
    """``installed`` dist-info directories: half of them projects with advisories."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    chosen = rng.sample(names, installed // 2) + [
        f"clean-{i}" for i in range(installed - installed // 2)
    ]
    for name in chosen:
        info = site / f"{name.replace('-', '_')}-1.{rng.randint(0, 45)}.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")


def _offline() -> httpx.Client:
    msg = "a local advisory source needs no network"
    raise RuntimeError(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=6000)
    parser.add_argument("--installed", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as work:
        root = Path(work)
        data = root / "all.zip"
        names = write_zip(data, options.advisories, options.projects)
        print(f"advisory zip: {options.advisories} advisories, {data.stat().st_size / 1e6:.1f} MB")
        home = root / "home"
        settings = AdvisoryOptions(str(data), max_age_days=1)
        started = time.perf_counter()
        load_advisories(settings, home, _offline)
        print(f"indexing (once per download): {time.perf_counter() - started:.2f} s")
        index = next((home / "advisories").glob("*.index"))
        print(f"index: {index.stat().st_size / 1e6:.1f} MB")

        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        major, minor = sys.version_info[:2]
        site = venv / "lib" / f"python{major}.{minor}" / "site-packages"
        write_environment(site, names, options.installed)

        core = []
        for _ in range(options.runs):
            started = time.perf_counter()
            installed = find_installed([site])
            database = load_advisories(settings, home, _offline)
            packages = [(name, dist.version) for name, dists in installed.items() for dist in dists]
            report = check_packages(packages, database, settings)
            core.append(time.perf_counter() - started)
        print(
            f"core audit of {len(report.packages)} projects ({len(report.active)} findings): "
            f"median {statistics.median(core) * 1000:.0f} ms of {options.runs} runs"
        )

        command = [str(Path(sys.executable).parent / "safe-pip"), "audit", "--python", str(venv)]
        command += ["--advisories", str(data), "--format", "json"]
        env = {**os.environ, "SAFE_PIP_HOME": str(home), "PIP_CONFIG_FILE": os.devnull}
        whole = []
        for _ in range(options.runs):
            started = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            whole.append(time.perf_counter() - started)
            if result.returncode not in (0, 1):
                raise SystemExit(result.stderr)
        print(
            f"whole 'safe-pip audit' command (new process, target query included): median "
            f"{statistics.median(whole) * 1000:.0f} ms of {options.runs} runs "
            f"({datetime.now(UTC).date()})"
        )


if __name__ == "__main__":
    main()

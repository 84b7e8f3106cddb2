"""Time ``safe-pip install`` against ``pip install`` (and uv, where installed) side by side.

Each run installs one requirement set into a fresh, empty virtual environment. Tools
alternate run by run, so load on the machine affects them alike. ``cold`` gives every run
an empty cache; ``warm`` primes a per-tool cache once (untimed) and reuses it. Both tools
use the same pip (the one next to safe-pip, via ``--python``) and the same index, with
pip's own configuration shut out. Prints medians, ratios against pip, and where
safe-pip's time goes (the stage timings it logs with ``-v``).

Usage: scripts/bench [--runs N] [--sets small,medium,large] [--modes cold,warm]
       [--index-url URL]
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

SETS = {
    "small": ["requests"],
    "medium": ["rich", "httpx", "flask", "pydantic"],
    "large": ["django", "djangorestframework", "celery", "boto3", "pandas", "sqlalchemy"],
}
_STAGE_RE = re.compile(r"^\s+(\w+) took ([0-9.]+)s$", re.MULTILINE)


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


Command = Callable[[Path, Path], list[str]]


def _environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SAFE_PIP_", "UV_"))}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "SAFE_PIP_HOME": str(cache / "safe-pip-home"),
            "CI": "1",
            "NO_COLOR": "1",
        }
    )
    return env


def _tools(index_url: str) -> dict[str, Command]:
    bin_dir = Path(sys.executable).parent
    tools: dict[str, Command] = {
        "pip": lambda venv, cache: [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "-q",
            "--cache-dir",
            str(cache / "pip"),
            "--index-url",
            index_url,
        ],
        "safe-pip": lambda venv, cache: [
            str(bin_dir / "safe-pip"),
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-v",
            "--trust",
            ":all:",
            "--progress-bar",
            "off",
            "--cache-dir",
            str(cache / "safe-pip"),
            "--index-url",
            index_url,
        ],
    }
    uv = shutil.which("uv")
    if uv is not None:
        tools["uv"] = lambda venv, cache: [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "--cache-dir",
            str(cache / "uv"),
            "--index-url",
            index_url,
        ]
    return tools


def _fresh_venv(parent: Path) -> Path:
    venv = Path(tempfile.mkdtemp(dir=parent, prefix="venv-"))
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True
    )
    return venv


def _run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed, completed.stdout + completed.stderr


def bench(
    requirements: list[str], mode: str, runs: int, tools: dict[str, Command], work: Path
) -> dict[str, Samples]:
    results = {name: Samples() for name in tools}
    caches = {name: work / f"cache-{mode}-{name}" for name in tools}
    if mode == "warm":
        for name, command in tools.items():
            _run(
                [*command(_fresh_venv(work), caches[name]), *requirements],
                _environment(caches[name]),
            )
    for index in range(runs):
        order = list(tools.items())
        if index % 2:
            order.reverse()
        for name, command in order:
            cache = caches[name] if mode == "warm" else Path(tempfile.mkdtemp(dir=work))
            elapsed, output = _run(
                [*command(_fresh_venv(work), cache), *requirements], _environment(cache)
            )
            results[name].seconds.append(elapsed)
            for stage, seconds in _STAGE_RE.findall(output):
                results[name].stages.setdefault(stage, []).append(float(seconds))
    return results


def _header(index_url: str) -> str:
    pip_version = version("pip")
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pip {pip_version}, safe-pip "
        f"{version('safe-pip')}, index {index_url}"
    )


def _compile_safe_pip() -> None:
    """Give safe-pip its bytecode, as an install from its wheel would: a development
    install under PYTHONDONTWRITEBYTECODE would recompile every module on every run."""
    import safe_pip

    compileall.compile_dir(Path(safe_pip.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sets", default="small,medium,large")
    parser.add_argument("--modes", default="cold,warm")
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    args = parser.parse_args()
    tools = _tools(args.index_url)
    _compile_safe_pip()
    print(_header(args.index_url))
    print()
    names = list(tools)
    columns = " | ".join(f"{n} (s)" for n in names)
    ratios = " | ".join(f"{n}/pip" for n in names if n != "pip")
    print(f"| set | cache | {columns} | {ratios} | safe-pip stages (median s) |")
    print("|" + "---|" * (2 + len(names) + len(names) - 1 + 1))
    with tempfile.TemporaryDirectory(prefix="safe-pip-bench-") as temp:
        for set_name in args.sets.split(","):
            for mode in args.modes.split(","):
                results = bench(SETS[set_name], mode, args.runs, tools, Path(temp))
                medians = " | ".join(f"{results[n].median:.2f}" for n in names)
                pip = results["pip"].median
                ratio = " | ".join(f"{results[n].median / pip:.2f}" for n in names if n != "pip")
                stages = ", ".join(
                    f"{stage} {statistics.median(values):.2f}"
                    for stage, values in results["safe-pip"].stages.items()
                )
                print(f"| {set_name} | {mode} | {medians} | {ratio} | {stages} |", flush=True)


if __name__ == "__main__":
    main()

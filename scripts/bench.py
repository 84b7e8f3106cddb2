"""Time ``safe-pip install`` against ``pip install`` (and uv, where installed) side by side.

Each run installs one requirement set into a fresh, empty virtual environment. Tools
alternate run by run, so load on the machine affects them alike. ``cold`` gives every run
an empty cache; ``warm`` primes a per-tool cache once (untimed) and reuses it; ``noop``
installs into an environment that already has the set, where nothing is to be done, and
compares with ``safe-pip --version``. pip and safe-pip use the same pip (the one next to
safe-pip, via ``--python``) and the same index, with pip's own configuration shut out. uv
runs twice: plain, and with ``--compile-bytecode`` (pip and safe-pip compile bytecode; uv
does not unless asked).

For every tool it prints the median wall-clock time, the median CPU time (user + system,
the tool and every process it waited for) and the largest peak resident memory of any
one of its processes, then ratios against pip and against ``uv --compile-bytecode``, and
where safe-pip's time goes (the stage timings it logs with ``-v``).

Usage: scripts/bench [--runs N] [--sets small,medium,large] [--modes cold,warm,noop]
       [--index-url URL] [--uv PATH]
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
    cpu: list[float] = field(default_factory=list)
    peak_kib: list[int] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def peak_mib(self) -> float:
        return max(self.peak_kib) / 1024


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu: float
    """User + system seconds of the process and of every descendant it waited for."""
    peak_kib: int
    """The largest resident set of any one of those processes."""
    output: str


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


def _tools(index_url: str, uv: str | None) -> dict[str, Command]:
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
    if uv is not None:
        tools["uv"] = lambda venv, cache: _uv(uv, venv, cache, index_url)
        tools["uv-bytecode"] = lambda venv, cache: [
            *_uv(uv, venv, cache, index_url),
            "--compile-bytecode",
        ]
    return tools


def _uv(uv: str, venv: Path, cache: Path, index_url: str) -> list[str]:
    return [
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


def _fresh_venv(parent: Path) -> Path:
    venv = Path(tempfile.mkdtemp(dir=parent, prefix="venv-"))
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True
    )
    return venv


def _run(command: list[str], env: dict[str, str]) -> Measured:
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        # wait4 rolls up the resources of the process and every child it waited for.
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{text}")
    return Measured(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, text)


def bench(
    requirements: list[str], mode: str, runs: int, tools: dict[str, Command], work: Path
) -> dict[str, Samples]:
    results = {name: Samples() for name in tools}
    caches = {name: work / f"cache-{mode}-{name}" for name in tools}
    installed = {name: _fresh_venv(work) for name in tools} if mode == "noop" else {}
    if mode != "cold":
        for name, command in tools.items():
            venv = installed.get(name) or _fresh_venv(work)
            _run([*command(venv, caches[name]), *requirements], _environment(caches[name]))
    for index in range(runs):
        order = list(tools.items())
        if index % 2:
            order.reverse()
        for name, command in order:
            cache = caches[name] if mode != "cold" else Path(tempfile.mkdtemp(dir=work))
            venv = installed.get(name) or _fresh_venv(work)
            measured = _run([*command(venv, cache), *requirements], _environment(cache))
            _add(results[name], measured)
        if mode == "noop":
            version_only = [str(Path(sys.executable).parent / "safe-pip"), "--version"]
            _add(
                results.setdefault("safe-pip --version", Samples()),
                _run(version_only, _environment(work)),
            )
    return results


def _add(samples: Samples, measured: Measured) -> None:
    samples.seconds.append(measured.seconds)
    samples.cpu.append(measured.cpu)
    samples.peak_kib.append(measured.peak_kib)
    for stage, seconds in _STAGE_RE.findall(measured.output):
        samples.stages.setdefault(stage, []).append(float(seconds))


def _header(index_url: str, uv: str | None) -> str:
    uv_version = (
        subprocess.run([uv, "--version"], capture_output=True, text=True, check=False).stdout
        if uv
        else "not installed"
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"pip {version('pip')}, {uv_version.strip()}, safe-pip {version('safe-pip')}, "
        f"index {index_url}"
    )


def _compile_safe_pip() -> None:
    """Give safe-pip its bytecode, as an install from its wheel would: a development
    install under PYTHONDONTWRITEBYTECODE would recompile every module on every run."""
    import safe_pip

    compileall.compile_dir(Path(safe_pip.__file__).parent, quiet=1)


def _ratio(samples: Samples, base: Samples | None, cpu: bool = False) -> str:
    if base is None:
        return "-"
    if cpu:
        return f"{samples.median_cpu / base.median_cpu:.2f}"
    return f"{samples.median / base.median:.2f}"


def _rows(set_name: str, mode: str, results: dict[str, Samples]) -> list[str]:
    pip, uv_bytecode = results.get("pip"), results.get("uv-bytecode")
    if mode == "noop":
        pip = results.get("safe-pip --version")
    rows = []
    for name, samples in results.items():
        stages = ", ".join(
            f"{stage} {statistics.median(values):.2f}" for stage, values in samples.stages.items()
        )
        rows.append(
            f"| {set_name} | {mode} | {name} | {samples.median:.2f} | {samples.median_cpu:.2f} "
            f"| {samples.peak_mib:.0f} | {_ratio(samples, pip)} | {_ratio(samples, uv_bytecode)} "
            f"| {_ratio(samples, pip, cpu=True)} | {stages} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sets", default="small,medium,large")
    parser.add_argument("--modes", default="cold,warm,noop")
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    parser.add_argument("--uv", default=shutil.which("uv"), help="uv to compare with")
    args = parser.parse_args()
    tools = _tools(args.index_url, args.uv)
    _compile_safe_pip()
    print(_header(args.index_url, args.uv))
    print()
    print(
        "| set | cache | tool | wall (s) | CPU (s) | peak MiB | wall/pip | wall/uv-bytecode "
        "| CPU/pip | safe-pip stages (median s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("(noop: wall/pip and CPU/pip are against `safe-pip --version`)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="safe-pip-bench-") as temp:
        for set_name in args.sets.split(","):
            for mode in args.modes.split(","):
                results = bench(SETS[set_name], mode, args.runs, tools, Path(temp))
                print("\n".join(_rows(set_name, mode, results)), flush=True)


if __name__ == "__main__":
    main()

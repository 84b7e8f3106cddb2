"""Time how long ``safe-pip install`` takes to restore the environment and exit after
Ctrl-C late in a large install.

A first, untimed install of the set primes safe-pip's cache and counts the distributions
it installs. Then each run installs the set into a fresh, empty virtual environment and,
once a share of those distributions is written (``--late``, four fifths by default: their
``.dist-info`` directories are there), sends SIGINT to safe-pip's process group, as
Ctrl-C in a terminal does. It reports the time from the signal to safe-pip's exit, its
exit status (130 expected), and whether the environment was left as it was (empty).
Needs the network.

Usage: python scripts/bench_interrupt.py [--runs N] [--set large] [--late 0.8]
       [--index-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import SETS, _compile_safe_pip, _environment, _fresh_venv, _header, _tools


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def _contents(venv: Path) -> set[Path]:
    return {path.relative_to(venv) for path in venv.rglob("*")}


def interrupt_once(command: list[str], env: dict[str, str], venv: Path, after: int) -> str:
    """Interrupt one install once ``after`` distributions are written; a result line."""
    before = _contents(venv)
    site = _site_packages(venv)
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    while len(list(site.glob("*.dist-info"))) < after:
        if process.poll() is not None:
            sys.exit(f"safe-pip ended before it was interrupted:\n{process.communicate()[1]}")
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGINT)
    interrupted = time.perf_counter()
    process.wait()
    took = time.perf_counter() - interrupted
    restored = _contents(venv) == before
    return f"restore and exit {took:.2f} s, exit status {process.returncode}, restored {restored}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--set", default="large", choices=sorted(SETS))
    parser.add_argument("--late", type=float, default=0.8)
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    args = parser.parse_args()
    requirements = SETS[args.set]
    safe_pip = _tools(args.index_url, None)["safe-pip"]
    _compile_safe_pip()
    print(_header(args.index_url, None))
    with tempfile.TemporaryDirectory(prefix="safe-pip-bench-") as temp:
        work = Path(temp)
        cache = work / "cache"
        env = _environment(cache)
        primed = _fresh_venv(work)
        subprocess.run(
            [*safe_pip(primed, cache), *requirements], env=env, check=True, capture_output=True
        )
        count = len(list(_site_packages(primed).glob("*.dist-info")))
        after = max(1, min(count - 1, round(count * args.late)))
        print(f"set {args.set}: {count} distributions; interrupted after {after}")
        for _ in range(args.runs):
            venv = _fresh_venv(work)
            command = [*safe_pip(venv, cache), *requirements]
            print(interrupt_once(command, env, venv, after), flush=True)


if __name__ == "__main__":
    main()

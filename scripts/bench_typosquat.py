"""Time the typosquat check: loading the top-project list, and checking 100 names.

The names are the worst case: none is on the list, so every kind of match runs for each.
Half are typos of popular names (one or two letters changed), half unrelated inventions.

Usage: python scripts/bench_typosquat.py [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import time

from safe_pip import typosquat


def sample_names(count: int = 100, seed: int = 2024) -> list[str]:
    """``count`` names off the list: typos of top-1,000 names and invented names."""
    rng = random.Random(seed)  # noqa: S311 - sample names, not secrets
    top = typosquat._index().names[:1000]
    listed = set(typosquat._index().names)
    names: list[str] = []
    while len(names) < count:
        if len(names) % 2:
            name = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 20)))
        else:
            name = _typo(rng, rng.choice(top))
            if rng.random() < 0.3:
                name = _typo(rng, name)
        if name not in listed and name not in names:
            names.append(name)
    return names


def _typo(rng: random.Random, name: str) -> str:
    at = rng.randrange(len(name))
    letter = rng.choice(string.ascii_lowercase)
    return rng.choice([name[:at] + name[at + 1 :], name[:at] + letter + name[at:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    loads = []
    for _ in range(runs):
        typosquat._index.cache_clear()
        start = time.perf_counter()
        typosquat._index()
        loads.append(time.perf_counter() - start)

    names = sample_names()
    checks = []
    for _ in range(runs):
        start = time.perf_counter()
        found = typosquat.check_names(names)
        checks.append(time.perf_counter() - start)

    print(
        f"load (read list, build index): median {statistics.median(loads) * 1000:.1f} ms, "
        f"best {min(loads) * 1000:.1f} ms"
    )
    print(
        f"check 100 names off the list:  median {statistics.median(checks) * 1000:.1f} ms, "
        f"best {min(checks) * 1000:.1f} ms ({len(found)} flagged)"
    )


if __name__ == "__main__":
    main()

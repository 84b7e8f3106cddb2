"""Time the first-seen review: the typosquat list's and the reference data's loads, 100
names checked, and the whole review (name and impostor checks) and approval decision of a
plan of 100 first-seen projects, warm and cold (both loads included); and the update
review of 20 updated projects (each new wheel's metadata and file listing read
and compared with the last approved release's), which must stay under 50 ms.

The names are the worst case: none is on the list, so every kind of match runs for each.
Half are typos of popular names (one or two letters changed), half unrelated inventions;
every other one names a top project's repository in its metadata. The review is what
``safe-pip install`` adds between resolving and fetching.

Usage: python scripts/bench_review.py [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.models import (
    DistKind,
    IndexFile,
    NameSet,
    Plan,
    PlannedDist,
    ProjectPage,
    ServedProject,
    SourceSpec,
)
from safe_pip.policy import reference, typosquat
from safe_pip.policy.review import decide, trust_review
from safe_pip.policy.trust import How, TrustedProject
from safe_pip.policy.update_review import profile_wheel, update_changes

_SOURCE = SourceSpec("pypi", "https://pypi.org/simple")


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


def first_seen_plan(
    names: list[str], now: datetime
) -> tuple[Plan, dict[NormalizedName, ServedProject]]:
    """A plan of one wheel per name, none of them approved, and the pages that served it."""
    dists: list[PlannedDist] = []
    served: dict[NormalizedName, ServedProject] = {}
    repos = sorted(reference.load().claims)
    for number, name in enumerate(names):
        project = canonicalize_name(name)
        wheel = IndexFile(
            f"{project}-1.0-py3-none-any.whl",
            f"https://files.example/{project}-1.0-py3-none-any.whl",
            project,
            Version("1.0"),
            DistKind.WHEEL,
            "0" * 64,
            upload_time=now - timedelta(days=3),
            size=12_345,
        )
        metadata: dict[str, object] = {"summary": "A project", "home_page": "https://example.org"}
        if number % 2:
            metadata["project_url"] = [f"Source, https://{repos[number % len(repos)]}"]
        dists.append(
            PlannedDist(project, wheel.version, wheel.kind, True, metadata, wheel, _SOURCE)
        )
        page = ProjectPage(project, _SOURCE, (wheel,))
        served[project] = ServedProject(page, (wheel,), ())
    return Plan(tuple(dists)), served


def review_once(plan: Plan, served: dict[NormalizedName, ServedProject], now: datetime) -> int:
    """The review and decision ``safe-pip install`` makes; the number of warnings."""
    facts = trust_review(plan, {}, served, now)
    decide(facts, flagged=NameSet(), settings=NameSet(), pins={})
    return sum(len(fact.warnings) for fact in facts)


def _update_wheel(directory: Path, name: str, version: str, members: int = 300) -> Path:
    """A wheel of ``members`` modules with dependencies, scripts and project URLs."""
    path = directory / f"{name}-{version}-py3-none-any.whl"
    dist_info = f"{name}-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {name}",
            f"Version: {version}",
            "Home-page: https://example.org",
            f"Project-URL: Source, https://github.com/example/{name}",
            *(f"Requires-Dist: dependency-{n}>=1" for n in range(8)),
        ]
    )
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(members):
            archive.writestr(f"{name}/module_{number}.py", "x = 1\n" * 50)
        archive.writestr(f"{dist_info}/METADATA", metadata + "\n\n")
        archive.writestr(
            f"{dist_info}/entry_points.txt", f"[console_scripts]\n{name} = {name}:main\n"
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return path


def update_review(paths: list[Path], known: dict[str, TrustedProject]) -> int:
    """Profile each new wheel and compare it with the release approved before it; the
    number of material changes."""
    changes = 0
    for path in paths:
        name = path.name.split("-", 1)[0]
        found = update_changes(known[name], Version("2.0"), profile_wheel(path))
        changes += len(found.material) if found else 0
    return changes


def _timed(runs: int, work: Callable[[], object]) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return seconds


def _line(label: str, seconds: list[float], note: str = "") -> None:
    median, best = statistics.median(seconds) * 1000, min(seconds) * 1000
    print(f"{label:<40} median {median:6.1f} ms, best {best:6.1f} ms{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    def load() -> None:
        typosquat._index.cache_clear()
        typosquat._index()

    def load_reference() -> None:
        reference.load.cache_clear()
        reference.load()

    _line("load (read list, build index):", _timed(runs, load))
    _line("load reference data:", _timed(runs, load_reference))
    names = sample_names()
    found = typosquat.check_names(names)
    _line(
        "check 100 names off the list:",
        _timed(runs, lambda: typosquat.check_names(names)),
        f" ({len(found)} flagged)",
    )
    now = datetime.now(UTC)
    plan, served = first_seen_plan(names, now)
    warnings = review_once(plan, served, now)
    _line(
        "review and decide 100 first-seen projects:",
        _timed(runs, lambda: review_once(plan, served, now)),
        f" ({warnings} warnings)",
    )

    def cold() -> None:
        typosquat._index.cache_clear()
        reference.load.cache_clear()
        review_once(plan, served, now)

    _line("the same, cold (both loads included):", _timed(runs, cold))
    with tempfile.TemporaryDirectory() as directory:
        paths, known = [], {}
        for number in range(20):
            name = f"updated{number}"
            old = profile_wheel(_update_wheel(Path(directory), name, "1.0"))
            known[name] = TrustedProject(
                canonicalize_name(name),
                "pypi",
                _SOURCE.url,
                now,
                How.PROMPT,
                {"1.0": {}},
                profiles={"1.0": old.to_record()},
            )
            paths.append(_update_wheel(Path(directory), name, "2.0"))
        seconds = _timed(runs, lambda: update_review(paths, known))
        _line("update review of 20 updated projects:", seconds, " (limit 50 ms)")
        if statistics.median(seconds) > 0.050:
            raise SystemExit("the update review is over its 50 ms budget")


if __name__ == "__main__":
    main()

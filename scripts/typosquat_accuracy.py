"""Measure the review's name and impostor checks: false alarms and catches.

False alarms: each of the 5,000 most-downloaded projects (all genuine) is checked as if it
were new (left out of the reference data), and a warning counts when it names a project
more popular than it, one it could be imitating (a new project is less popular than every
listed one): by name (typosquat), as a command or import name of another top project
(slopsquatting), and, for the projects the reference data describes, with its own
repositories in its metadata (starjacking). Every such warning is a false alarm.

Catches: each known malicious name in tests/data/malicious-names.txt (from published
reports, cited there) whose imitated project is on the list is checked as the review
checks a first-seen project; a catch is any warning, and the right target is counted too.

Precision is catches / (catches + false alarms); recall is catches / malicious names.

Usage: python scripts/typosquat_accuracy.py [--top N] [--show]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.policy import impostors, reference, typosquat

MALICIOUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "malicious-names.txt"


def malicious_names(path: Path = MALICIOUS) -> list[tuple[NormalizedName, NormalizedName]]:
    """(name, imitated project) pairs of the data file, comments left out."""
    rows = (line.split() for line in path.read_text(encoding="utf-8").splitlines())
    return [
        (canonicalize_name(row[0]), canonicalize_name(row[1]))
        for row in rows
        if row and not row[0].startswith("#")
    ]


class _Others:
    """The reference data as if one project were unknown."""

    def __init__(self) -> None:
        text = resources.files("safe_pip").joinpath("data", reference.DATA_FILE).read_text()
        self._document = json.loads(text)
        self._whole = reference.Reference.from_document(self._document)

    def repositories(self, name: str) -> list[str]:
        """The repositories the project's own metadata names."""
        entry: dict[str, list[str]] = self._document["projects"].get(name, {})
        return entry.get("r", [])

    def without(self, name: str) -> reference.Reference:
        """The reference data of every other project."""
        if name not in self._document["projects"]:
            return self._whole
        projects = {n: e for n, e in self._document["projects"].items() if n != name}
        return reference.Reference.from_document({**self._document, "projects": projects})


def genuine_alarms(top: int) -> Iterator[tuple[NormalizedName, str]]:
    """Each of the ``top`` names that a check would warn about if it were new, pointing at
    a more popular project (one it could be imitating)."""
    data = _Others()
    rank = typosquat._index().rank
    for name in typosquat._index().names[:top]:
        if (suspicion := typosquat.resembles_other(name)) is not None:
            yield name, f"name: {suspicion.reason}"
            continue
        urls = [f"Source, https://{repo}" for repo in data.repositories(name)]
        candidate = impostors.Candidate(name, {"project_url": urls}, None)
        found = impostors.check_impostors([candidate], data.without(name), lambda _: False)
        for impostor in found.get(name, ()):
            if rank.get(impostor.intended, top) < rank[name]:
                yield name, f"{impostor.kind.name.lower()}: {impostor.reason}"
                break


def catch(name: NormalizedName) -> NormalizedName | None:
    """The project the review would say ``name`` imitates, or ``None`` if it says nothing."""
    suspicion = typosquat.check_name(name)
    near = NormalizedName(suspicion.intended) if suspicion else None
    candidate = impostors.Candidate(name, {}, None, near)
    found = impostors.check_impostors([candidate], reference.load(), typosquat.is_listed)
    if near is not None:
        return near
    return found[name][0].intended if name in found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--top", type=int, default=5000, help="genuine names to check")
    parser.add_argument("--show", action="store_true", help="list every alarm and miss")
    args = parser.parse_args()

    alarms = list(genuine_alarms(args.top))
    listed = set(typosquat._index().names)
    targets = [(name, target) for name, target in malicious_names() if target in listed]
    caught = {name: catch(name) for name, _ in targets}
    hits = sum(1 for found in caught.values() if found is not None)
    right = sum(1 for name, target in targets if caught[name] == target)

    print(f"genuine names checked:   {args.top}")
    print(f"false alarms:            {len(alarms)} ({100 * len(alarms) / args.top:.2f} %)")
    print(f"known malicious names:   {len(targets)} (imitating a listed project)")
    print(f"caught:                  {hits} ({100 * hits / len(targets):.1f} % recall)")
    print(f"  naming the right one:  {right}")
    print(f"precision:               {100 * hits / (hits + len(alarms)):.1f} %")
    if args.show:
        for name, why in alarms:
            print(f"  alarm  {name}: {why}")
        for name, target in targets:
            if caught[name] != target:
                print(f"  missed {name} (imitates {target}; said {caught[name]})")


if __name__ == "__main__":
    main()

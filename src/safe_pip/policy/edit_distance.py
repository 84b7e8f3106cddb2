"""Near names: which of many names are within one or two edits of another, found quickly.

Edit distance is optimal string alignment (Levenshtein plus adjacent transpositions). The
search uses the pigeonhole principle instead of comparing against every name: if two names
are within ``k`` edits, one of ``k + 1`` pieces of the checked name appears unchanged in the
other, so ``str.find`` over one text per name length yields the few candidates whose
distance is then computed exactly. :mod:`safe_pip.policy.typosquat` decides which of the
near names count.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Bucket", "buckets", "differing", "distance", "near"]


@dataclass(frozen=True, slots=True)
class Bucket:
    """Every name of one length, one per line, in rank order."""

    text: str
    ranks: tuple[int, ...]
    two_edit: int
    """How many leading lines are searched for names two edits away."""


def buckets(names: Sequence[str], *, shortest: int, two_edit_top: int) -> dict[int, Bucket]:
    """The names of ``shortest`` letters or more by length; ``names[rank]`` has that rank,
    and only ranks below ``two_edit_top`` are searched for two edits."""
    by_length: dict[int, list[int]] = {}
    for rank, name in enumerate(names):
        if len(name) >= shortest:
            by_length.setdefault(len(name), []).append(rank)
    return {
        length: Bucket(
            text="\n" + "\n".join(names[rank] for rank in ranks) + "\n",
            ranks=tuple(ranks),
            two_edit=bisect.bisect_left(ranks, two_edit_top),
        )
        for length, ranks in by_length.items()
    }


def near(
    by_length: dict[int, Bucket], names: Sequence[str], name: str, edits: int, shortest: int
) -> Iterator[int]:
    """Ranks of the bucketed names exactly ``edits`` edits from ``name``, among those of
    ``shortest`` letters or more."""
    size = len(name)
    candidates: set[int] = set()
    for length in range(max(size - edits, shortest), size + edits + 1):
        if (bucket := by_length.get(length)) is not None:
            lines = len(bucket.ranks) if edits == 1 else bucket.two_edit
            candidates.update(_pigeonhole(bucket, length, lines, name, edits))
    for rank in candidates:
        if distance(name, names[rank], edits) == edits:
            yield rank


def _pigeonhole(bucket: Bucket, length: int, lines: int, name: str, edits: int) -> Iterator[int]:
    # Lines have one length, so a match's line and column are a division away.
    end = 1 + lines * (length + 1)
    for start, stop in _pieces(len(name), edits):
        piece = name[start:stop]
        # The first and last pieces are anchored to the line's ends; a middle one may have
        # moved by as many places as there are edits.
        if start == 0:
            needle, skip, lowest, highest = "\n" + piece, 1, 0, 0
        elif stop == len(name):
            needle, skip, lowest, highest = piece + "\n", 0, 0, length
        else:
            needle, skip, lowest, highest = piece, 0, start - edits, start + edits
        at = bucket.text.find(needle, 0, end)
        while at != -1:
            line, column = divmod(at + skip - 1, length + 1)
            if lowest <= column <= highest:
                yield bucket.ranks[line]
            at = bucket.text.find(needle, at + 1, end)


def _pieces(size: int, edits: int) -> Iterator[tuple[int, int]]:
    """``edits + 1`` pieces of a name of ``size``; at least one survives ``edits`` edits.

    A transposition across a boundary breaks two pieces, so the boundaries are also tried
    one place later: that covers every single edit, and every pair but two transpositions
    that each straddle a boundary in one of the two splits.
    """
    for shift in (0, 1):
        bounds = [size * part // (edits + 1) + shift for part in range(1, edits + 1)]
        edges = [0, *bounds, size]
        if all(left < right for left, right in itertools.pairwise(edges)):
            yield from itertools.pairwise(edges)


def distance(left: str, right: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions).

    Anything beyond ``limit`` is reported as ``limit + 1``: most candidates are far off, and
    stripping what the names share first leaves a tiny table for the near ones.
    """
    left, right = differing(left, right)
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    # Cells further than ``limit`` from the diagonal cost more than ``limit`` already, so
    # only a band is computed; ``beyond`` stands for every larger value.
    beyond = limit + 1
    before: list[int] = []
    previous = [min(j, beyond) for j in range(len(right) + 1)]
    for i, char in enumerate(left, 1):
        current = [min(i, beyond), *([beyond] * len(right))]
        for j in range(max(1, i - limit), min(len(right), i + limit) + 1):
            other = right[j - 1]
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == right[j - 2] and left[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)
            current[j] = min(cost, beyond)
        # A transposition reaches back two rows, so only two hopeless rows end the search.
        if min(current) == beyond == min(previous):
            return beyond
        before, previous = previous, current
    return previous[-1]


def differing(left: str, right: str) -> tuple[str, str]:
    """The two names without the prefix and suffix they share (which cost no edits)."""
    start, shortest = 0, min(len(left), len(right))
    while start < shortest and left[start] == right[start]:
        start += 1
    end = 0
    while end < shortest - start and left[-1 - end] == right[-1 - end]:
        end += 1
    return left[start : len(left) - end], right[start : len(right) - end]

"""Typosquat check: does a project name look like one of the most-downloaded PyPI projects?

Typosquatting is among the index's commonest attacks: a malicious project is published under
a near miss of a popular name (``reqeusts``, ``python-requests``, ``urllib4``) and waits for a
slip of the keyboard or of memory. The first-seen review warns about such names, naming the
project the user probably meant. The check is offline and pure: it compares against a list of
the most-downloaded projects shipped as package data (``scripts/refresh_top_packages.py``
updates it), loaded once per process.

Exact look-ups (separators, digits, look-alike characters, ``py``/``python`` affixes, word
order) use dictionaries keyed by a normalised form. Edit distance uses the pigeonhole
principle instead of comparing against every name: if two names are within ``k`` edits, one
of ``k + 1`` pieces of the checked name appears unchanged in the other, so ``str.find`` over
one text per name length yields the few candidates whose distance is then computed exactly.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import cast

from packaging.utils import NormalizedName, canonicalize_name

__all__ = ["Suspicion", "check_name", "check_names"]

_DATA_FILE = "top-pypi-packages.txt"

# Folding for look-alike characters: digits 0/1 and the letters i (an upper-case I once
# lower-cased) and l collapse, separators vanish, and the digits left are dropped so that
# ``requests2`` and ``urllib4`` meet ``requests`` and ``urllib3``. Pairs of letters that
# render as one (rn/m, vv/w) are replaced after the single characters.
_FOLD = str.maketrans("01i", "oll", "-23456789")
_FOLD_PAIRS = (("rn", "m"), ("vv", "w"))
_DIGITS = str.maketrans("", "", "0123456789")
_AFFIXES = ("python", "py")

# The thresholds below were chosen by checking the projects ranked 10,001 to 14,985 (real,
# legitimate projects) against the top 10,000, to see how often an honest name is flagged:
# 3.9 % of them are, with these values, almost all names that do invite a second look.
#
# Below four folded characters almost every name meets another ("pep562" folds to "pep",
# like "pep8"), so look-alike, digit and affix matches need at least this many.
_MIN_FOLDED = 4
# Separators, look-alike characters and word order are rarely innocent, so any listed name
# attracts them. Other resemblances are often honest (fabric/fabric2, serial/pyserial,
# docker/mocker), so only the top 5,000, the squatters' targets, attract them.
_POPULAR = 5000
# One edit from a name of four letters or fewer is another word more often than a typo
# (attr/attrs, six/sip): only names of five letters or more (separators not counted)
# attract one-edit matches. With the whole list, 4.8 % of the honest names were one edit
# from some top name; with the top 5,000, 2.9 %.
_ONE_EDIT_MIN = 5
# Two edits turn most names into another word (pydgraph/pyqtgraph, django-etc/django-otp):
# the top 5,000 with eight letters or more flagged 3.4 % of the honest names by two edits
# alone; the top 1,000 with ten letters or more, 0.3 %, while still catching a careless
# "beatifulsop4" or "sckit-lean".
_TWO_EDIT_MIN = 10
_TWO_EDIT_TOP = 1000
# Permutations grow factorially; names of more than four words are rare and are not squatted
# by reordering.
_MAX_WORDS = 4


@dataclass(frozen=True, slots=True)
class Suspicion:
    """A checked name that resembles a popular project it is not."""

    name: NormalizedName
    intended: NormalizedName
    reason: str


@dataclass(frozen=True, slots=True)
class _Bucket:
    """Every top name of one length (separators removed), one per line, in rank order."""

    text: str
    ranks: tuple[int, ...]
    two_edit: int  # how many leading lines are within _TWO_EDIT_TOP


@dataclass(frozen=True, slots=True)
class _Index:
    """The top names (rank 0 is the most downloaded) and the look-ups built from them."""

    names: tuple[NormalizedName, ...]
    rank: dict[str, int]
    compact: tuple[str, ...]
    by_compact: dict[str, int]
    by_folded: dict[str, int]
    buckets: dict[int, _Bucket]


def check_name(name: str) -> Suspicion | None:
    """Whether ``name`` resembles one of the most-downloaded projects without being one.

    :param name: a project name, in any spelling (it is canonicalized first).
    :returns: the resemblance, naming the likely intended project, or ``None`` when the
        name is itself a top project or resembles none.
    """
    return _check(_index(), canonicalize_name(name))


def check_names(names: Iterable[str]) -> dict[NormalizedName, Suspicion]:
    """:func:`check_name` for many names: the suspicious ones, by canonical name."""
    index = _index()
    found: dict[NormalizedName, Suspicion] = {}
    for canonical in dict.fromkeys(canonicalize_name(name) for name in names):
        if (suspicion := _check(index, canonical)) is not None:
            found[canonical] = suspicion
    return found


@functools.cache
def _index() -> _Index:
    text = resources.files("safe_pip").joinpath("data", _DATA_FILE).read_text("utf-8")
    # The refresh script writes canonical names, one per line; tests hold it to that.
    return _build(cast("list[NormalizedName]", text.split()))


def _build(names: list[NormalizedName]) -> _Index:
    # Whole-list string operations run in C: one translate over the joined list is far
    # cheaper than a Python call per name.
    joined = "\n".join(names)
    compact = joined.replace("-", "").split("\n")
    folded = _fold_pairs(joined.translate(_FOLD)).split("\n")
    return _Index(
        names=tuple(names),
        rank=dict(zip(names, itertools.count(), strict=False)),
        compact=tuple(compact),
        by_compact=_best(compact),
        by_folded=_best(folded),
        buckets=_buckets(compact),
    )


def _best(keys: list[str]) -> dict[str, int]:
    # Inserting from the least popular up leaves each key with its most popular name.
    return dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))


def _buckets(compact: list[str]) -> dict[int, _Bucket]:
    by_length: dict[int, list[int]] = {}
    for rank, name in enumerate(compact[:_POPULAR]):
        if len(name) >= _ONE_EDIT_MIN:
            by_length.setdefault(len(name), []).append(rank)
    return {
        length: _Bucket(
            text="\n" + "\n".join(compact[rank] for rank in ranks) + "\n",
            ranks=tuple(ranks),
            two_edit=bisect.bisect_left(ranks, _TWO_EDIT_TOP),
        )
        for length, ranks in by_length.items()
    }


def _fold(name: str) -> str:
    return _fold_pairs(name.translate(_FOLD))


def _fold_pairs(text: str) -> str:
    for pair, single in _FOLD_PAIRS:
        text = text.replace(pair, single)
    return text


def _check(index: _Index, name: NormalizedName) -> Suspicion | None:
    if name in index.rank:
        return None
    # A closer resemblance says more about what was meant than popularity does, so each
    # kind of match is tried from the closest; popularity decides within one.
    for matches in (_exact_matches, _one_edit_matches, _two_edit_matches):
        best = min(matches(index, name), key=operator.itemgetter(0), default=None)
        if best is not None:
            rank, reason = best
            intended = index.names[rank]
            return Suspicion(name=name, intended=intended, reason=reason.format(f"'{intended}'"))
    return None


def _exact_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    compact = name.replace("-", "")
    if (rank := index.by_compact.get(compact)) is not None:
        yield rank, "differs from {} only in separators"
    folded = _fold(name)
    if len(folded) >= _MIN_FOLDED and (rank := index.by_folded.get(folded)) is not None:
        if _drop_digits(compact) != _drop_digits(index.compact[rank]):
            yield rank, "uses look-alike characters for {}"
        elif rank < _POPULAR:
            yield rank, "differs from {} only in digits"
    for words in _reorderings(name):
        if (rank := index.rank.get(words)) is not None:
            yield rank, "has the words of {} in another order"
    for form in _affix_forms(compact):
        if (rank := index.by_compact.get(form, _POPULAR)) < _POPULAR:
            yield rank, "is {} with a 'py' or 'python' affix added or removed"


def _drop_digits(name: str) -> str:
    return name.translate(_DIGITS)


def _affix_forms(compact: str) -> Iterator[str]:
    """``compact`` with a ``py``/``python`` prefix or suffix removed, added, or both."""
    cores = {compact}
    for affix in _AFFIXES:
        cores.add(compact.removeprefix(affix))
        cores.add(compact.removesuffix(affix))
    for core in cores:
        if len(core) < _MIN_FOLDED:
            continue
        if core != compact:
            yield core
        for affix in _AFFIXES:
            yield from {affix + core, core + affix} - {compact}


def _reorderings(name: NormalizedName) -> Iterator[str]:
    words = name.split("-")
    if 1 < len(words) <= _MAX_WORDS:
        for order in itertools.permutations(words):
            if (joined := "-".join(order)) != name:
                yield joined


def _one_edit_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    for rank in _near(index, name.replace("-", ""), 1):
        yield rank, "one letter away from {}"


def _two_edit_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    for rank in _near(index, name.replace("-", ""), 2):
        yield rank, "two letters away from {}"


def _near(index: _Index, name: str, edits: int) -> Iterator[int]:
    """Ranks of the top names exactly ``edits`` edits from ``name`` (all compact)."""
    shortest = _ONE_EDIT_MIN if edits == 1 else _TWO_EDIT_MIN
    size = len(name)
    candidates: set[int] = set()
    for length in range(max(size - edits, shortest), size + edits + 1):
        if (bucket := index.buckets.get(length)) is not None:
            lines = len(bucket.ranks) if edits == 1 else bucket.two_edit
            candidates.update(_pigeonhole(bucket, length, lines, name, edits))
    for rank in candidates:
        if _distance(name, index.compact[rank], edits) == edits:
            yield rank


def _pigeonhole(bucket: _Bucket, length: int, lines: int, name: str, edits: int) -> Iterator[int]:
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


def _distance(left: str, right: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions).

    Anything beyond ``limit`` is reported as ``limit + 1``: most candidates are far off, and
    stripping what the names share first leaves a tiny table for the near ones.
    """
    left, right = _differing(left, right)
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


def _differing(left: str, right: str) -> tuple[str, str]:
    """The two names without the prefix and suffix they share (which cost no edits)."""
    start, shortest = 0, min(len(left), len(right))
    while start < shortest and left[start] == right[start]:
        start += 1
    end = 0
    while end < shortest - start and left[-1 - end] == right[-1 - end]:
        end += 1
    return left[start : len(left) - end], right[start : len(right) - end]

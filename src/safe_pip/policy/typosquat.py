"""Typosquat check: does a project name look like one of the most-downloaded PyPI projects?

Typosquatting is among the index's commonest attacks: a malicious project is published under
a near miss of a popular name (``reqeusts``, ``python-requests``, ``urllib4``) and waits for a
slip of the keyboard or of memory. The first-seen review warns about such names, naming the
project the user probably meant. The check is offline and pure: it compares against a list of
the most-downloaded projects shipped as package data (``scripts/refresh_top_packages.py``
updates it), loaded once per process.

Exact look-ups (separators, digits, look-alike characters, ``py``/``python`` affixes, word
order) use dictionaries keyed by a normalised form. An affix (``py``, ``python``, or a word
before or after a dash) together with a typo is caught by stripping the affix and looking
for one edit from a popular name (``pyreqests``, ``reqeusts-utils``). Names within one or
two edits are found by :mod:`safe_pip.policy.edit_distance`; which of them count is decided
here.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import cast

from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.policy.edit_distance import Bucket, buckets, differing, near

__all__ = ["Suspicion", "check_name", "check_names", "is_listed", "resembles_other"]

_DATA_FILE = "top-pypi-packages.txt"

# Folding for look-alike characters: the digits 0 and 1 become o and l, separators vanish,
# and the digits left are dropped so that ``requests2`` and ``urllib4`` meet ``requests``
# and ``urllib3``. Pairs of letters that render as one (rn/m, vv/w) are replaced after the
# single characters. The letters i and l are not folded: lower-case, as names are compared,
# they differ, and folding them flagged honest pairs such as pytest-mpi and pytest-mpl; an
# i for an l in a popular name of five letters or more is still one edit away.
_FOLD = str.maketrans("01", "ol", "-23456789")
_FOLD_PAIRS = (("rn", "m"), ("vv", "w"))
_DIGITS = str.maketrans("", "", "0123456789")
_AFFIXES = ("python", "py")

# The thresholds below were chosen with scripts/typosquat_accuracy.py: each of the top 5,000
# (real, legitimate projects) checked as if it were new against the projects more popular
# than it, and the known typosquats of tests/data/malicious-names.txt. Squatters aim at the
# very top of the list and rely on slips of the fingers; honest projects that resemble a
# more popular one differ in the shapes that families and editions take. With these values
# 0.32 % of the honest names are flagged by name, and 92 % of the known typosquats.
#
# Below four folded characters almost every name meets another ("pep562" folds to "pep",
# like "pep8"), so look-alike, digit and affix matches need at least this many.
_MIN_FOLDED = 4
# Look-alike characters are rarely innocent, so any listed name attracts them. Other
# resemblances are often honest (fabric/fabric2, serial/pyserial, docker/mocker), so only
# the top 5,000, the squatters' targets, attract them, most only the top few hundred.
_POPULAR = 5000
# One edit from a name of four letters or fewer is another word more often than a typo
# (attr/attrs, six/sip): only names of five letters or more (separators not counted)
# attract one-edit matches.
_ONE_EDIT_MIN = 5
# How far down the list each kind of one-letter slip reaches (see _reach): a swap, a doubled
# letter, a neighbouring key, a look-alike or a plural reach the whole top 5,000; any other
# changed, added or dropped letter makes another project's name too often (pymssql, jiwer,
# scrapy) and reaches only the most popular.
_NEIGHBOUR_TOP = 100
_CHANGED_TOP = 90
_ADDED_TOP = 700
_DROPPED_TOP = 200
# Two edits turn most names into another word (pydgraph/pyqtgraph, django-etc/django-otp):
# only names of eight letters or more among the top 10 attract them (requesxt, botoceor).
_TWO_EDIT_MIN = 8
_TWO_EDIT_TOP = 10
# Digits, separators, affixes and word order reach only the names squatters aim at: a name
# with other digits is often another edition (nest-asyncio2), other separators another
# project (googleads, google-ads), an affix bindings (docker-py), a reordering a sibling
# (python-jsonpath). A prefix reaches further than a suffix: python-flask poses as flask.
_DIGITS_TOP = 100
_SEPARATED_TOP = 200
_PREFIX_TOP = 200
_SUFFIX_TOP = 100
_REORDERED_TOP = 500
# The most popular names of all are every squatter's target: any one-letter slip of them is
# suspicious, whatever its shape (arequests, requestsx).
_FAVOURITES = 20
# A word this short that differs between two names of one family names another member
# (mypy-boto3-ecs, mypy-boto3-ecr), not a slip.
_FAMILY_WORD = 4
# A letter added at the end of a name shorter than this is a variant (tomli, wandb); of a
# longer one, a slip (matplotlibp, python-dateuti).
_SUFFIXED_MAX = 8
# Permutations grow factorially; names of more than four words are rare and are not squatted
# by reordering.
_MAX_WORDS = 4
# An affix and a typo together (pyreqests): the name without its py/python affix must be
# one slip from one of the top 100 and keep six letters or more.
_AFFIX_TYPO_MIN = 6
_AFFIX_TYPO_TOP = 100


def _keyboard() -> frozenset[tuple[str, str]]:
    """Pairs of keys next to each other on a QWERTY keyboard (rows staggered as they are)."""
    rows = (("1234567890", 0.0), ("qwertyuiop", 0.5), ("asdfghjkl", 0.75), ("zxcvbnm", 1.25))
    places = {
        key: (row, offset + column)
        for row, (keys, offset) in enumerate(rows)
        for column, key in enumerate(keys)
    }
    return frozenset(
        (one, other)
        for one, (row, column) in places.items()
        for other, (row2, column2) in places.items()
        if one != other and abs(row - row2) <= 1 and abs(column - column2) <= 1
    )


_NEIGHBOURS = _keyboard()
# Letters and digits that look alike in the fonts names are read in.
_LOOK_ALIKE = frozenset({frozenset("il"), frozenset("l1"), frozenset("i1"), frozenset("o0")})


@dataclass(frozen=True, slots=True)
class Suspicion:
    """A checked name that resembles a popular project it is not."""

    name: NormalizedName
    intended: NormalizedName
    reason: str


@dataclass(frozen=True, slots=True)
class _Index:
    """The top names (rank 0 is the most downloaded) and the look-ups built from them."""

    names: tuple[NormalizedName, ...]
    rank: dict[str, int]
    compact: tuple[str, ...]
    by_compact: dict[str, int]
    by_folded: dict[str, int]
    buckets: dict[int, Bucket]
    """The top names (separators removed) searched for one and two edits."""


def check_name(name: str) -> Suspicion | None:
    """Whether ``name`` resembles one of the most-downloaded projects without being one.

    :param name: a project name, in any spelling (it is canonicalized first).
    :returns: the resemblance, naming the likely intended project, or ``None`` when the
        name is itself a top project or resembles none.
    """
    return _check(_index(), canonicalize_name(name))


def is_listed(name: str) -> bool:
    """Whether ``name`` is one of the most-downloaded projects (any spelling)."""
    return canonicalize_name(name) in _index().rank


def resembles_other(name: str) -> Suspicion | None:
    """:func:`check_name` of a listed name as if it were new, against the projects more
    popular than it: the ones it could be imitating. For measuring false alarms among
    genuine projects (``scripts/typosquat_accuracy.py``)."""
    canonical = canonicalize_name(name)
    index = _index()
    return _check(index, canonical, index.rank.get(canonical, len(index.names)))


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
        buckets=buckets(compact[:_POPULAR], shortest=_ONE_EDIT_MIN, two_edit_top=_TWO_EDIT_TOP),
    )


def _best(keys: list[str]) -> dict[str, int]:
    # Inserting from the least popular up leaves each key with its most popular name.
    return dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))


def _fold(name: str) -> str:
    return _fold_pairs(name.translate(_FOLD))


def _fold_pairs(text: str) -> str:
    for pair, single in _FOLD_PAIRS:
        text = text.replace(pair, single)
    return text


def _check(index: _Index, name: NormalizedName, above: int | None = None) -> Suspicion | None:
    """``above``: compare with the names ranked above this only (a listed name's own rank,
    to check it as if it were new against the projects it could imitate)."""
    if above is None:
        if name in index.rank:
            return None
        above = len(index.names)
    # A closer resemblance says more about what was meant than popularity does, so each
    # kind of match is tried from the closest; popularity decides within one.
    kinds = (_exact_matches, _one_edit_matches, _affix_typo_matches, _two_edit_matches)
    for matches in kinds:
        found = (match for match in matches(index, name) if match[0] < above)
        best = min(found, key=operator.itemgetter(0), default=None)
        if best is not None:
            rank, reason = best
            intended = index.names[rank]
            return Suspicion(name=name, intended=intended, reason=reason.format(f"'{intended}'"))
    return None


def _exact_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    compact = name.replace("-", "")
    if (rank := index.by_compact.get(compact, _SEPARATED_TOP)) < _SEPARATED_TOP:
        yield rank, "differs from {} only in separators"
    folded = _fold(name)
    if len(folded) >= _MIN_FOLDED and (alike := index.by_folded.get(folded)) is not None:
        if _drop_digits(compact) != _drop_digits(index.compact[alike]):
            yield alike, "uses look-alike characters for {}"
        elif alike < _DIGITS_TOP and len(compact) >= len(index.compact[alike]):
            # Digits added or changed (requests2, urllib4); a name with fewer digits is
            # usually the older project (boto for boto3, psycopg for psycopg2).
            yield alike, "differs from {} only in digits"
    for words in _reorderings(name):
        if (rank := index.rank.get(words, _REORDERED_TOP)) < _REORDERED_TOP:
            yield rank, "has the words of {} in another order"
    for core, affix, reach in _cores(name):
        if len(core) < _MIN_FOLDED:
            continue
        # An affix added (python-flask) or exchanged (python-yaml); not one dropped: the
        # popular project is usually the one with the affix (python-dotenv, pyarrow), the
        # shorter name an older or unrelated one.
        if (rank := index.by_compact.get(core, reach)) < reach:
            yield rank, f"is {{}} with {affix}"
        for other in _AFFIXES:
            if (
                rank := index.by_compact.get(other + core, reach)
            ) < reach and other + core != compact:
                yield rank, "is {} with another 'py' or 'python' affix"


def _drop_digits(name: str) -> str:
    return name.translate(_DIGITS)


def _reorderings(name: NormalizedName) -> Iterator[str]:
    words = name.split("-")
    if 1 < len(words) <= _MAX_WORDS:
        for order in itertools.permutations(words):
            if (joined := "-".join(order)) != name:
                yield joined


def _one_edit_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    compact = name.replace("-", "")
    for rank in _near(index, compact, 1):
        target = index.compact[rank]
        # A digit added, dropped or changed names an edition (boto3, markdown2, rfc3987).
        edition = "".join(differing(compact, target)).isdigit()
        if (
            rank < _reach(compact, target)
            and not edition
            and (rank < _FAVOURITES or not _variant(name, index.names[rank]))
        ):
            yield rank, _one_edit_reason(compact, target)


def _one_edit_reason(name: str, target: str) -> str:
    if len(name) == len(target) and frozenset("".join(differing(name, target))) in _LOOK_ALIKE:
        return "uses look-alike characters for {}"
    return "one letter away from {}"


def _reach(name: str, target: str) -> int:
    """How popular a name one edit from ``name`` must be (its rank below this) for the
    edit to count as a slip of the keyboard rather than another name.

    Slips of the fingers (two letters swapped, a letter doubled, a neighbouring key) and
    look-alike letters reach far down the list; any other letter changed, added or dropped
    turns most names into another project's name (pymssql, jiwer, scrapy), so only the most
    popular names, the squatters' favourite targets, attract those.
    """
    if len(name) == len(target):
        mine, theirs = differing(name, target)
        if len(mine) == 2 or frozenset(mine + theirs) in _LOOK_ALIKE:
            return _POPULAR
        return _NEIGHBOUR_TOP if (mine, theirs) in _NEIGHBOURS else _CHANGED_TOP
    longer, shorter = (name, target) if len(name) > len(target) else (target, name)
    at = next(
        (i for i, (a, b) in enumerate(zip(longer, shorter, strict=False)) if a != b), len(shorter)
    )
    letter, around = longer[at], longer[max(at - 1, 0) : at] + longer[at + 1 : at + 2]
    if letter in around or any((letter, other) in _NEIGHBOURS for other in around):
        return _POPULAR
    if name == target + "s":  # a plural: sklearns, torchvisions
        return _POPULAR
    return _ADDED_TOP if longer is name else _DROPPED_TOP


def _variant(name: str, target: str) -> bool:
    """Whether a one-edit difference has the shape of a related project's name, not a slip.

    Measured on the top 5,000 (scripts/typosquat_accuracy.py), genuine projects one edit
    from a more popular one mostly differ in one of these ways, which the known typosquats
    seldom use: a letter added or dropped at the start (cchardet, ujson, rjsmin) or at the
    end of a short name, other than a plural s or a doubled letter (tomli, wandb), and an x
    at the end of any (pycryptodomex); another short word among the same others
    (mypy-boto3-ecs, google-adk), unless its letters are only swapped inside the name
    (sphinx-rdt-theme); a one-letter word added (tomli-w, x-transformers).
    """
    left, right = name.replace("-", ""), target.replace("-", "")
    longer, shorter = (left, right) if len(left) > len(right) else (right, left)
    if longer[1:] == shorter:
        return True
    if longer[:-1] == shorter and longer[-1] == "x":
        return True  # an extended edition (pycryptodomex, tensorboardx)
    if longer[:-1] == shorter and len(shorter) < _SUFFIXED_MAX:
        return longer[-1] not in "s" + shorter[-1]
    words, others = name.split("-"), target.split("-")
    if len(words) == len(others) > 1:
        changed = [(a, b) for a, b in zip(words, others, strict=True) if a != b]
        last = changed[-1:] == [(words[-1], others[-1])]
        if len(changed) == 1 and (last or sorted(changed[0][0]) != sorted(changed[0][1])):
            word, other = changed[0]
            plural = word in (other + "s", other[:-1])
            return not plural and min(len(word), len(other)) <= _FAMILY_WORD
    return _word_added(name, target)


def _word_added(name: str, target: str) -> bool:
    """Whether one of the names is the other with a word of one or two letters added."""
    words, others = name.split("-"), target.split("-")
    longer, fewer = (words, others) if len(words) > len(others) else (others, words)
    return len(longer) == len(fewer) + 1 and any(
        len(word) <= 2 and longer[:i] + longer[i + 1 :] == fewer for i, word in enumerate(longer)
    )


def _affix_typo_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    for core, affix, _ in _cores(name):
        if len(core) >= _AFFIX_TYPO_MIN:
            for rank in _near(index, core, 1):
                target = index.compact[rank]
                if rank < min(_AFFIX_TYPO_TOP, _reach(core, target)) and not _variant(core, target):
                    yield rank, f"is {{}} misspelt, with {affix}"


def _cores(name: NormalizedName) -> Iterator[tuple[str, str, int]]:
    """The compact name without a ``py``/``python`` prefix (and a version: ``python3-``)
    or suffix, each with how popular the bare name must be to count.

    A prefix reaches further: ``python-flask`` poses as flask, while a suffix is also how
    projects name their Python bindings or older editions (docker-py, msgpack-python).
    """
    compact = name.replace("-", "")
    for affix in _AFFIXES:
        if compact.startswith(affix):
            core = compact.removeprefix(affix).lstrip("0123456789")
            yield core, f"'{compact[: len(compact) - len(core)]}' added before it", _PREFIX_TOP
        if compact.endswith(affix):
            yield compact.removesuffix(affix), f"'{affix}' added after it", _SUFFIX_TOP


def _two_edit_matches(index: _Index, name: NormalizedName) -> Iterator[tuple[int, str]]:
    compact = name.replace("-", "")
    for rank in _near(index, compact, 2):
        # A new start (niquests, segments) or a short word added (pydantic-ai) makes
        # another project's name; a slip keeps the start.
        target = index.names[rank]
        if compact[:2] == index.compact[rank][:2] and not _word_added(name, target):
            yield rank, "two letters away from {}"


def _near(index: _Index, name: str, edits: int) -> Iterator[int]:
    """Ranks of the top names exactly ``edits`` edits from ``name`` (all compact)."""
    shortest = _ONE_EDIT_MIN if edits == 1 else _TWO_EDIT_MIN
    return near(index.buckets, index.compact, name, edits, shortest)

"""The cooldown: how old a release must be, from the flags, the settings and the default,
and the releases exempted from it by ``--trust NAME==VERSION`` or ``allow-new``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from safe_pip.errors import UsageError
from safe_pip.gateway.cooldown import FilePolicy
from safe_pip.policy.trust import parse_exemption
from safe_pip.settings.limits import checked_days

if TYPE_CHECKING:
    from safe_pip.models import Exemption, NameSet

__all__ = [
    "DEFAULT_MIN_RELEASE_AGE",
    "cooldown_policy",
    "min_release_age",
    "release_cutoff",
    "split_trust",
]

DEFAULT_MIN_RELEASE_AGE = 7.0
"""The cooldown, in days: hijacked releases are usually found and removed within it
(``--min-release-age 0`` turns it off)."""
_DURATION_RE = re.compile(r"^P(\d+)D$", re.IGNORECASE)


def min_release_age(
    flag: float | None, setting: float | None, *, hash_locked: bool
) -> float | None:
    """The cooldown in days: the flag, else the setting, else 7 days, except for a
    hash-locked install (``--require-hashes`` or ``--hash`` pins), whose lock was the review."""
    if flag is not None:
        return flag
    if setting is not None:
        return setting
    return None if hash_locked else DEFAULT_MIN_RELEASE_AGE


def release_cutoff(
    min_release_age: float | None, uploaded_prior_to: str | None, now: datetime
) -> datetime | None:
    """The newest upload time a file may have; the stricter of the two options wins.

    :raises UsageError: ``--uploaded-prior-to`` is neither ISO 8601 nor ``P<n>D``, or
        either option is not a number of days from 0 to a hundred years.
    """
    cutoffs = []
    if min_release_age is not None:
        checked_days(min_release_age, "--min-release-age")
    if min_release_age:
        cutoffs.append(now - timedelta(days=min_release_age))
    if uploaded_prior_to:
        match = _DURATION_RE.match(uploaded_prior_to.strip())
        if match:
            # float(), unlike int(), takes any number of digits (too many: inf, refused).
            days = float(match.group(1))
            checked_days(days, "--uploaded-prior-to", shown=uploaded_prior_to)
            cutoffs.append(now - timedelta(days=days))
        else:
            try:
                moment = datetime.fromisoformat(uploaded_prior_to.strip())
                # A naive time is local; at the ends of the calendar it has no UTC time.
                cutoffs.append(moment if moment.tzinfo else moment.astimezone())
            except (ValueError, OverflowError) as exc:
                msg = (
                    f"--uploaded-prior-to {uploaded_prior_to!r}: expected an ISO 8601 "
                    f"datetime or a duration like P3D"
                )
                raise UsageError(msg) from exc
    return min(cutoffs) if cutoffs else None


def cooldown_policy(
    allow_sdist: NameSet,
    *,
    age_flag: float | None,
    age_setting: float | None,
    uploaded_prior_to: str | None,
    hash_locked: bool,
    exemptions: Sequence[Exemption],
    now: datetime,
) -> FilePolicy:
    """The gateway's file policy: the cooldown (:func:`min_release_age`), and the
    exemptions from it, those past their last day set apart to be reported.

    :raises UsageError: ``--uploaded-prior-to`` is malformed.
    """
    age = min_release_age(age_flag, age_setting, hash_locked=hash_locked)
    today = now.date()
    return FilePolicy(
        allow_sdist=allow_sdist,
        cutoff=release_cutoff(age, uploaded_prior_to, now),
        min_release_age=age,
        exemptions=tuple(e for e in exemptions if not e.expired(today)),
        expired=tuple(e for e in exemptions if e.expired(today)),
    )


def split_trust(values: Sequence[str]) -> tuple[list[str], list[Exemption]]:
    """``--trust`` values as project names, and an exemption from the cooldown for each
    ``NAME==VERSION`` (naming the release is the reason).

    :raises UsageError: a ``NAME==VERSION`` with no valid version.
    """
    names: list[str] = []
    exemptions: list[Exemption] = []
    for part in (part.strip() for value in values for part in value.split(",")):
        if "==" in part:
            try:
                exemption = parse_exemption(part, "named with --trust", None, "--trust")
            except ValueError as exc:
                msg = f"--trust {part}: {exc}"
                raise UsageError(msg) from exc
            exemptions.append(exemption)
            part = exemption.name
        names.append(part)
    return names, exemptions

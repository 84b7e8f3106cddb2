"""The numbers a setting or a flag may give: days from 0 to a hundred years, a network
timeout of at most a day, retries that are not negative."""

from __future__ import annotations

import math

from safe_pip.errors import UsageError

__all__ = ["checked_days", "checked_network", "parsed_days"]

_MAX_DAYS = 36525.0
"""A hundred years: more than any cooldown or cache age means, and far enough from what a
date can hold (year 1) that subtracting it from today never overflows."""
_MAX_TIMEOUT = 86400.0
"""A day: any longer network timeout is a mistake (and ``inf`` overflows a socket's)."""


def parsed_days(raw: object, what: str) -> float:
    """A number of days as a setting gives it (a TOML number, or text from a variable).

    :raises UsageError: not a number, or one that is negative, not finite (``nan`` would
        compare false with every age and turn the check off) or beyond any sane age.
    """
    days = -1.0
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        try:
            days = float(raw)
        except (ValueError, OverflowError):
            days = -1.0
    return checked_days(days, what, shown=raw)


def checked_days(days: float, what: str, *, shown: object = None) -> float:
    """``days`` if it is a usable number of days: from 0 to a hundred years.

    :raises UsageError: naming ``what`` (the setting or the flag), for any other value.
    """
    if not (math.isfinite(days) and 0 <= days <= _MAX_DAYS):
        value = days if shown is None else shown
        msg = f"{what} must be a number of days from 0 to {_MAX_DAYS:g}, not {value!r}"
        raise UsageError(msg)
    return days


def checked_network(timeout: float, retries: int) -> tuple[float, int]:
    """``--timeout`` and ``--retries`` (or pip's configuration of them) if usable: a
    timeout of more than 0 seconds and at most a day (``nan``, ``inf`` or a negative one
    fail deep in a socket), and a count of retries that is not negative.

    :raises UsageError: naming the option, for any other value.
    """
    if not (math.isfinite(timeout) and 0 < timeout <= _MAX_TIMEOUT):
        msg = f"--timeout must be more than 0 and at most {_MAX_TIMEOUT:g} seconds, not {timeout:g}"
        raise UsageError(msg)
    if retries < 0:
        msg = f"--retries must be 0 or more, not {retries}"
        raise UsageError(msg)
    return timeout, retries

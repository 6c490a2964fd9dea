"""Simulated time: durations like ``60d`` or ``1h30m`` and fault times given as offsets.

Fleet files and the command line speak in human durations; the engine works in
aware UTC datetimes and integer nanoseconds. This module converts between them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from prognos.simulators.errors import ScheduleError

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d|w)")


def parse_duration_s(text: str | float | int) -> float:
    """Seconds in a duration such as ``90``, ``60s``, ``15m``, ``1h30m``, ``60d`` or ``2w``.

    >>> parse_duration_s("1h30m")
    5400.0
    """
    if isinstance(text, bool):
        raise ScheduleError("a duration must be a number of seconds or text like '60d', not a bool")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower().replace(" ", "")
        if not raw:
            raise ScheduleError("a duration is empty; use e.g. '60s', '15m', '12h' or '60d'")
        try:
            seconds = float(raw)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(raw):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
                pos = match.end()
            if pos != len(raw) or pos == 0:
                raise ScheduleError(
                    f"duration {text!r} is not understood; use e.g. '60s', '15m', '1h30m', '60d'"
                ) from None
    if seconds < 0 or seconds != seconds:
        raise ScheduleError(f"duration {text!r} must not be negative")
    return seconds


def parse_instant(text: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO-8601 text (naive times are taken as UTC)."""
    if isinstance(text, datetime):
        parsed = text
    else:
        try:
            parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ScheduleError(f"time {text!r} is not an ISO-8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_when(text: str | datetime | int | float) -> datetime | timedelta:
    """A fault time: an absolute ISO timestamp, or an offset from the simulation start.

    >>> parse_when("2d")
    datetime.timedelta(days=2)
    """
    if isinstance(text, datetime):
        return parse_instant(text)
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=parse_duration_s(text))
    raw = str(text).strip()
    if re.fullmatch(r"[\d.]+(ms|min|s|m|h|d|w)?([\d.]+(ms|min|s|m|h|d|w))*", raw.lower()):
        return timedelta(seconds=parse_duration_s(raw))
    return parse_instant(raw)


def resolve(when: datetime | timedelta, start: datetime) -> datetime:
    """An absolute time for ``when``, counting offsets from ``start``."""
    return start + when if isinstance(when, timedelta) else when


def to_ns(when: datetime) -> int:
    """Integer epoch nanoseconds of an aware datetime (exact to the microsecond)."""
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def iso(when: datetime) -> str:
    """ISO-8601 UTC text with a ``Z`` suffix."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_offset(delta: timedelta) -> str:
    """A compact duration text (``2d``, ``36h``, ``90s``) that ``parse_duration_s`` reads back."""
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

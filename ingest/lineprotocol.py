"""InfluxDB line protocol for readings: one ``telemetry`` point per Reading.

Kept apart from the HTTP adapters so the ingest hot path builds lines without
touching the network code, and so the escaping rules live in one place.
"""

from __future__ import annotations

from .contract import Reading

MEASUREMENT = "telemetry"

# Escaping per the line-protocol reference: measurement escapes comma and space;
# tag keys, tag values and field keys escape comma, equals sign and space.
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


class LineProtocolError(ValueError):
    """A value cannot be written as line protocol (e.g. a newline in a tag)."""


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"{text!r} holds a line break, which line protocol cannot carry")
    if text.endswith("\\"):
        raise LineProtocolError(f"{text!r} ends with a backslash, which line protocol misreads")
    return text.translate(_KEY_ESCAPES)


def tag_set(site: str, asset_type: str, device: str) -> str:
    """The ``,asset_type=..,device=..,site=..`` part, keys sorted as InfluxDB keeps them."""
    if not (site and asset_type and device):
        raise LineProtocolError("site, asset_type and device must all be non-empty")
    return (
        f",asset_type={escape_key(asset_type)},device={escape_key(device)},site={escape_key(site)}"
    )


def format_fields(metrics: dict[str, float]) -> str:
    """``name=value,...`` with every value written as a float."""
    if not metrics:
        raise LineProtocolError("a point needs at least one field")
    return ",".join(f"{escape_key(name)}={float(value)!r}" for name, value in metrics.items())


def reading_line(reading: Reading, measurement: str = MEASUREMENT) -> str:
    """One reading as one line (no trailing newline), timestamp in ns."""
    return (
        f"{escape_measurement(measurement)}"
        f"{tag_set(reading.site, reading.asset_type, reading.device)}"
        f" {format_fields(reading.metrics)} {reading.ts_ns}"
    )


def readings_body(readings: list[Reading], measurement: str = MEASUREMENT) -> bytes:
    """A write body for many readings: one line each, newline separated."""
    return "\n".join(reading_line(r, measurement) for r in readings).encode()


class LineBuilder:
    """``reading_line`` for the hot path: the escaped prefix of each series and each field
    key is computed once and remembered (bounded), so a line costs one join."""

    CACHE_SIZE = 100_000

    def __init__(self, measurement: str = MEASUREMENT) -> None:
        self._measurement = escape_measurement(measurement)
        self._prefixes: dict[tuple[str, str, str], str] = {}
        self._keys: dict[str, str] = {}

    def line(self, reading: Reading) -> str:
        series = (reading.site, reading.asset_type, reading.device)
        prefix = self._prefixes.get(series)
        if prefix is None:
            prefix = self._measurement + tag_set(*series) + " "
            if len(self._prefixes) >= self.CACHE_SIZE:
                self._prefixes.clear()
            self._prefixes[series] = prefix
        keys = self._keys
        fields = []
        for name, value in reading.metrics.items():
            key = keys.get(name)
            if key is None:
                key = escape_key(name)
                if len(keys) < self.CACHE_SIZE:
                    keys[name] = key
            fields.append(f"{key}={float(value)!r}")
        if not fields:
            raise LineProtocolError("a point needs at least one field")
        return f"{prefix}{','.join(fields)} {reading.ts_ns}"

"""The telemetry wire contract: MQTT topic scheme and payload format.

Defined once here and used by both the device simulators (which publish) and
the ingester (which parses), so the two can never drift apart. Real devices
follow the same contract; the README documents it.

Topic:   ``prognos/<site>/<asset_type>/<device>/telemetry``
Payload: JSON, one reading ``{"ts": <epoch ms>, "metrics": {"name": value, ...}}``
         or a batch ``{"readings": [<reading>, ...]}``. ``ts`` may also be an
         ISO-8601 string; it is optional (receive time is used when absent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

TOPIC_PREFIX = "prognos"
TOPIC_SUFFIX = "telemetry"
#: Telegraf-style template: each segment names the tag it carries ("_" = literal).
DEFAULT_TOPIC_TEMPLATE = "_/site/asset_type/device/_"
#: Subscription filter that matches every device topic of the default scheme.
TELEMETRY_FILTER = f"{TOPIC_PREFIX}/+/+/+/{TOPIC_SUFFIX}"
#: Largest payload accepted; larger ones are dead-lettered, not parsed.
MAX_PAYLOAD_BYTES = 256 * 1024


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ContractError(ValueError):
    """A topic or payload does not follow the wire contract; the message says why."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One timestamped sample of one device: several metrics, one InfluxDB point.

    ``ts_ns`` is integer nanoseconds since the Unix epoch (UTC).
    """

    device: str
    asset_type: str
    site: str
    ts_ns: int
    metrics: dict[str, float] = field(hash=False)

    @property
    def ts(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return datetime.fromtimestamp(self.ts_ns / 1e9, tz=UTC)


def topic_for(site: str, asset_type: str, device: str) -> str:
    """The topic a device publishes its telemetry on."""
    for name, value in (("site", site), ("asset_type", asset_type), ("device", device)):
        _check_segment(name, value)
    return f"{TOPIC_PREFIX}/{site}/{asset_type}/{device}/{TOPIC_SUFFIX}"


def _check_segment(name: str, value: str) -> None:
    if not value or any(c in value for c in '/+#\x00 ,="\\'):
        raise ContractError(
            f"{name} {value!r} is empty or holds a character not allowed in a topic"
        )


def encode_reading(ts_ms: int, metrics: dict[str, float]) -> bytes:
    """The JSON payload for one reading (``ts`` in integer epoch milliseconds)."""
    return orjson.dumps({"ts": ts_ms, "metrics": metrics})


def encode_batch(readings: list[tuple[int, dict[str, float]]]) -> bytes:
    """The JSON payload for several readings of one device."""
    return orjson.dumps({"readings": [{"ts": ts, "metrics": m} for ts, m in readings]})


def parse_ts_ns(value: Any) -> int:
    """A payload timestamp (epoch s/ms/us/ns number or ISO-8601 string) as epoch ns.

    Numbers are read by magnitude: below 1e11 seconds, below 1e14
    milliseconds, below 1e17 microseconds, else nanoseconds.
    """
    if isinstance(value, bool):
        raise ContractError("ts must be a number or an ISO-8601 string, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ContractError(f"ts {value!r} is not a finite, non-negative number")
        magnitude = abs(value)
        if magnitude >= 1e17:
            return int(value)
        scale = 10**9 if magnitude < 1e11 else 10**6 if magnitude < 1e14 else 10**3
        if isinstance(value, int):
            return value * scale  # exact; a float would round ms epochs to ~256 ns
        # Whole and fractional parts apart: a float epoch in ns exceeds 2**53.
        whole = int(value)
        return whole * scale + round((value - whole) * scale)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ContractError(f"ts {value!r} is not an ISO-8601 timestamp") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        since = parsed - _EPOCH
        return (since.days * 86_400 + since.seconds) * 10**9 + since.microseconds * 1_000
    raise ContractError(f"ts must be a number or an ISO-8601 string, got {type(value).__name__}")

"""From an MQTT message to validated Readings, or a clear reason why not.

The topic is read by a Telegraf-style template (each segment names the tag it
carries, ``_`` skips one); the payload is the JSON of the wire contract, or
InfluxDB line protocol (fields become metrics; the topic names the device, so a
line's measurement and tags are not used). Every refusal is a
``BadMessageError`` with a short ``kind`` (for counting) and a reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import orjson

from .contract import DEFAULT_TOPIC_TEMPLATE, MAX_PAYLOAD_BYTES, ContractError, Reading, parse_ts_ns

#: Metric names become InfluxDB field keys and detector inputs: keep them plain.
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
_TAGS = ("site", "asset_type", "device")
_BAD_TAG_CHARS = re.compile(r"[\x00-\x1f\x7f]|\\$")


class BadMessageError(ValueError):
    """A message the ingester refuses; ``kind`` names the class of fault for counting."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Bounds a message must respect; timestamps are checked against receive time."""

    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    max_future_skew_s: float = 300.0
    max_past_age_s: float = 10 * 365 * 86400.0
    max_readings_per_message: int = 10_000


class TopicTemplate:
    """Topic segments to tags, like Telegraf's ``topic_parsing``: ``_/site/asset_type/device/_``.

    >>> TopicTemplate("_/site/asset_type/device/_").tags("prognos/a/pump/p1/telemetry")
    ('a', 'pump', 'p1')
    """

    #: Topics remembered once parsed; a fleet has far fewer, so this only bounds abuse.
    CACHE_SIZE = 100_000

    def __init__(self, template: str = DEFAULT_TOPIC_TEMPLATE) -> None:
        self.template = template
        segments = template.split("/")
        missing = [t for t in _TAGS if t not in segments]
        if missing:
            raise ValueError(f"topic template {template!r} does not name {', '.join(missing)}")
        self._length = len(segments)
        self._index = tuple(segments.index(t) for t in _TAGS)
        self._cache: dict[str, tuple[str, str, str]] = {}

    def tags(self, topic: str) -> tuple[str, str, str]:
        """``(site, asset_type, device)`` of a topic; BadMessageError if it does not fit."""
        cached = self._cache.get(topic)
        if cached is not None:
            return cached
        parts = topic.split("/")
        if len(parts) != self._length:
            raise BadMessageError(
                "unknown_topic", f"topic {topic!r} does not fit template {self.template!r}"
            )
        site, asset_type, device = (parts[i] for i in self._index)
        for name, value in zip(_TAGS, (site, asset_type, device), strict=True):
            if not value or _BAD_TAG_CHARS.search(value):
                raise BadMessageError(
                    "bad_topic", f"{name} {value!r} in topic {topic!r} is not usable"
                )
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[topic] = (site, asset_type, device)
        return site, asset_type, device


_known_names: set[str] = set()
#: Integer timestamps in this range are epoch milliseconds to ``parse_ts_ns`` (the usual case).
_MS_LOW, _MS_HIGH = 10**11, 10**14


def _metrics(raw: object) -> dict[str, float]:
    if type(raw) is not dict or not raw:
        raise BadMessageError("missing_metrics", "metrics must be a non-empty object")
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        if name not in _known_names:
            if not METRIC_NAME.fullmatch(name):
                raise BadMessageError("bad_metric_name", f"metric name {name!r} is not allowed")
            if len(_known_names) < 10_000:
                _known_names.add(name)
        kind = type(value)
        if kind is int:
            value = float(value)
        elif kind is not float:
            raise BadMessageError("wrong_type", f"metric {name!r} is {kind.__name__}, not a number")
        if not math.isfinite(value):
            raise BadMessageError("not_finite", f"metric {name!r} is {value!r}")
        metrics[name] = value
    return metrics


def _ts_ns(raw: object, recv_ns: int, limits: Limits) -> int:
    if raw is None:
        return recv_ns
    if type(raw) is int and _MS_LOW <= raw < _MS_HIGH:
        return _within_bounds(raw * 1_000_000, recv_ns, limits)  # as parse_ts_ns reads it
    try:
        ts_ns = parse_ts_ns(raw)
    except (ContractError, OverflowError, ValueError) as exc:
        raise BadMessageError("bad_timestamp", str(exc)) from exc
    return _within_bounds(ts_ns, recv_ns, limits)


def _within_bounds(ts_ns: int, recv_ns: int, limits: Limits) -> int:
    if ts_ns > recv_ns + limits.max_future_skew_s * 1e9:
        ahead = (ts_ns - recv_ns) / 1e9
        raise BadMessageError("ts_in_future", f"ts is {ahead:.0f} s ahead of receive time")
    if ts_ns < recv_ns - limits.max_past_age_s * 1e9:
        raise BadMessageError("ts_too_old", f"ts is older than {limits.max_past_age_s:.0f} s")
    return ts_ns


def _reading(item: object, tags: tuple[str, str, str], recv_ns: int, limits: Limits) -> Reading:
    if type(item) is not dict:
        raise BadMessageError("wrong_type", "reading is not an object")
    metrics = _metrics(item.get("metrics"))
    ts_ns = _ts_ns(item.get("ts"), recv_ns, limits)
    return Reading(tags[2], tags[1], tags[0], ts_ns, metrics)


def parse_message(
    topic: str, payload: bytes | bytearray, recv_ns: int, template: TopicTemplate, limits: Limits
) -> list[Reading]:
    """The readings of one message (one or a batch), all valid, or BadMessageError."""
    if len(payload) > limits.max_payload_bytes:
        raise BadMessageError(
            "oversized", f"payload of {len(payload)} bytes exceeds {limits.max_payload_bytes}"
        )
    tags = template.tags(topic)
    if payload[:1] != b"{" and _LINE_PROTOCOL_START.match(payload):
        return parse_line_protocol(payload, tags, recv_ns, limits)
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadMessageError("malformed_json", f"payload is not JSON: {exc}") from exc
    if type(document) is not dict:
        raise BadMessageError(
            "wrong_type", f"payload is a JSON {type(document).__name__}, not object"
        )
    if "readings" not in document:
        return [_reading(document, tags, recv_ns, limits)]
    items = document["readings"]
    if type(items) is not list or not items:
        raise BadMessageError("missing_metrics", "readings must be a non-empty list")
    if len(items) > limits.max_readings_per_message:
        raise BadMessageError(
            "oversized", f"{len(items)} readings exceed {limits.max_readings_per_message}"
        )
    readings = []
    for index, item in enumerate(items):
        try:
            readings.append(_reading(item, tags, recv_ns, limits))
        except BadMessageError as bad:
            raise BadMessageError(bad.kind, f"readings[{index}]: {bad.reason}") from None
    return readings


#: A payload that opens like ``measurement[,tags] field=`` is line protocol, not JSON.
_LINE_PROTOCOL_START = re.compile(
    rb"(?:\s*#[^\n]*\n)*\s*[A-Za-z_](?:[^\s{}\[\]\"\\]|\\.)*[ \t]+[^\s=]+="
)
_BOOLEANS = frozenset(("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"))


def _scan(text: str, start: int, stop: str, quotes: bool = False) -> int:
    """Index of the first ``stop`` at or after ``start`` that is neither escaped nor quoted."""
    quoted = False
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if quotes and c == '"':
            quoted = not quoted
        elif c == stop and not quoted:
            return i
        i += 1
    return len(text)


def _unescape(key: str) -> str:
    return key.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")


def _lp_value(name: str, raw: str) -> float:
    if raw.startswith('"') or raw in _BOOLEANS:
        raise BadMessageError("wrong_type", f"field {name!r} is not a number: {raw[:40]}")
    try:
        value = float(int(raw[:-1])) if raw[-1:] in ("i", "u") else float(raw)
    except (ValueError, OverflowError) as exc:
        raise BadMessageError("malformed_line_protocol", f"field {name!r}: {raw[:40]!r}") from exc
    if not math.isfinite(value):
        raise BadMessageError("not_finite", f"field {name!r} is {raw[:40]}")
    return value


def _lp_reading(line: str, tags: tuple[str, str, str], recv_ns: int, limits: Limits) -> Reading:
    key_end = _scan(line, 0, " ")
    fields_end = _scan(line, key_end + 1, " ", quotes=True)
    fields_text = line[key_end + 1 : fields_end]
    if not fields_text:
        raise BadMessageError("missing_metrics", "line has no fields")
    metrics: dict[str, float] = {}
    start = 0
    while start < len(fields_text):
        end = _scan(fields_text, start, ",", quotes=True)
        pair = fields_text[start:end]
        eq = _scan(pair, 0, "=")
        name = _unescape(pair[:eq])
        if eq == len(pair) or not METRIC_NAME.fullmatch(name):
            raise BadMessageError("bad_metric_name", f"field {pair[:60]!r} is not name=value")
        metrics[name] = _lp_value(name, pair[eq + 1 :])
        start = end + 1
    ts_text = line[fields_end + 1 :].strip()
    if not ts_text:
        return Reading(tags[2], tags[1], tags[0], recv_ns, metrics)
    try:
        ts_ns = int(ts_text)
    except ValueError as exc:
        raise BadMessageError("bad_timestamp", f"timestamp {ts_text[:40]!r}") from exc
    return Reading(tags[2], tags[1], tags[0], _within_bounds(ts_ns, recv_ns, limits), metrics)


def parse_line_protocol(
    payload: bytes | bytearray, tags: tuple[str, str, str], recv_ns: int, limits: Limits
) -> list[Reading]:
    """Readings from InfluxDB line protocol (ns timestamps), one per non-comment line."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessageError("malformed_line_protocol", f"payload is not UTF-8: {exc}") from exc
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(lines) > limits.max_readings_per_message:
        raise BadMessageError(
            "oversized", f"{len(lines)} lines exceed {limits.max_readings_per_message}"
        )
    readings = []
    for number, line in enumerate(lines, start=1):
        try:
            readings.append(_lp_reading(line, tags, recv_ns, limits))
        except BadMessageError as bad:
            raise BadMessageError(bad.kind, f"line {number}: {bad.reason}") from None
    return readings

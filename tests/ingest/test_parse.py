"""Message parsing: topic templates, JSON and line-protocol payloads, and the refusal kinds."""

from __future__ import annotations

import pytest

from prognos.ingest.contract import Reading, parse_ts_ns
from prognos.ingest.parse import BadMessageError, Limits, TopicTemplate, parse_message

RECV_NS = 1_800_000_000_000_000_000
TOPIC = "prognos/plant-a/pump/p1/telemetry"
TEMPLATE = TopicTemplate()


def parse(payload: bytes, topic: str = TOPIC, limits: Limits | None = None) -> list[Reading]:
    return parse_message(topic, payload, RECV_NS, TEMPLATE, limits or Limits())


def kind_of(payload: bytes, topic: str = TOPIC) -> str:
    with pytest.raises(BadMessageError) as caught:
        parse(payload, topic)
    assert caught.value.reason
    return caught.value.kind


def test_single_json_reading_with_device_time() -> None:
    (reading,) = parse(b'{"ts": 1800000000000, "metrics": {"temp_c": 41, "rpm": 1450.5}}')
    assert (reading.device, reading.asset_type, reading.site) == ("p1", "pump", "plant-a")
    assert reading.ts_ns == 1_800_000_000_000_000_000
    assert reading.metrics == {"temp_c": 41.0, "rpm": 1450.5}
    assert isinstance(reading.metrics["temp_c"], float)


@pytest.mark.parametrize(
    "ts", [10**11 - 1, 10**11, 1_800_000_000_000, 10**14 - 1, 10**14, 1.8e12, 1_800_000_000]
)
def test_numeric_timestamps_are_read_as_the_contract_says_at_every_unit_edge(ts: float) -> None:
    wide = Limits(max_future_skew_s=1e12, max_past_age_s=1e12)
    (reading,) = parse(b'{"ts": %r, "metrics": {"v": 1}}' % ts, limits=wide)
    assert reading.ts_ns == parse_ts_ns(ts)


def test_missing_ts_takes_receive_time_and_iso_ts_is_read() -> None:
    assert parse(b'{"metrics": {"v": 1}}')[0].ts_ns == RECV_NS
    iso = parse(b'{"ts": "2027-01-15T07:59:59Z", "metrics": {"v": 1}}')[0]
    assert iso.ts_ns == RECV_NS - 1_000_000_000


def test_json_batch_keeps_order() -> None:
    readings = parse(
        b'{"readings": [{"ts": 1799999999000, "metrics": {"v": 1}},'
        b' {"ts": 1799999998000, "metrics": {"v": 2}}]}'
    )
    assert [r.metrics["v"] for r in readings] == [1.0, 2.0]
    assert readings[1].ts_ns < readings[0].ts_ns  # out of order is allowed


def test_template_maps_other_topic_shapes() -> None:
    template = TopicTemplate("fleet/device/_/asset_type/site")
    (reading,) = parse_message(
        "fleet/d9/x/fan/north", b'{"metrics": {"v": 1}}', RECV_NS, template, Limits()
    )
    assert (reading.device, reading.asset_type, reading.site) == ("d9", "fan", "north")
    with pytest.raises(ValueError, match="does not name site"):
        TopicTemplate("_/asset_type/device/_")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"{oops", "malformed_json"),
        (b"\xff\xfe\x00", "malformed_json"),
        (b"", "malformed_json"),
        (b"[1, 2]", "wrong_type"),
        (b'"text"', "wrong_type"),
        (b'{"metrics": {"v": "1.5"}}', "wrong_type"),
        (b'{"metrics": {"v": true}}', "wrong_type"),
        (b'{"metrics": {"v": null}}', "wrong_type"),
        (b'{"metrics": {"v": NaN}}', "malformed_json"),
        (b'{"metrics": {"v": 1e999}}', "malformed_json"),  # orjson refuses overflow
        (b'{"metrics": {}}', "missing_metrics"),
        (b'{"ts": 1}', "missing_metrics"),
        (b'{"metrics": {"bad name": 1}}', "bad_metric_name"),
        (b'{"metrics": {"9lives": 1}}', "bad_metric_name"),
        (b'{"ts": true, "metrics": {"v": 1}}', "bad_timestamp"),
        (b'{"ts": "tuesday", "metrics": {"v": 1}}', "bad_timestamp"),
        (b'{"ts": 1900000000000, "metrics": {"v": 1}}', "ts_in_future"),
        (b'{"ts": 1000000000000, "metrics": {"v": 1}}', "ts_too_old"),
        (b'{"readings": []}', "missing_metrics"),
        (b'{"readings": [{"metrics": {"v": 1}}, 7]}', "wrong_type"),
    ],
)
def test_bad_json_payloads_are_refused_by_kind(payload: bytes, kind: str) -> None:
    assert kind_of(payload) == kind


def test_batch_refusal_names_the_reading() -> None:
    with pytest.raises(BadMessageError, match=r"readings\[1\]"):
        parse(b'{"readings": [{"metrics": {"v": 1}}, {"metrics": {"v": "x"}}]}')


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("prognos/a/pump/telemetry", "unknown_topic"),
        ("prognos/a/pump/p1/x/telemetry", "unknown_topic"),
        ("prognos//pump/p1/telemetry", "bad_topic"),
        ("prognos/a/pump/p\x01/telemetry", "bad_topic"),
    ],
)
def test_topics_that_do_not_fit_are_refused(topic: str, kind: str) -> None:
    assert kind_of(b'{"metrics": {"v": 1}}', topic) == kind


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(BadMessageError) as caught:
        parse(b'{"metrics": {"v": 1}}' + b" " * 100, limits=Limits(max_payload_bytes=50))
    assert caught.value.kind == "oversized"


def test_line_protocol_payload_uses_the_topic_for_the_device() -> None:
    payload = (
        b"# a comment line\n"
        b"pump,site=elsewhere temp_c=41.5,rpm=1450i 1799999999000000000\n"
        b"pump vib\\ rms=2e-1\n"
    )
    with pytest.raises(BadMessageError, match="line 2"):
        parse(payload)  # "vib rms" is not an allowed metric name
    first, second = parse(payload.replace(b"vib\\ rms", b"vib_rms"))
    assert (first.device, first.site, first.ts_ns) == ("p1", "plant-a", 1_799_999_999_000_000_000)
    assert first.metrics == {"temp_c": 41.5, "rpm": 1450.0}
    assert second.ts_ns == RECV_NS
    assert second.metrics == {"vib_rms": 0.2}


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b'm v="text" 1799999999000000000', "wrong_type"),
        (b"m v=true", "wrong_type"),
        (b"m v=12x", "malformed_line_protocol"),
        (b"m v=1 soon", "bad_timestamp"),
        (b"m v=1 1900000000000000000", "ts_in_future"),
        (b"m v=nan", "not_finite"),
        (b"m v=1,=2", "bad_metric_name"),
    ],
)
def test_bad_line_protocol_is_refused_by_kind(payload: bytes, kind: str) -> None:
    assert kind_of(payload) == kind

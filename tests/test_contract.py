"""The wire contract shared by devices, simulators and the ingester."""

from __future__ import annotations

import orjson
import pytest

from prognos.ingest.contract import (
    ContractError,
    encode_batch,
    encode_reading,
    parse_ts_ns,
    topic_for,
)


@pytest.mark.parametrize(
    ("value", "expected_ns"),
    [
        (1_767_571_204, 1_767_571_204_000_000_000),  # seconds
        (1_767_571_204_522, 1_767_571_204_522_000_000),  # milliseconds, exact
        (1_767_571_204_522_123, 1_767_571_204_522_123_000),  # microseconds
        (1_767_571_204_522_123_456, 1_767_571_204_522_123_456),  # nanoseconds
        (1_767_571_204.25, 1_767_571_204_250_000_000),  # fractional seconds
        ("2026-01-05T00:00:04.522Z", 1_767_571_204_522_000_000),
        ("2026-01-05T01:00:04.522+01:00", 1_767_571_204_522_000_000),
    ],
)
def test_timestamps_of_every_accepted_form_land_on_the_same_nanosecond(
    value: object, expected_ns: int
) -> None:
    assert parse_ts_ns(value) == expected_ns


@pytest.mark.parametrize("value", [True, None, float("nan"), float("inf"), -5, "yesterday", [1]])
def test_bad_timestamps_are_refused_with_a_reason(value: object) -> None:
    with pytest.raises(ContractError, match="ts"):
        parse_ts_ns(value)


def test_topic_segments_cannot_smuggle_wildcards_or_levels() -> None:
    assert topic_for("north", "pump", "p-1") == "prognos/north/pump/p-1/telemetry"
    for bad in ("a/b", "a+", "#", "", "a b"):
        with pytest.raises(ContractError):
            topic_for("north", "pump", bad)


def test_payloads_round_trip_through_json() -> None:
    single = orjson.loads(encode_reading(1_000, {"vibration_rms_mm_s": 2.5}))
    assert single == {"ts": 1_000, "metrics": {"vibration_rms_mm_s": 2.5}}
    batch = orjson.loads(encode_batch([(1_000, {"a": 1.0}), (2_000, {"a": 2.0})]))
    assert [r["ts"] for r in batch["readings"]] == [1_000, 2_000]

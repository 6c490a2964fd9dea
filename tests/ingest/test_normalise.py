"""Per-asset-type metric renames and unit conversions, alone and inside the ingester."""

from __future__ import annotations

import pytest

from prognos.ingest.contract import Reading, encode_reading, topic_for
from prognos.ingest.influx import InfluxConfig, V1Writer
from prognos.ingest.ingester import Ingester
from prognos.ingest.normalise import MetricRule, Normaliser

RULES = {
    "*": {"speed": "rpm"},
    "pump": {
        "temp_f": {"name": "temp_c", "scale": 5 / 9, "offset": -160 / 9},
        "vib_in_s": {"name": "vibration_rms_mm_s", "scale": 25.4},
    },
    "fan": {"speed": "fan_rpm"},
}


def test_rules_rename_convert_and_prefer_the_asset_types_own() -> None:
    n = Normaliser.from_config(RULES)
    pump = n.apply(Reading("p", "pump", "s", 1, {"temp_f": 212.0, "vib_in_s": 0.1, "speed": 9}))
    assert pump.metrics == pytest.approx({"temp_c": 100.0, "vibration_rms_mm_s": 2.54, "rpm": 9})
    fan = n.apply(Reading("f", "fan", "s", 1, {"speed": 700.0}))
    assert fan.metrics == {"fan_rpm": 700.0}
    untouched = Reading("m", "motor", "s", 1, {"current_a": 3.0})
    assert n.apply(untouched) is untouched


def test_bad_rules_and_overflowing_conversions_are_refused() -> None:
    with pytest.raises(ValueError, match="not a metric name"):
        Normaliser({"pump": {"x": MetricRule("bad name")}})
    n = Normaliser({"pump": {"x": MetricRule("y", scale=1e308)}})
    with pytest.raises(ValueError, match="converts to"):
        n.apply(Reading("p", "pump", "s", 1, {"x": 1e10}))


def test_ingester_stores_normalised_metrics(
    mosquitto, influx_db, publisher, unique_id, ingest_config, started, wait_for, read_dead_letters
) -> None:
    topic = topic_for(unique_id, "pump", "p1")
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    stored: list[Reading] = []
    config = ingest_config(
        mosquitto, metric_map=RULES | {"motor": {"x": {"name": "y", "scale": 1e308}}}
    )
    with Ingester(config, writer, stored.extend) as ingester:
        started(ingester)
        publisher.publish_all(
            [
                (topic, encode_reading(1_700_000_000_000, {"temp_f": 32.0, "speed": 1450})),
                (
                    topic_for(unique_id, "motor", "m1"),
                    encode_reading(1_700_000_000_000, {"x": 1e10}),
                ),
            ]
        )
        wait_for(lambda: ingester.stats["acked"] == 2, 20, "both acked")
    writer.close()
    (row,) = influx_db.query("SELECT * FROM telemetry")
    assert row["temp_c"] == pytest.approx(0.0, abs=1e-9)
    assert row["rpm"] == 1450.0
    assert "temp_f" not in row or row["temp_f"] is None
    assert [r.metrics for r in stored] == [{"temp_c": pytest.approx(0.0, abs=1e-9), "rpm": 1450.0}]
    assert [letter["kind"] for letter in read_dead_letters()] == ["not_finite"]

"""InfluxDB access on the real 1.6.7 server: v1 writes, v2 writes via a forwarder, reads."""

from __future__ import annotations

import socket

import pytest

from prognos.ingest.contract import Reading
from prognos.ingest.influx import (
    AutoWriter,
    InfluxConfig,
    InfluxReader,
    InfluxRejected,
    InfluxUnavailable,
    V1Writer,
    V2Writer,
    detect_api,
    make_writer,
)
from prognos.ingest.lineprotocol import LineProtocolError, reading_line, readings_body

T0 = 1_700_000_000_000_000_000


def _readings(n: int, device: str = "pump-1", step_ns: int = 1_000_000_000) -> list[Reading]:
    return [
        Reading(device, "pump", "plant-a", T0 + i * step_ns, {"temp_c": 20.0 + i, "rpm": 1450.0})
        for i in range(n)
    ]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_reading_line_escapes_and_writes_floats() -> None:
    reading = Reading("pump 1", "centrifugal,pump", "a=b", 42, {"temp c": 1, "v": 2.5e20})
    assert reading_line(reading) == (
        r"telemetry,asset_type=centrifugal\,pump,device=pump\ 1,site=a\=b"
        r" temp\ c=1.0,v=2.5e+20 42"
    )


@pytest.mark.parametrize("bad", ["line\nbreak", "ends\\", ""])
def test_reading_line_refuses_what_line_protocol_cannot_carry(bad: str) -> None:
    with pytest.raises(LineProtocolError):
        reading_line(Reading(bad, "pump", "s", 1, {"v": 1.0}))


def test_v1_writer_stores_every_point(influx_db) -> None:
    config = InfluxConfig(url=influx_db.url, database=influx_db.name, api="v1")
    with V1Writer(config) as writer:
        writer.write(readings_body(_readings(250)))
    assert influx_db.count_points() == 250


def test_escaped_tags_and_odd_floats_round_trip(influx_db) -> None:
    odd = {"big": 2.5e20, "tiny": 1e-7, "neg_zero": -0.0, "whole": 3.0}
    reading = Reading("pump 1,x=y", "centrifugal pump", "site=a", T0, odd)
    with V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name)) as writer:
        writer.write(readings_body([reading]))
    (row,) = influx_db.query("SELECT * FROM telemetry")
    assert (row["device"], row["asset_type"], row["site"]) == (
        "pump 1,x=y",
        "centrifugal pump",
        "site=a",
    )
    assert row["time"] == T0
    assert {k: row[k] for k in odd} == odd


def test_rejected_write_carries_the_servers_message(influx_db) -> None:
    config = InfluxConfig(url=influx_db.url, database=influx_db.name)
    with V1Writer(config) as writer, pytest.raises(InfluxRejected) as caught:
        writer.write(b"telemetry,device=d v=notanumber 1")
    assert caught.value.status == 400
    assert "unable to parse" in str(caught.value)


def test_unreachable_server_is_retryable() -> None:
    config = InfluxConfig(url=_closed_port_url(), timeout_s=1)
    with V1Writer(config) as writer:
        with pytest.raises(InfluxUnavailable):
            writer.write(b"telemetry,device=d v=1 1")
        assert writer.ping() is False


def test_missing_database_is_retryable_not_bad_data(influxdb) -> None:
    config = InfluxConfig(url=influxdb.url, database="no_such_db_here")
    with V1Writer(config) as writer, pytest.raises(InfluxUnavailable, match="database not found"):
        writer.write(b"telemetry,device=d v=1 1")


def test_auto_detects_v1_on_influxdb_1x(influxdb) -> None:
    config = InfluxConfig(url=influxdb.url, database=influxdb.database)
    assert detect_api(config) == "v1"
    writer = make_writer(config)
    try:
        assert isinstance(writer, V1Writer)
        assert writer.ping()
    finally:
        writer.close()


def test_auto_detects_v2_where_health_answers_json(v2_forwarder) -> None:
    config = InfluxConfig(url=v2_forwarder.url, bucket="x", org="o", token="t")
    assert detect_api(config) == "v2"


def test_influxdb_client_v2_path_is_stored_by_real_influxdb(v2_forwarder, influx_db) -> None:
    config = InfluxConfig(
        url=v2_forwarder.url, api="v2", org="prognos", bucket=influx_db.name, token="s3cret"
    )
    writer = make_writer(config)
    try:
        assert isinstance(writer, V2Writer)
        writer.write(readings_body(_readings(120)))
        writer.write(readings_body(_readings(5, device="pump 2,odd")))
    finally:
        writer.close()
    assert influx_db.count_points() == 125
    assert influx_db.count_points(where="device = 'pump 2,odd'") == 5
    write = next(r for r in v2_forwarder.requests if r["path"] == "/api/v2/write")
    assert write["query"] == {"org": "prognos", "bucket": influx_db.name, "precision": "ns"}
    assert write["headers"]["Authorization"] == "Token s3cret"


def test_v2_path_sorts_rejections_from_outages(v2_forwarder, influx_db) -> None:
    config = InfluxConfig(url=v2_forwarder.url, api="v2", org="o", bucket=influx_db.name)
    with V2Writer(config) as writer:
        with pytest.raises(InfluxRejected) as caught:
            writer.write(b"telemetry,device=d v=notanumber 1")
        assert caught.value.status == 400
    down = InfluxConfig(url=_closed_port_url(), api="v2", org="o", bucket="b", timeout_s=1)
    with V2Writer(down) as writer, pytest.raises(InfluxUnavailable):
        writer.write(b"telemetry,device=d v=1 1")


def test_reader_query_and_raw_window(influx_db) -> None:
    config = InfluxConfig(url=influx_db.url, database=influx_db.name)
    with V1Writer(config) as writer:
        writer.write(readings_body(_readings(30) + _readings(30, device="pump-2")))
    with InfluxReader(config) as reader:
        rows = reader.query("SELECT COUNT(rpm) FROM telemetry GROUP BY device")
        assert sorted((r["device"], r["count"]) for r in rows) == [("pump-1", 30), ("pump-2", 30)]
        window = reader.telemetry_window("pump-1", T0 + 10 * 10**9, T0 + 20 * 10**9)
    assert sorted(window) == ["rpm", "temp_c"]
    assert window["temp_c"] == [(T0 + i * 10**9, 20.0 + i) for i in range(10, 20)]


def test_window_downsamples_to_at_most_max_points(influx_db) -> None:
    config = InfluxConfig(url=influx_db.url, database=influx_db.name)
    with V1Writer(config) as writer:
        writer.write(readings_body(_readings(2000, step_ns=10**8)))
    start, end = T0, T0 + 2000 * 10**8
    with InfluxReader(config) as reader:
        window = reader.telemetry_window("pump-1", start, end, max_points=100)
        assert reader.telemetry_window("no-such-device", start, end) == {}
    temps = window["temp_c"]
    assert 50 <= len(temps) <= 101
    assert all(start <= ts < end for ts, _ in temps)
    # Means of an increasing series increase, and span the raw range.
    values = [v for _, v in temps]
    assert values == sorted(values)
    assert 20.0 <= values[0] < values[-1] <= 2019.0


def test_auto_writer_waits_for_a_server_that_is_down_at_start(influxdb_factory) -> None:
    server = influxdb_factory()
    server.stop()
    writer = make_writer(InfluxConfig(url=server.url, database=server.database, timeout_s=2))
    try:
        assert isinstance(writer, AutoWriter)
        with pytest.raises(InfluxUnavailable):
            writer.write(b"telemetry,device=d v=1 1")
        assert not writer.ping()
        server.start()
        writer.write(b"telemetry,device=d v=1 1")
        assert writer.ping()
    finally:
        writer.close()
    assert server.count_points() == 1

"""The ingester on the real broker and the real InfluxDB: exact counts, dead letters, acks."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from prognos.ingest.contract import Reading, encode_batch, encode_reading, topic_for
from prognos.ingest.influx import InfluxConfig, V1Writer
from prognos.ingest.ingester import Ingester

NOW_MS = int(time.time() * 1000)


def test_every_good_message_stored_every_bad_one_dead_lettered(
    mosquitto, influx_db, publisher, unique_id, ingest_config, started, wait_for, read_dead_letters
) -> None:
    site = unique_id
    stored: list[Reading] = []
    lock = threading.Lock()

    def on_stored(readings: list[Reading]) -> None:
        with lock:
            stored.extend(readings)

    good = [
        (
            topic_for(site, "pump", f"p{i % 5}"),
            encode_reading(
                NOW_MS - 100_000 + i, {"vibration_rms_mm_s": 1.0 + i / 1000, "temp_c": 40.0}
            ),
        )
        for i in range(500)
    ]
    line_protocol = [
        (
            topic_for(site, "fan", "f2"),
            f"fan rpm=900i {(NOW_MS - 1000) * 10**6}\n"
            f"fan rpm=910,temp_c=30 {NOW_MS * 10**6}".encode(),
        )
    ]
    batch = [
        (
            topic_for(site, "fan", "f1"),
            encode_batch([(NOW_MS - 50_000 + k, {"rpm": 900.0 + k}) for k in range(10)]),
        )
    ]
    bad = [
        (topic_for(site, "pump", "p0"), b"{not json"),
        (topic_for(site, "pump", "p0"), b'{"ts": 1, "metrics": {"v": "high"}}'),
        (topic_for(site, "pump", "p0"), b'{"metrics": {"v": NaN}}'),
        (topic_for(site, "pump", "p0"), b'{"metrics": {}}'),
        (topic_for(site, "pump", "p0"), encode_reading(NOW_MS + 86_400_000, {"v": 1.0})),
        (topic_for(site, "pump", "p0"), b"\xff\xfe binary"),
        (topic_for(site, "pump", "p0"), b'{"metrics": {"bad name!": 1}}'),
        (f"prognos/{site}/pump/p0/extra/telemetry", encode_reading(NOW_MS, {"v": 1.0})),
        (topic_for(site, "pump", "p0"), b"[1, 2]"),
    ]
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    config = ingest_config(mosquitto, topic_filter=f"prognos/{site}/#")
    with Ingester(config, writer, on_stored=on_stored) as ingester:
        started(ingester)
        messages = good[:250] + bad + batch + line_protocol + good[250:]
        publisher.publish_all(messages)
        wait_for(lambda: ingester.stats["acked"] == len(messages), 30, "every message acked")
        stats = ingester.stats
    writer.close()

    assert influx_db.count_points() == 512
    assert influx_db.count_points(where=f"site = '{site}' AND device = 'f1'") == 10
    assert influx_db.count_points(where=f"site = '{site}' AND device = 'f2'") == 2
    assert stats["received"] == len(messages)
    assert stats["written"] == 512
    assert stats["dead_lettered"] == len(bad)
    assert len(stored) == 512
    letters = read_dead_letters()
    kinds = sorted(letter["kind"] for letter in letters)
    assert kinds == sorted(
        [
            "malformed_json",
            "wrong_type",
            "malformed_json",
            "missing_metrics",
            "ts_in_future",
            "malformed_json",
            "bad_metric_name",
            "unknown_topic",
            "wrong_type",
        ]
    )
    assert all(letter["reason"] for letter in letters)
    binary = next(letter for letter in letters if "payload_b64" in letter)
    assert binary["payload_b64"] == "//4gYmluYXJ5"
    assert {"payload": "{not json"}.items() <= next(
        letter for letter in letters if letter.get("payload") == "{not json"
    ).items()


def test_duplicates_are_stored_once_and_passed_on_once(
    mosquitto, influx_db, publisher, unique_id, ingest_config, started, wait_for
) -> None:
    site = unique_id
    stored: list[Reading] = []
    payloads = [encode_reading(NOW_MS - 10_000 + i, {"v": float(i)}) for i in range(50)]
    messages = [(topic_for(site, "pump", "p1"), p) for p in payloads + payloads[:20]]
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    with Ingester(ingest_config(mosquitto), writer, stored.extend) as ing:
        started(ing)
        publisher.publish_all(messages)
        wait_for(lambda: ing.stats["acked"] == 70, 30, "every message acked")
        assert ing.stats["duplicates"] == 20
    writer.close()
    assert influx_db.count_points() == 50
    assert sorted(r.ts_ns for r in stored) == sorted({r.ts_ns for r in stored})
    assert len(stored) == 50


@pytest.mark.parametrize("mqtt_version", ["5", "3.1.1"])
def test_messages_queued_while_ingester_is_away_arrive_after_restart(
    mosquitto, influx_db, publisher, unique_id, ingest_config, started, wait_for, mqtt_version
) -> None:
    site = unique_id
    config = ingest_config(mosquitto, mqtt_version=mqtt_version)
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    first = [
        (topic_for(site, "pump", "p1"), encode_reading(NOW_MS - 60_000 + i, {"v": 1.0}))
        for i in range(100)
    ]
    second = [
        (topic_for(site, "pump", "p1"), encode_reading(NOW_MS - 30_000 + i, {"v": 2.0}))
        for i in range(300)
    ]
    with Ingester(config, writer) as ingester:
        started(ingester)
        publisher.publish_all(first)
        wait_for(lambda: ingester.stats["acked"] == 100, 30, "first part acked")
    publisher.publish_all(second)  # nobody connected: the persistent session queues them
    with Ingester(config, writer) as ingester:
        wait_for(lambda: ingester.stats["acked"] >= 300, 30, "queued part acked")
        assert ingester.stats["received"] == 300
    writer.close()
    assert influx_db.count_points() == 400


@pytest.mark.parametrize("mqtt_version", ["5", "3.1.1"])  # Mosquitto shares to 3.1.1 too
def test_shared_subscription_splits_the_stream_across_two_ingesters(
    mosquitto,
    influx_db,
    publisher,
    unique_id,
    ingest_config,
    started,
    wait_for,
    tmp_path,
    mqtt_version,
) -> None:
    site = unique_id
    shared = f"$share/{unique_id}/prognos/{site}/+/+/telemetry"
    messages = [
        (topic_for(site, "pump", f"p{i % 8}"), encode_reading(NOW_MS - 5_000 + i, {"v": 1.0}))
        for i in range(2000)
    ]
    writers = [V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name)) for _ in "ab"]
    workers = [
        Ingester(
            ingest_config(
                mosquitto,
                client_id=f"ingest-{unique_id}-{k}",
                topic_filter=shared,
                spool_dir=tmp_path / f"spool-{k}",
                dead_letter_path=tmp_path / f"dead-{k}.jsonl",
                mqtt_version=mqtt_version,
            ),
            writer,
        )
        for k, writer in enumerate(writers)
    ]
    for worker in workers:
        worker.start()
        started(worker)
    try:
        publisher.publish_all(messages)
        wait_for(lambda: sum(w.stats["acked"] for w in workers) >= 2000, 60, "all acked")
        received = [w.stats["received"] for w in workers]
    finally:
        for worker, writer in zip(workers, writers, strict=True):
            worker.stop()
            writer.close()
    assert influx_db.count_points() == 2000
    assert sum(received) == 2000
    assert all(r > 0 for r in received), received


def test_broker_credentials_are_used_and_refusal_is_survived(
    mosquitto_factory, influx_db, publisher_class, ingest_config, wait_for, unique_id, tmp_path
) -> None:
    passwd = shutil.which("mosquitto_passwd") or shutil.which(
        "mosquitto_passwd", path="/usr/sbin:/usr/bin"
    )
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed")
    password_file = tmp_path / "passwords"
    for user, secret in (("ingest", "s3cret"), ("device", "d3vice")):
        flags = ["-b"] if password_file.exists() else ["-b", "-c"]
        subprocess.run([passwd, *flags, str(password_file), user, secret], check=True)
    broker = mosquitto_factory(f"allow_anonymous false\npassword_file {password_file}\n")
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    refused = Ingester(ingest_config(broker, username="ingest", password="wrong"), writer)
    with refused:
        time.sleep(1.5)
        assert not refused.health()["broker_connected"]
        assert refused.health()["writer_alive"]
    publisher = publisher_class(broker.host, broker.port, f"pub-{unique_id}", "device", "d3vice")
    try:
        with Ingester(ingest_config(broker, username="ingest", password="s3cret"), writer) as ok:
            wait_for(lambda: ok.health()["broker_connected"], 10, "authenticated connection")
            time.sleep(0.2)
            topic = topic_for(unique_id, "pump", "p1")
            publisher.publish_all([(topic, encode_reading(NOW_MS, {"v": 1.0}))])
            wait_for(lambda: ok.stats["acked"] == 1, 20, "the message")
    finally:
        publisher.close()
        writer.close()
    assert influx_db.count_points() == 1


def _make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl CLI)."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", ca_key, "-out", ca_crt, "-subj", "/CN=prognos-test-ca"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True)
    return ca_crt, crt, key


def test_tls_connection_to_the_broker(
    mosquitto_factory, influx_db, ingest_config, wait_for, unique_id, tmp_path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ca, crt, key = _make_tls_files(tmp_path)
    broker = mosquitto_factory(f"cafile {ca}\ncertfile {crt}\nkeyfile {key}\n")
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{unique_id}")
    publisher.tls_set(ca_certs=str(ca))
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    try:
        with Ingester(ingest_config(broker, tls=True, tls_ca=ca), writer) as ingester:
            wait_for(lambda: ingester.health()["broker_connected"], 10, "TLS connection")
            time.sleep(0.2)
            topic = topic_for(unique_id, "pump", "p1")
            publisher.publish(topic, encode_reading(NOW_MS, {"v": 1.0}), qos=1).wait_for_publish(5)
            wait_for(lambda: ingester.stats["acked"] == 1, 20, "the message over TLS")
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        writer.close()
    assert influx_db.count_points() == 1


def test_points_influx_refuses_are_dead_lettered_and_the_rest_stored(
    mosquitto, influx_db, publisher, unique_id, ingest_config, started, wait_for, read_dead_letters
) -> None:
    # Someone wrote "status" as a string; InfluxDB now refuses it as a float (field type
    # conflict), which no validation in the ingester can foresee.
    conflict = f'telemetry,asset_type=pump,device=old,site={unique_id} status="ok" {NOW_MS}000000'
    httpx.post(f"{influx_db.url}/write", params={"db": influx_db.name}, content=conflict)
    topic = topic_for(unique_id, "pump", "p1")
    good = [(topic, encode_reading(NOW_MS - 1000 + i, {"v": 1.0})) for i in range(40)]
    refused = [(topic, encode_reading(NOW_MS - 2000 + i, {"status": 1.0})) for i in range(3)]
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    stored: list[Reading] = []
    with Ingester(ingest_config(mosquitto), writer, stored.extend) as ingester:
        started(ingester)
        publisher.publish_all(good[:20] + refused + good[20:])
        wait_for(lambda: ingester.stats["acked"] == 43, 30, "every message acked")
        stats = ingester.stats
    writer.close()
    assert influx_db.count_points(where="device = 'p1'") == 40
    assert stats["dead_lettered"] == 3
    assert len(stored) == 40
    letters = read_dead_letters()
    assert [letter["kind"] for letter in letters] == ["rejected_by_influx"] * 3
    assert all("field type conflict" in letter["reason"] for letter in letters)

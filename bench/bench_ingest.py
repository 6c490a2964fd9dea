"""Ingest throughput: a bare paho subscriber vs the Prognos ingester on the same backlog.

Starts its own mosquitto and influxd (as the tests do), queues N QoS-1 messages
for a persistent session, then times (1) a bare paho subscriber draining them
(the reference) and (2) the ingester draining the same backlog: parse,
validate, durable write to InfluxDB, streaming detection of every stored
reading (``DetectionEngine.process_batch`` as ``on_stored``), ack. Prints one
JSON line on stdout. ``BENCH_INGEST_N`` sets N (default 50000). The backlog is
published from a child process, so ``peak_rss_mib`` is the draining side's.
The servers, the backlog, the reference and the result line are shared with
``bench_ingest_workers``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from prognos.detection.engine import DetectionEngine
from prognos.ingest.contract import encode_reading, topic_for
from prognos.ingest.influx import InfluxConfig, V1Writer
from prognos.ingest.ingester import IngestConfig, Ingester
from prognos.localservers import InfluxServer, MosquittoServer, find_binary

N = int(os.environ.get("BENCH_INGEST_N", "50000"))
FILTER = "prognos/+/+/+/telemetry"


def log(message: str) -> None:
    print(f"bench_ingest: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def servers(prefix: str) -> Iterator[tuple[MosquittoServer, InfluxServer, Path]]:
    """A fresh mosquitto and influxd (database ``bench``) in a temp dir, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / "mosquitto").mkdir()
    (workdir / "influxd").mkdir()
    broker = MosquittoServer(find_binary("mosquitto") or "mosquitto", workdir / "mosquitto")
    influx = InfluxServer(find_binary("influxd") or "influxd", workdir / "influxd", "bench")
    try:
        broker.start()
        influx.start()
        yield broker, influx, workdir
    finally:
        broker.stop()
        influx.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _connect(client_id: str, port: int) -> mqtt.Client:
    """An MQTT 5 client on the persistent session ``client_id`` (clean start off)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20_000
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    return client


def create_session(client_id: str, port: int, topic_filter: str = FILTER) -> None:
    """Subscribe once and leave, so the broker queues the backlog for ``client_id``."""
    done = threading.Event()
    client = _connect(client_id, port)
    client.on_subscribe = lambda *a: done.set()
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def publish_backlog(port: int, n: int) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub")
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    now_ms = int(time.time() * 1000)
    topics = [topic_for("bench", "pump", f"p{d}") for d in range(100)]
    infos = [
        pub.publish(
            topics[i % 100],
            encode_reading(
                now_ms - n + i,
                {"vibration_rms_mm_s": 1.0 + (i % 7) / 10, "temp_c": 40.0, "rpm": 1450.0},
            ),
            qos=1,
        )
        for i in range(n)
    ]
    for info in infos:
        info.wait_for_publish(120)
    pub.disconnect()
    pub.loop_stop()


def publish_in_child(port: int, n: int) -> None:
    """``publish_backlog`` in a forked process, so its memory is not counted here."""
    child = multiprocessing.get_context("fork").Process(target=publish_backlog, args=(port, n))
    child.start()
    child.join(600)
    if child.exitcode != 0:
        raise RuntimeError(f"publishing the backlog failed (exit {child.exitcode})")


def drain_bare(port: int, n: int) -> float:
    """Seconds for a bare paho subscriber (automatic acks) to receive the backlog."""
    got = 0
    done = threading.Event()

    def on_message(client, userdata, message) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    started = time.perf_counter()
    client = _connect("bench-bare", port)
    client.on_message = on_message
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {got} of {n}")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def drain_ingester(port: int, influx: InfluxServer, n: int, workdir: Path) -> float:
    writer = V1Writer(InfluxConfig(url=influx.url, database=influx.database))
    config = IngestConfig(
        broker_port=port,
        client_id="bench-ingest",
        spool_dir=workdir / "spool",
        dead_letter_path=workdir / "deadletter.jsonl",
        dead_letter_topic=None,
    )
    engine = DetectionEngine()
    ingester = Ingester(config, writer, on_stored=engine.process_batch)
    started = time.perf_counter()
    ingester.start()
    while ingester.stats["acked"] < n:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    stats = ingester.stats
    ingester.stop()
    writer.close()
    if stats["written"] != n or stats["dead_lettered"]:
        raise RuntimeError(f"ingester stats off: {stats}")
    return elapsed


def backlog_and_reference(broker: MosquittoServer, sessions: dict[str, str], n: int) -> float:
    """Queue ``n`` messages for the bare subscriber and each of ``sessions`` (client id to
    filter); return the bare subscriber's seconds to drain its copy (the reference)."""
    for client_id, topic_filter in {"bench-bare": FILTER, **sessions}.items():
        create_session(client_id, broker.port, topic_filter)
    log(f"publishing a backlog of {n} messages")
    publish_in_child(broker.port, n)
    log("draining with a bare paho subscriber")
    bare_s = drain_bare(broker.port, n)
    log(f"bare: {n / bare_s:.0f} msg/s")
    return bare_s


def check_stored(influx: InfluxServer, n: int) -> int:
    stored = influx.count_points()
    if stored != n:
        raise RuntimeError(f"InfluxDB holds {stored} points, expected {n}")
    return stored


def own_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_result(
    bench: str, workers: int, n: int, bare_s: float, prognos_s: float, stored: int, rss_mib: float
) -> None:
    """The one JSON line every benchmark prints."""
    reference, prognos = n / bare_s, n / prognos_s
    line = {
        "bench": bench,
        "workers": workers,
        "messages": n,
        "detect": True,
        "reference_msgs_per_s": round(reference),
        "prognos_msgs_per_s": round(prognos),
        "ratio": round(prognos / reference, 3),
        "points_per_s": round(stored / prognos_s),
        "peak_rss_mib": round(rss_mib, 1),
    }
    print(json.dumps(line), flush=True)


def main() -> int:
    with servers("bench-ingest-") as (broker, influx, workdir):
        bare_s = backlog_and_reference(broker, {"bench-ingest": FILTER}, N)
        log("draining with the ingester")
        ingest_s = drain_ingester(broker.port, influx, N, workdir)
        stored = check_stored(influx, N)
    print_result("ingest", 1, N, bare_s, ingest_s, stored, own_peak_rss_mib())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the ingester alone: ``python -m prognos.ingest --broker-port 1883 --influx-url ...``.

Used by the crash tests (kill -9 mid-stream) and the benchmark; ``prognos serve``
is the normal way to run ingest together with the rest of the pipeline. Stops
cleanly on SIGTERM or SIGINT and then prints its stats as one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .influx import InfluxConfig, make_writer
from .ingester import IngestConfig, Ingester


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m prognos.ingest", description=__doc__)
    p.add_argument("--broker-host", default="127.0.0.1")
    p.add_argument("--broker-port", type=int, default=1883)
    p.add_argument("--client-id", default="prognos-ingest")
    p.add_argument("--topic-filter", default=IngestConfig.topic_filter)
    p.add_argument("--mqtt-version", choices=["5", "3.1.1"], default="5")
    p.add_argument("--influx-url", default="http://127.0.0.1:8086")
    p.add_argument("--influx-database", default="prognos")
    p.add_argument("--influx-api", choices=["auto", "v1", "v2"], default="auto")
    p.add_argument("--batch-max-lines", type=int, default=IngestConfig.batch_max_lines)
    p.add_argument("--spool-dir", type=Path)
    p.add_argument("--dead-letter-path", type=Path)
    p.add_argument(
        "--detect", action="store_true", help="run streaming detection on every stored reading"
    )
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = IngestConfig(
        broker_host=args.broker_host,
        broker_port=args.broker_port,
        client_id=args.client_id,
        topic_filter=args.topic_filter,
        mqtt_version=args.mqtt_version,
        batch_max_lines=args.batch_max_lines,
        spool_dir=args.spool_dir,
        dead_letter_path=args.dead_letter_path,
        dead_letter_topic=None,
    )
    writer = make_writer(
        InfluxConfig(url=args.influx_url, database=args.influx_database, api=args.influx_api)
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        on_stored = None
        if args.detect:
            from prognos.detection.engine import DetectionEngine

            on_stored = DetectionEngine().process_batch
        # What exists now (modules, settings) lives as long as the process: keep it out of
        # the collector's full passes, which otherwise walk it again and again under load.
        gc.freeze()
        with Ingester(config, writer, on_stored=on_stored) as ingester:
            print("ingester running", flush=True)
            done.wait()
        print(json.dumps(ingester.stats), flush=True)
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ingest scale-out: two ingester processes on an MQTT 5 shared subscription vs one bare subscriber.

Same backlog as ``bench_ingest``: N QoS-1 messages queued by the broker. The
reference is a bare paho subscriber draining them; then two ``python -m
prognos.ingest --detect`` workers sharing ``$share/bench/...`` drain the same
stream into InfluxDB, running detection on every stored reading. Prints one
JSON line; ``BENCH_INGEST_N`` sets N.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench_ingest import (
    FILTER,
    N,
    backlog_and_reference,
    check_stored,
    log,
    own_peak_rss_mib,
    print_result,
    servers,
)

from prognos.localservers import InfluxServer

WORKERS = 2
SHARED = f"$share/bench/{FILTER}"


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _stored(influx: InfluxServer) -> int:
    """Points stored so far (every bench reading has ``rpm``; COUNT is cheap, rows are not)."""
    rows = influx.query('SELECT COUNT("rpm") FROM "telemetry"')
    return int(rows[0]["count"]) if rows else 0


def _worker(k: int, port: int, influx: InfluxServer, workdir: Path) -> subprocess.Popen[str]:
    argv = [
        sys.executable, "-m", "prognos.ingest",
        "--broker-port", str(port), "--client-id", f"bench-w{k}",
        "--topic-filter", SHARED,
        "--influx-url", influx.url, "--influx-database", influx.database, "--influx-api", "v1",
        "--spool-dir", str(workdir / f"spool-{k}"), "--log-level", "WARNING", "--detect",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def drain_workers(port: int, influx: InfluxServer, n: int, workdir: Path) -> tuple[float, float]:
    """Seconds until every message is in InfluxDB, and the workers' summed peak RSS (MiB)."""
    procs = [_worker(k, port, influx, workdir) for k in range(WORKERS)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            proc.stdout.readline()  # "ingester running": connected from here on
        started = time.perf_counter()
        deadline = started + 600
        while _stored(influx) < n:
            if time.perf_counter() > deadline:
                raise RuntimeError("workers did not store the backlog in time")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        rss = sum(_peak_rss_mib(p.pid) for p in procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            out, _ = proc.communicate(timeout=30)
            log(f"worker stats: {out.strip()}")
    return elapsed, rss


def main() -> int:
    with servers("bench-ingest-workers-") as (broker, influx, workdir):
        sessions = {f"bench-w{k}": SHARED for k in range(WORKERS)}
        bare_s = backlog_and_reference(broker, sessions, N)
        log(f"draining with {WORKERS} ingester processes")
        workers_s, workers_rss = drain_workers(broker.port, influx, N, workdir)
        stored = check_stored(influx, N)
    rss = max(own_peak_rss_mib(), workers_rss)
    print_result("ingest_workers", WORKERS, N, bare_s, workers_s, stored, rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())

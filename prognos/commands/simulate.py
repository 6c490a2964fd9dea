"""``prognos simulate`` and ``prognos replay``: device telemetry without hardware.

Thin wiring from command-line options to ``prognos.simulators``: build or load
a fleet, run the engine, then publish to the broker or write JSON lines.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from prognos.simulators.clock import parse_duration_s, parse_instant, to_ns
from prognos.simulators.engine import Message, simulate
from prognos.simulators.errors import SimulatorError
from prognos.simulators.fleet import Fleet, load_fleet, parse_mix, quick_fleet, write_fleet
from prognos.simulators.jsonl import write_messages
from prognos.simulators.kinds import ASSET_TYPES
from prognos.simulators.publish import publish
from prognos.simulators.replay import read_dataset, replay_messages
from prognos.simulators.transport import TransportFaults
from prognos.simulators.truth import ground_truth, write_truth

DEFAULT_MIX = ",".join(f"{name}=1" for name in ASSET_TYPES)

Host = Annotated[str, typer.Option(help="MQTT broker host.")]
Port = Annotated[int, typer.Option(help="MQTT broker port.")]
Qos = Annotated[int, typer.Option(help="MQTT QoS of the published messages (0, 1 or 2).")]
Speed = Annotated[
    float | None,
    typer.Option(
        help="Pace by the simulated clock: 1 = real time, 60 = a minute per second. "
        "Default: as fast as the broker acknowledges."
    ),
]
Rate = Annotated[float | None, typer.Option(help="Cap the publish rate (messages per second).")]
Out = Annotated[
    Path | None,
    typer.Option(help="Write JSON lines {topic, payload} to this file instead of publishing."),
]
Progress = Annotated[bool, typer.Option(help="Show a progress line on stderr.")]


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``replay`` commands to the main application."""
    app.command("simulate")(simulate_command)
    app.command("replay")(replay_command)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2)


def simulate_command(
    fleet_file: Annotated[
        Path | None, typer.Argument(help="Fleet YAML file (else a quick fleet from --devices).")
    ] = None,
    devices: Annotated[int, typer.Option(help="Devices in a quick fleet.")] = 10,
    mix: Annotated[
        str, typer.Option(help="Asset mix of a quick fleet, e.g. pump=0.4,motor=0.6.")
    ] = DEFAULT_MIX,
    faults: Annotated[float, typer.Option(help="Fraction of quick-fleet devices that fail.")] = 0.1,
    sensor_faults: Annotated[float, typer.Option(help="Fraction with a sensor fault.")] = 0.0,
    duration: Annotated[str, typer.Option(help="Simulated time span, e.g. 12h, 7d, 60d.")] = "1d",
    step: Annotated[str, typer.Option(help="Sample interval per device, e.g. 60s, 10s.")] = "60s",
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulation start (ISO-8601 UTC). Default: real time starts now; "
            "accelerated runs end at today's midnight UTC, so a seed repeats all day."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical output.")
    ] = 42,
    speed: Speed = None,
    rate: Rate = None,
    qos: Qos = 1,
    host: Host = "127.0.0.1",
    port: Port = 1883,
    out: Out = None,
    truth: Annotated[Path | None, typer.Option(help="Write ground truth JSON lines here.")] = None,
    write_fleet_to: Annotated[
        Path | None, typer.Option("--write-fleet", help="Write the fleet as YAML (for tasking).")
    ] = None,
    late: Annotated[float, typer.Option(help="Fraction of messages delivered late.")] = 0.0,
    late_delay: Annotated[str, typer.Option(help="Typical delay of a late message.")] = "10m",
    out_of_order: Annotated[
        float, typer.Option(help="Fraction delivered a few samples late.")
    ] = 0.0,
    duplicates: Annotated[float, typer.Option(help="Fraction delivered twice.")] = 0.0,
    malformed: Annotated[float, typer.Option(help="Fraction with a malformed payload.")] = 0.0,
    progress: Progress = True,
) -> None:
    """Simulate a fleet and publish its telemetry (or write it with --out)."""
    try:
        duration_s, step_s = parse_duration_s(duration), parse_duration_s(step)
        if step_s <= 0:
            raise SimulatorError(f"--step must be positive, got {step!r}")
        begin = _start(start, duration_s, realtime=speed is not None)
        fleet: Fleet
        if fleet_file is not None:
            fleet = load_fleet(fleet_file)
        else:
            fleet = quick_fleet(
                devices,
                parse_mix(mix),
                faults,
                seed,
                begin,
                duration_s,
                sensor_fault_fraction=sensor_faults,
            )
        transport = None
        if late or out_of_order or duplicates or malformed:
            transport = TransportFaults(
                late, parse_duration_s(late_delay), out_of_order, duplicates, malformed
            )
        if write_fleet_to is not None:
            write_fleet(fleet, write_fleet_to)
        if truth is not None:
            write_truth(ground_truth(fleet, begin, duration_s), truth)
        messages = simulate(fleet, begin, duration_s, step_s, seed, transport)
        total = len(fleet.devices) * math.ceil(duration_s / step_s)
        if out is not None:
            count = write_messages(_progress(messages, total, progress), out)
            typer.echo(f"wrote {count} messages of {len(fleet.devices)} devices to {out}", err=True)
            return
        report = publish(messages, host, port, qos, "", rate, speed, progress, total=total)
        typer.echo(report.summary(), err=True)
    except (SimulatorError, OSError) as exc:
        raise _fail(exc) from None


def replay_command(
    path: Annotated[
        Path, typer.Argument(help="Dataset: NAB, SKAB or a CSV with a timestamp column.")
    ],
    device: Annotated[str, typer.Option(help="Device id the data is published as.")] = "replay-1",
    asset_type: Annotated[str, typer.Option(help="Asset type of that device.")] = "pump",
    site: Annotated[str, typer.Option(help="Site of that device.")] = "replay",
    fmt: Annotated[str, typer.Option("--format", help="auto, nab, skab or csv.")] = "auto",
    timestamp_column: Annotated[str | None, typer.Option(help="Timestamp column of a CSV.")] = None,
    metric: Annotated[str, typer.Option(help="Metric name for NAB's 'value' column.")] = "value",
    delimiter: Annotated[
        str | None, typer.Option(help="Column separator (default: sniffed).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Move the first row to this time (ISO-8601, or 'now').")
    ] = None,
    speed: Speed = None,
    rate: Rate = None,
    qos: Qos = 1,
    host: Host = "127.0.0.1",
    port: Port = 1883,
    out: Out = None,
    progress: Progress = True,
) -> None:
    """Publish a recorded dataset as one device, at a chosen speed."""
    try:
        start_ns = None
        if start is not None:
            start_ns = to_ns(datetime.now(UTC) if start == "now" else parse_instant(start))
        rows = read_dataset(path, fmt, timestamp_column, metric, delimiter)
        messages = replay_messages(rows, device, asset_type, site, start_ns)
        if out is not None:
            count = write_messages(messages, out)
            typer.echo(f"wrote {count} messages of {device} to {out}", err=True)
            return
        report = publish(messages, host, port, qos, "", rate, speed, progress)
        typer.echo(report.summary(), err=True)
    except (SimulatorError, OSError) as exc:
        raise _fail(exc) from None


def _start(text: str | None, duration_s: float, realtime: bool) -> datetime:
    if text is not None:
        return parse_instant(text)
    now = datetime.now(UTC)
    if realtime:
        return now.replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(seconds=duration_s)


def _progress(messages: Iterator[Message], total: int, enabled: bool) -> Iterator[Message]:
    """Pass messages through, drawing a progress line on stderr every 50 000."""
    count = 0
    for msg in messages:
        count += 1
        if enabled and count % 50_000 == 0:
            sys.stderr.write(f"\r{count}/{total} messages ({100 * count / max(total, 1):.0f}%)")
            sys.stderr.flush()
        yield msg
    if enabled and count >= 50_000:
        sys.stderr.write("\n")

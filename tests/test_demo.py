"""The demo replays the same simulated week whenever it is run, and that week tells one story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from prognos.demo import STEP_S, demo_fleet, demo_start
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import FlagKind, FlagState
from prognos.ingest.contract import Reading
from prognos.simulators.engine import simulate


def test_demo_week_starts_on_a_monday_morning_in_the_recent_past() -> None:
    first = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
    for hour in range(0, 24 * 15, 5):
        now = first + timedelta(hours=hour)
        start = demo_start(now, 7.0)
        assert (start.weekday(), start.hour, start.minute) == (0, 7, 0)
        assert now - timedelta(days=14) < start <= now - timedelta(days=7)


def test_demo_week_flags_the_worn_pumps_and_nothing_else() -> None:
    start = demo_start(datetime(2026, 11, 26, 9, 30, tzinfo=UTC), 7.0)
    fleet = demo_fleet(8, start, 7.0)
    faulty = {fault.device for fault in fleet.faults}
    engine = DetectionEngine()
    opened: dict[str, set[str]] = {}
    for msg in simulate(fleet, start=start, duration_s=7 * 86400, step_s=STEP_S, seed=7):
        _, site, asset_type, device, _ = msg.topic.split("/")
        doc = orjson.loads(msg.payload)
        metrics = {k: float(v) for k, v in doc["metrics"].items()}
        reading = Reading(device, asset_type, site, int(doc["ts"]) * 1_000_000, metrics)
        for flag in engine.process(reading):
            if flag.kind is FlagKind.EQUIPMENT and flag.state is FlagState.OPENED:
                opened.setdefault(flag.device, set()).add(flag.failure_mode)
    assert opened == {device: {"bearing_wear"} for device in faulty}


@pytest.mark.parametrize(
    "start",
    [
        # Warm-up sees the night and the morning, settling the day shift; the evening
        # cool-down comes just after the models are ready. Temperature models must carry
        # what they learned across that transition (the heat balance is linear in load).
        datetime(2026, 11, 2, 22, 0, tzinfo=UTC),
        # Warm-up and settling see only the weekend's light duty; Monday's shift must
        # not read as a fault (nor may the first hours' lagged loads, which still
        # remember a single loaded instant, widen what warm-up thinks it saw).
        datetime(2026, 11, 7, 7, 0, tzinfo=UTC),
    ],
    ids=["monday-22h", "saturday-7h"],
)
def test_a_fleet_put_into_service_at_an_awkward_time_raises_no_false_flags(
    start: datetime,
) -> None:
    days = 2.5
    fleet = demo_fleet(8, start, days)
    faulty = {fault.device for fault in fleet.faults}
    engine = DetectionEngine()
    batch: list[Reading] = []
    opened: list[tuple[str, str]] = []
    for msg in simulate(fleet, start=start, duration_s=days * 86400, step_s=STEP_S, seed=7):
        _, site, asset_type, device, _ = msg.topic.split("/")
        doc = orjson.loads(msg.payload)
        metrics = {k: float(v) for k, v in doc["metrics"].items()}
        batch.append(Reading(device, asset_type, site, int(doc["ts"]) * 1_000_000, metrics))
    opened = [
        (flag.device, flag.failure_mode)
        for flag in engine.process_batch(batch)
        if flag.kind is FlagKind.EQUIPMENT
        and flag.state is FlagState.OPENED
        and flag.device not in faulty
    ]
    assert opened == []

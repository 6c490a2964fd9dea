"""Transport faults: late, out-of-order, duplicate and malformed messages, in the chosen amounts."""

from __future__ import annotations

import orjson
import pytest

from prognos.simulators.engine import simulate
from prognos.simulators.errors import SimulatorError
from prognos.simulators.fleet import quick_fleet
from prognos.simulators.transport import MALFORMED_PAYLOADS, TransportFaults

DAY = 86400.0


def _well_formed(payload: bytes) -> bool:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(body, dict)
        and isinstance(body.get("ts"), int)
        and isinstance(body.get("metrics"), dict)
        and all(isinstance(v, float) for v in body["metrics"].values())
    )


def test_transport_faults_disturb_the_stream_as_asked(start) -> None:
    fleet = quick_fleet(10, {"pump": 1.0, "motor": 1.0}, 0.0, 5, start, DAY)
    clean = list(simulate(fleet, start, DAY, 60.0, 5))
    faults = TransportFaults(
        late_fraction=0.02,
        late_delay_s=900,
        out_of_order_fraction=0.05,
        duplicate_fraction=0.03,
        malformed_fraction=0.04,
    )
    faulty = list(simulate(fleet, start, DAY, 60.0, 5, transport=faults))
    n = len(clean)
    duplicates = len(faulty) - n
    assert 0.02 * n < duplicates < 0.04 * n
    malformed = [m for m in faulty if not _well_formed(m.payload)]
    assert {m.payload for m in malformed} <= set(MALFORMED_PAYLOADS)
    assert 0.03 * n < len(malformed) < 0.05 * n
    # Every clean reading still arrives (unless its payload was broken), none invented.
    clean_keys = {(m.device, m.ts_ns) for m in clean}
    arrived = {(m.device, m.ts_ns) for m in faulty if _well_formed(m.payload)}
    assert arrived <= clean_keys
    assert len(clean_keys - arrived) <= len(malformed)
    # Some readings arrive after newer ones of the same device; some much later.
    newest: dict[str, int] = {}
    behind = []
    for msg in faulty:
        if msg.ts_ns < newest.get(msg.device, 0):
            behind.append(newest[msg.device] - msg.ts_ns)
        newest[msg.device] = max(newest.get(msg.device, 0), msg.ts_ns)
    assert len(behind) > 0.05 * n
    assert max(behind) >= 400e9  # a late message, minutes behind
    assert list(simulate(fleet, start, DAY, 60.0, 5, transport=faults)) == faulty


def test_transport_fractions_are_checked() -> None:
    with pytest.raises(SimulatorError, match="malformed_fraction"):
        TransportFaults(malformed_fraction=1.5)
    with pytest.raises(SimulatorError, match="late_delay_s"):
        TransportFaults(late_delay_s=0)


def test_the_ingester_accepts_every_clean_message_and_rejects_every_malformed_one(start) -> None:
    from prognos.ingest.parse import BadMessageError, Limits, TopicTemplate, parse_message

    fleet = quick_fleet(
        12,
        {t: 1.0 for t in ("pump", "motor", "compressor", "spindle", "chiller", "robot_joint")},
        0.5,
        2,
        start,
        DAY / 2,
        sensor_fault_fraction=0.5,
    )
    faults = TransportFaults(malformed_fraction=0.05)
    template, limits = TopicTemplate(), Limits(max_past_age_s=100 * 365 * DAY)
    accepted = rejected = 0
    for msg in simulate(fleet, start, DAY / 2, 60.0, 2, transport=faults):
        if _well_formed(msg.payload):
            (reading,) = parse_message(msg.topic, msg.payload, msg.ts_ns, template, limits)
            assert reading.device == msg.device and reading.ts_ns == msg.ts_ns
            accepted += 1
        else:
            with pytest.raises(BadMessageError):
                parse_message(msg.topic, msg.payload, msg.ts_ns, template, limits)
            rejected += 1
    assert accepted > 0 and rejected > 0

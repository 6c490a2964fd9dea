"""The healthy envelope works on the metrics' z-scores: relations, not slow drift."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading

MIN_NS = 60_000_000_000
WARMUP = 400


def _run(
    engine: DetectionEngine,
    n: int,
    pair: Callable[[int, random.Random], tuple[float, float]],
    seed: int = 5,
    start: int = 0,
) -> list[Flag]:
    rng = random.Random(seed)
    flags: list[Flag] = []
    for i in range(start, start + n):
        a, b = pair(i, rng)
        reading = Reading("rig", "generic", "lab", i * MIN_NS, {"a": a, "b": b})
        flags += [f for f in engine.process(reading) if f.kind is FlagKind.EQUIPMENT]
    return flags


def _together(i: int, rng: random.Random) -> tuple[float, float]:
    a = 10.0 + rng.gauss(0.0, 1.0)
    return a, 2.0 * a + rng.gauss(0.0, 0.2)


def _drifting(i: int, rng: random.Random) -> tuple[float, float]:
    # Both metrics drift slowly together after warm-up (ten sd over 3000 readings).
    a, b = _together(i, rng)
    drift = max(0, i - WARMUP) / 300.0
    return a + drift, b + 2.0 * drift


def _broken(i: int, rng: random.Random) -> tuple[float, float]:
    # Each metric stays inside its own healthy range, but b no longer follows a.
    a, _ = _together(i, rng)
    if i < WARMUP + 300:
        return _together(i, rng)
    return a, 40.0 - 2.0 * a + rng.gauss(0.0, 0.2)


def _engine() -> DetectionEngine:
    return DetectionEngine(config=DetectionConfig(warmup_readings=WARMUP))


def test_a_slow_common_drift_is_not_an_envelope_fault() -> None:
    eng = _engine()
    flags = _run(eng, WARMUP + 3000, _drifting)
    assert eng._devices["rig"].envelope is not None  # generic assets fit one
    assert flags == []


def test_a_broken_relation_opens_an_envelope_flag_naming_the_metrics() -> None:
    eng = _engine()
    flags = _run(eng, WARMUP + 600, _broken)
    opened = [f for f in flags if f.state is FlagState.OPENED]
    assert opened, "the broken relation was not flagged"
    first = opened[0]
    assert first.detector == "envelope"
    assert first.opened_ns >= (WARMUP + 300) * MIN_NS
    contributions = {k for k in first.evidence if k.startswith("contribution_")}
    assert contributions == {"contribution_a", "contribution_b"}
    # Without the envelope, neither metric alone looks wrong.
    plain = DetectionEngine(
        config=DetectionConfig(
            warmup_readings=WARMUP, asset_overrides={"generic": {"use_envelope": False}}
        )
    )
    assert _run(plain, WARMUP + 600, _broken) == []


def test_envelope_survives_a_checkpoint() -> None:
    eng = _engine()
    _run(eng, WARMUP + 200, _broken)  # checkpoint before the relation breaks
    restored = _engine()
    restored.load_state(json.loads(json.dumps(eng.state_dict())))
    rest_a = _run(eng, 400, _broken, seed=9, start=WARMUP + 200)
    rest_b = _run(restored, 400, _broken, seed=9, start=WARMUP + 200)
    assert [(f.state, f.detector, f.opened_ns) for f in rest_a] == [
        (f.state, f.detector, f.opened_ns) for f in rest_b
    ]
    assert rest_a and rest_a[0].detector == "envelope"

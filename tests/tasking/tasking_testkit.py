"""Builders shared by the tasking tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prognos.detection.flags import Flag, FlagKind, FlagState, Severity

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ns(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def make_flag(
    *,
    device: str = "pump-01",
    asset_type: str = "pump",
    site: str = "plant-a",
    kind: FlagKind = FlagKind.EQUIPMENT,
    state: FlagState = FlagState.OPENED,
    failure_mode: str = "bearing_wear",
    severity: Severity = Severity.MEDIUM,
    at: datetime = T0,
    ttf: timedelta | None = None,
    flag_id: str = "flag-1",
    score: float = 4.2,
    metrics: tuple[str, ...] = ("vibration_rms_mm_s",),
) -> Flag:
    return Flag(
        flag_id=flag_id,
        device=device,
        asset_type=asset_type,
        site=site,
        kind=kind,
        state=state,
        detector="robust_z",
        metrics=metrics,
        failure_mode=failure_mode,
        score=score,
        severity=severity,
        opened_ns=ns(at),
        updated_ns=ns(at),
        window_start_ns=ns(at - timedelta(hours=1)),
        window_end_ns=ns(at),
        predicted_failure_ns=None if ttf is None else ns(at + ttf),
        evidence={"baseline": 2.1, "latest": 6.3},
    )


REGISTRY_YAML = """
customers:
  - {id: acme, name: ACME Water, tier: vip}
  - {id: bolt, name: Bolt Metals, tier: standard}
sites:
  - {id: plant-a, name: Plant A, customer: acme}
  - {id: plant-b, name: Plant B, customer: bolt}
devices:
  - {id: pump-01, asset_type: pump, site: plant-a, model: KSB-100}
  - {id: pump-02, asset_type: pump, site: plant-b, faults: [{mode: bearing_wear}]}
  - {id: chiller-01, asset_type: chiller, site: plant-b}
engineers:
  - name: jun
    level: junior
    skills: [inspection, filter_service]
    authorised: [pdm-clogged-filter, routine-inspection]
  - {name: mid, level: intermediate, skills: [vibration_analysis, bearing_replacement]}
  - {name: mid2, level: intermediate, skills: [vibration_analysis]}
  - {name: sen, level: senior, skills: [vibration_analysis, bearing_replacement, fault_isolation]}
"""

"""The failure-mode hypothesis: which metrics move together, and how strongly."""

from __future__ import annotations

import pytest

from prognos.detection.profiles import DEFAULT_PROFILES, GENERIC_PROFILE

VIB, BEARING = "vibration_rms_mm_s", "bearing_temp_c"


def signals(**z: float) -> dict[str, tuple[float, float, float]]:
    """Smoothed z of every judged pump metric (0 unless given), with typical sd and level."""
    sd = {VIB: 0.15, BEARING: 0.3, "power_kw": 0.12, "current_a": 0.23, "flow_m3_h": 0.5}
    sd |= {"suction_pressure_bar": 0.15, "discharge_pressure_bar": 0.15}
    level = {VIB: 2.5, BEARING: 60.0, "power_kw": 21.0, "current_a": 45.0, "flow_m3_h": 150.0}
    level |= {"suction_pressure_bar": 1.2, "discharge_pressure_bar": 5.0}
    return {m: (z.get(m, 0.0), sd[m], level[m]) for m in sd}


@pytest.mark.parametrize(
    ("z", "mode"),
    [
        # Heat and vibration together, heat ahead: worn bearings.
        ({VIB: 2.0, BEARING: 3.0, "power_kw": 0.1}, "bearing_wear"),
        # Vibration with a little heat and more power: misalignment.
        ({VIB: 2.4, BEARING: 2.3, "power_kw": 0.7, "current_a": 0.3}, "misalignment"),
        # Vibration nearly alone: imbalance.
        ({VIB: 4.0, BEARING: 0.4}, "imbalance"),
        # Less flow, suction and power at the same speed, running smoothly: clogged filter.
        (
            {"flow_m3_h": -6.0, "suction_pressure_bar": -1.5, "power_kw": -2.8, VIB: 0.2},
            "clogged_filter",
        ),
        # Less flow with rough running: cavitation.
        (
            {"flow_m3_h": -3.0, "suction_pressure_bar": -0.5, "power_kw": -2.0, VIB: 2.0},
            "cavitation",
        ),
    ],
)
def test_pump_hypothesis_follows_the_pattern_of_deviations(z: dict[str, float], mode: str) -> None:
    found, match = DEFAULT_PROFILES["pump"].hypothesis({}, signals(**z))
    assert found == mode and 0.5 <= match <= 1.0


def test_the_pattern_does_not_depend_on_how_far_the_fault_has_gone() -> None:
    pump = DEFAULT_PROFILES["pump"]
    early = pump.pattern_match(signals(**{VIB: 2.0, BEARING: 2.8}))
    late = pump.pattern_match(signals(**{VIB: 6.0, BEARING: 8.4}))
    assert early[0] == late[0] == "bearing_wear"
    assert early[1] == pytest.approx(late[1])


def test_a_pattern_no_mode_explains_is_unknown() -> None:
    # Vibration down and bearing cooler: no failure mode of a pump looks like that.
    assert DEFAULT_PROFILES["pump"].pattern_match(signals(**{VIB: -3.0, BEARING: -2.0}))[0] == (
        "unknown"
    )
    # The generic profile knows no modes at all.
    assert GENERIC_PROFILE.hypothesis({"x": 5.0}, {"x": (5.0, 1.0, 1.0)})[0] == "unknown"


def test_only_the_modes_that_make_a_reading_erratic_explain_its_spikes() -> None:
    pump, motor = DEFAULT_PROFILES["pump"], DEFAULT_PROFILES["motor"]
    assert pump.erratic_in("bearing_wear", VIB)
    assert not pump.erratic_in("bearing_wear", "current_a")
    assert pump.erratic_in("cavitation", "discharge_pressure_bar")
    assert motor.erratic_in("insulation_fault", "current_a")
    assert not motor.erratic_in("overheating", "current_a")
    # A hypothesis the profile does not describe cannot rule anything out.
    assert motor.erratic_in("unknown", "current_a")

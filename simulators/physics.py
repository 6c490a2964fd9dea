"""Physics of the six asset types: healthy operation and how each failure mode shows.

Each model maps a chunk of sample times to metric arrays. Load follows the
asset's regime (demand curve, shifts, jobs), temperatures follow load through
a thermal lag, and a fault's severity (0 at onset, 1 at failure) bends the
metrics the way the failure mechanism does. At failure the asset trips.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from prognos.simulators import regime as rg

SQRT3_400V = math.sqrt(3) * 400.0


@dataclass
class Ctx:
    """One device's view of one chunk: times, ambient, fault severities and carried state."""

    t: np.ndarray
    step_s: float
    rng: np.random.Generator
    ambient: np.ndarray
    severities: dict[str, np.ndarray]
    tripped: np.ndarray
    params: dict[str, float]
    state: dict[str, float] = field(default_factory=dict)

    def s(self, mode: str) -> np.ndarray:
        """Severity of ``mode`` (zeros when the device has no such fault)."""
        sev = self.severities.get(mode)
        return sev if sev is not None else np.zeros(self.t.size)

    def lag(self, key: str, target: np.ndarray, tau_s: float) -> np.ndarray:
        """Thermal lag towards ``target``, continuing from the previous chunk's last value."""
        y = rg.lag(target, self.state.get(key, float(target[0])), self.step_s, tau_s)
        self.state[key] = float(y[-1])
        return y

    def segments(self, key: str, mean_len_s: float, low: float, high: float) -> np.ndarray:
        """Piecewise-constant random levels (jobs, load steps) that carry across chunks."""
        t = self.t
        level = self.state.get(key + ":level")
        edge = self.state.get(key + ":edge")
        if level is None or edge is None:
            level = float(self.rng.uniform(low, high))
            edge = float(t[0] + self.rng.exponential(mean_len_s))
        edges, levels = [], [level]
        while edge <= t[-1]:
            edges.append(edge)
            levels.append(float(self.rng.uniform(low, high)))
            edge += max(float(self.rng.exponential(mean_len_s)), self.step_s)
        self.state[key + ":level"], self.state[key + ":edge"] = levels[-1], edge
        return np.asarray(levels)[np.searchsorted(np.asarray(edges), t, side="right")]

    def normal(self, sd: float | np.ndarray = 1.0) -> np.ndarray:
        return self.rng.normal(0.0, 1.0, self.t.size) * sd

    def vibration(self, base: np.ndarray, run: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """Broadband RMS: healthy level when running plus fault terms; worn bearings add bursts."""
        bursts = 1.5 * self.s("bearing_wear") * np.abs(self.rng.standard_t(3, self.t.size))
        healthy = base * (1.0 + self.normal(0.06))
        return run * (healthy + extra + bursts) + 0.05 + np.abs(self.normal(0.02))


def _from_power(power_kw: np.ndarray, pf: np.ndarray | float) -> np.ndarray:
    """Three-phase 400 V line current for a given electrical power and power factor."""
    return power_kw * 1000.0 / (SQRT3_400V * np.maximum(pf, 0.05))


def pump(c: Ctx) -> dict[str, np.ndarray]:
    """Centrifugal pump on a variable-speed drive following a daily water demand."""
    p = c.params
    run = (~c.tripped).astype(float)
    load = c.lag("load", rg.demand_profile(c.t) + c.segments("pump_load", 5400, -0.08, 0.08), 600)
    q = np.clip(0.62 + 0.38 * load, 0.5, 1.0)
    clog, cav = c.s("clogged_filter"), c.s("cavitation")
    speed = run * p["speed_rpm"] * q
    flow = run * p["flow_m3_h"] * q * (1 - 0.4 * clog - 0.25 * cav)
    tank = 0.15 * np.sin(2 * math.pi * rg.hour_of_day(c.t) / 24.0)
    suction = p["suction_bar"] + tank - run * (0.25 * q**2 + 0.9 * clog + 0.6 * cav)
    head = run * p["head_bar"] * q**2 * (1 - 0.15 * clog - 0.1 * cav)
    discharge = suction + head + run * c.normal(0.03 + 0.5 * cav)
    power = (
        run
        * p["power_kw"]
        * q**3
        * (1 - 0.25 * clog - 0.2 * cav)
        * (1 + 0.05 * c.s("misalignment") + 0.03 * c.s("bearing_wear"))
    )
    rated_a = p["power_kw"] * 1000 / (SQRT3_400V * 0.85 * 0.92)
    current = run * rated_a * (0.35 + 0.65 * power / p["power_kw"])
    wear, imb, mis = c.s("bearing_wear"), c.s("imbalance"), c.s("misalignment")
    vib = c.vibration(
        p["vib_mm_s"] * (0.85 + 0.15 * q**2), run, 9 * wear + 6 * imb * q**2 + 5 * mis + 2.5 * cav
    )
    bearing = c.lag(
        "bearing", c.ambient + run * (20 + 12 * load + 28 * wear + 5 * imb + 10 * mis), 1800
    )
    return {
        "vibration_rms_mm_s": vib,
        "bearing_temp_c": bearing,
        "discharge_pressure_bar": discharge,
        "suction_pressure_bar": suction,
        "flow_m3_h": flow,
        "current_a": current,
        "speed_rpm": speed,
        "power_kw": power,
        "ambient_temp_c": c.ambient,
    }


def motor(c: Ctx) -> dict[str, np.ndarray]:
    """Fixed-speed induction motor (conveyor or fan); two shifts, or around the clock."""
    p = c.params
    on = rg.in_shifts(c.t) if p["shift"] else np.ones(c.t.size, dtype=bool)
    run = (on & ~c.tripped).astype(float)
    over, cool, ins = c.s("overheating"), c.s("cooling_loss"), c.s("insulation_fault")
    wear, imb, mis = c.s("bearing_wear"), c.s("imbalance"), c.s("misalignment")
    load = c.lag("load", c.segments("motor_load", 3600, 0.55, 0.95), 300)
    eff_load = load * (1 + 0.05 * mis + 0.04 * wear + 0.15 * over)
    speed = run * p["speed_rpm"] * (1 - 0.025 * eff_load)
    pf = run * (0.86 * (1 - 0.45 * (1 - np.minimum(eff_load, 1)) ** 2) - 0.12 * ins - 0.03 * over)
    power = run * p["power_kw"] * eff_load / 0.93
    # Insulation breakdown adds leakage current that flickers with humidity and load.
    current = run * _from_power(power, pf) * (1 + 0.08 * ins + c.normal(0.03) * ins)
    winding = c.lag(
        "winding",
        c.ambient + run * (35 + 45 * eff_load**2) * (1 + 1.2 * cool) + run * (55 * over + 15 * ins),
        2400,
    )
    bearing = c.lag(
        "bearing",
        c.ambient + run * (15 + 10 * load + 8 * cool + 28 * wear + 6 * mis + 4 * imb + 5 * over),
        1800,
    )
    vib = c.vibration(p["vib_mm_s"] * (0.9 + 0.1 * load), run, 9 * wear + 6 * imb + 5 * mis)
    return {
        "vibration_rms_mm_s": vib,
        "bearing_temp_c": bearing,
        "winding_temp_c": winding,
        "current_a": current,
        "speed_rpm": speed,
        "power_kw": power,
        "power_factor": np.clip(pf, 0.0, 1.0),
        "ambient_temp_c": c.ambient,
    }


def compressor(c: Ctx) -> dict[str, np.ndarray]:
    """Rotary-screw air compressor cycling between loaded and unloaded to hold its pressure band."""
    p = c.params
    run = (~c.tripped).astype(float)
    demand = np.where(rg.in_shifts(c.t), 0.75, 0.3) + c.segments("comp_demand", 2700, -0.15, 0.15)
    clog, lub = c.s("clogged_filter"), c.s("lubrication_loss")
    over, cool, wear = c.s("overheating"), c.s("cooling_loss"), c.s("bearing_wear")
    loaded = (c.rng.uniform(0, 1, c.t.size) < np.clip(demand + 0.3 * clog, 0, 1)).astype(float)
    band = c.rng.uniform(0, 1, c.t.size)
    pressure = run * (
        7.0 + 0.4 * (band - 0.5) + 0.2 * (1 - 2 * loaded) * band - 0.8 * clog * loaded
    )
    power = (
        run * p["power_kw"] * (0.3 + 0.7 * loaded) * (1 + 0.12 * clog + 0.08 * lub + 0.05 * wear)
    )
    duty = c.lag("duty", demand, 1200)
    oil = c.lag(
        "oil", c.ambient + run * ((45 + 20 * duty) * (1 + 0.5 * cool) + 25 * lub + 15 * over), 1200
    )
    discharge_t = oil + run * (10 + 5 * loaded + 30 * over + 10 * clog)
    vib = c.vibration(p["vib_mm_s"] * (0.8 + 0.2 * loaded), run, 8 * wear + 3 * lub)
    return {
        "vibration_rms_mm_s": vib,
        "discharge_pressure_bar": pressure,
        "discharge_temp_c": discharge_t,
        "oil_temp_c": oil,
        "current_a": _from_power(power, 0.87),
        "power_kw": power,
        "speed_rpm": run * p["speed_rpm"] * (1 - 0.01 * loaded),
        "ambient_temp_c": c.ambient,
    }


def spindle(c: Ctx) -> dict[str, np.ndarray]:
    """CNC machining spindle: jobs at varying speed and cutting load during shifts, idle between."""
    p = c.params
    busy = c.segments("spindle_busy", 1200, 0.0, 1.0) < 0.8
    run = (rg.in_shifts(c.t) & busy & ~c.tripped).astype(float)
    wear, imb, lub = c.s("bearing_wear"), c.s("imbalance"), c.s("lubrication_loss")
    over, cool = c.s("overheating"), c.s("cooling_loss")
    speed = run * c.segments("spindle_speed", 1200, 0.25, 1.0) * p["speed_rpm"]
    frac = speed / p["speed_rpm"]
    cut = c.segments("spindle_cut", 1200, 0.2, 0.8)
    torque = run * (p["torque_nm"] * (cut + 0.3 * lub + 0.15 * wear + 0.1 * over) + 0.5)
    power = torque * speed * 2 * math.pi / 60 / 1000
    vib = c.vibration(
        p["vib_mm_s"] * (0.5 + 0.5 * frac**2), run, 7 * wear + 6 * imb * frac**2 + 2 * lub
    )
    bearing = c.lag(
        "bearing",
        c.ambient + run * (10 + 15 * frac + 25 * wear + 25 * lub + 25 * over + 25 * cool),
        900,
    )
    oil = c.lag("oil", c.ambient + run * (5 + 8 * frac + 25 * cool + 20 * over + 8 * lub), 1800)
    return {
        "vibration_rms_mm_s": vib,
        "bearing_temp_c": bearing,
        "oil_temp_c": oil,
        "current_a": run * (2.0 + power * 1000 / SQRT3_400V / 0.85),
        "speed_rpm": speed,
        "power_kw": power,
        "torque_nm": torque,
        "ambient_temp_c": c.ambient,
    }


def chiller(c: Ctx) -> dict[str, np.ndarray]:
    """Water chiller: load follows outdoor heat and occupancy; capacity falls with faults."""
    p = c.params
    run = (~c.tripped).astype(float)
    leak, clog = c.s("refrigerant_leak"), c.s("clogged_filter")
    cool, wear = c.s("cooling_loss"), c.s("bearing_wear")
    occupied = rg.in_shifts(c.t, 7.0, 19.0).astype(float)
    load = c.lag(
        "load",
        np.clip(
            0.25
            + 0.04 * (c.ambient - 15)
            + 0.35 * occupied
            + c.segments("chiller_load", 3600, -0.05, 0.05),
            0.15,
            1.0,
        ),
        900,
    )
    capacity = 1 - 0.5 * leak - 0.3 * cool
    flow_frac = 1 - 0.35 * clog
    supply = c.lag(
        "supply",
        run * (p["setpoint_c"] + 8 * np.maximum(load - capacity, 0)) + (1 - run) * c.ambient,
        1200,
    )
    ret = supply + run * 5.0 * load / flow_frac
    power = run * p["power_kw"] * (0.2 + 0.8 * load) * (1 + 0.3 * cool + 0.25 * leak + 0.1 * clog)
    evap = run * (3.2 + 0.05 * (supply - p["setpoint_c"])) * (1 - 0.45 * leak) + (1 - run) * 4.8
    cond = run * (8 + 0.25 * (c.ambient - 20) + 2 * load + 4 * cool - 2 * leak) + (1 - run) * 4.8
    return {
        "supply_temp_c": supply,
        "return_temp_c": ret,
        "refrigerant_pressure_bar": evap,
        "discharge_pressure_bar": cond,
        "flow_m3_h": (1 - c.tripped) * p["flow_m3_h"] * flow_frac,
        "current_a": _from_power(power, 0.88),
        "power_kw": power,
        "vibration_rms_mm_s": c.vibration(np.full(c.t.size, p["vib_mm_s"]), run, 7 * wear),
        "ambient_temp_c": c.ambient,
    }


def robot_joint(c: Ctx) -> dict[str, np.ndarray]:
    """One axis of an industrial robot cycling a pick-and-place programme during shifts."""
    p = c.params
    run = (rg.in_shifts(c.t) & ~c.tripped).astype(float)
    lub, wear = c.s("lubrication_loss"), c.s("bearing_wear")
    mis, over = c.s("misalignment"), c.s("overheating")
    payload = c.segments("robot_payload", 7200, 0.6, 1.0)
    torque = run * (
        p["torque_nm"] * payload * (1 + c.normal(0.03)) + 15 * lub + 8 * wear + 10 * mis
    )
    winding = c.lag("winding", c.ambient + run * (15 + 0.25 * torque + 45 * over), 1500)
    bearing = c.lag("bearing", c.ambient + run * (8 + 0.1 * torque + 20 * lub + 20 * wear), 1800)
    return {
        "torque_nm": torque,
        "current_a": run * (0.5 + 0.08 * torque * (1 + 0.1 * over)),
        "winding_temp_c": winding,
        "bearing_temp_c": bearing,
        "vibration_rms_mm_s": c.vibration(
            np.full(c.t.size, p["vib_mm_s"]), run, 5 * wear + 3 * mis + 2 * lub
        ),
        "speed_rpm": run * p["speed_rpm"] * (1 + c.normal(0.05)),
        "ambient_temp_c": c.ambient,
    }


MODELS: dict[str, Callable[[Ctx], dict[str, np.ndarray]]] = {
    "pump": pump,
    "motor": motor,
    "compressor": compressor,
    "spindle": spindle,
    "chiller": chiller,
    "robot_joint": robot_joint,
}


def nominal_params(asset_type: str, rng: np.random.Generator) -> dict[str, float]:
    """Rated values of one unit: each unit of a type differs a little, like real nameplates."""
    u = rng.uniform
    common = {"vib_mm_s": u(1.6, 2.3)}
    by_type = {
        "pump": {
            "speed_rpm": float(rng.choice([1480.0, 2960.0])),
            "flow_m3_h": u(60, 240),
            "head_bar": u(3.0, 6.0),
            "suction_bar": u(1.0, 2.0),
            "power_kw": u(15, 55),
        },
        "motor": {
            "speed_rpm": float(rng.choice([1500.0, 3000.0])),
            "power_kw": u(7.5, 90),
            "shift": float(u(0, 1) < 0.6),
        },
        "compressor": {"speed_rpm": 2950.0 * u(0.98, 1.02), "power_kw": u(22, 110)},
        "spindle": {
            "speed_rpm": float(rng.choice([12000.0, 15000.0, 24000.0])),
            "torque_nm": u(15, 40),
        },
        "chiller": {
            "setpoint_c": float(rng.choice([6.0, 7.0])),
            "power_kw": u(80, 300),
            "flow_m3_h": u(40, 150),
        },
        "robot_joint": {"torque_nm": u(40, 90), "speed_rpm": u(1200, 2200)},
    }
    if asset_type == "robot_joint":
        common["vib_mm_s"] = u(0.6, 1.2)
    return {**common, **by_type[asset_type]}


#: Measurement noise (absolute sd) and resolution of each metric's instrument.
INSTRUMENT: dict[str, tuple[float, float]] = {
    "vibration_rms_mm_s": (0.03, 0.01),
    "bearing_temp_c": (0.15, 0.1),
    "winding_temp_c": (0.3, 0.1),
    "discharge_temp_c": (0.3, 0.1),
    "oil_temp_c": (0.2, 0.1),
    "ambient_temp_c": (0.1, 0.1),
    "supply_temp_c": (0.05, 0.01),
    "return_temp_c": (0.05, 0.01),
    "current_a": (0.2, 0.1),
    "pressure_bar": (0.01, 0.01),
    "discharge_pressure_bar": (0.01, 0.01),
    "suction_pressure_bar": (0.01, 0.01),
    "refrigerant_pressure_bar": (0.02, 0.01),
    "flow_m3_h": (0.4, 0.1),
    "speed_rpm": (1.0, 1.0),
    "power_kw": (0.1, 0.1),
    "power_factor": (0.003, 0.001),
    "torque_nm": (0.2, 0.1),
}

#: A typical magnitude per metric, used to size sensor-fault effects (drift, spikes).
SCALE: dict[str, float] = {
    "vibration_rms_mm_s": 2.0,
    "current_a": 10.0,
    "speed_rpm": 200.0,
    "power_kw": 5.0,
    "power_factor": 0.05,
    "flow_m3_h": 10.0,
    "torque_nm": 5.0,
}


def scale_of(metric: str) -> float:
    """How big a sensor-fault deviation of this metric should be."""
    if metric in SCALE:
        return SCALE[metric]
    if metric.endswith("_c"):
        return 5.0
    if metric.endswith("_bar"):
        return 0.5
    return 1.0

"""What the engine remembers about one device: its series, warm-up rows and flag trackers.

Each device owns one ``MetricSeries`` per metric (``series``), the warm-up
rows its models are fitted on, the healthy envelope, and the small trackers
of its open equipment and sensor flags. ``to_dict``/``from_dict`` make the
whole of it a JSON checkpoint.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from prognos.detection.config import DetectionConfig
from prognos.detection.envelope import PcaEnvelope
from prognos.detection.errors import StateError
from prognos.detection.profiles import AssetProfile, MetricSpec
from prognos.detection.series import (
    LAG_SUFFIX,
    READY,
    RUN_KEY,
    SETTLING,
    SLOW_SUFFIX,
    WARMING,
    MetricSeries,
    condition_names,
)

if TYPE_CHECKING:
    from prognos.detection.batch import DeviceRows

#: ``MetricSpec.badness`` as a factor per direction (0: two-sided, use ``abs``).
_SIGNS = {"up": 1.0, "down": -1.0, "both": 0.0}
#: Names of the lagged copies of each condition metric (built once per name).
_LAG_KEYS: dict[str, tuple[str, str]] = {}


class SeriesPlan(NamedTuple):
    """One series of a device with what its profile says about it."""

    name: str
    series: MetricSeries
    spec: MetricSpec
    judged: bool
    scored: bool
    can_drift: bool
    #: ``spec.badness(z)`` is ``z * sign``, or ``abs(z)`` when ``sign`` is 0 (two-sided).
    sign: float
    #: Whether the spec has a hard limit (``limit_level`` can be above 0).
    limited: bool


class DeviceState:
    """Everything the engine remembers about one device."""

    def __init__(self, device: str, asset_type: str, site: str) -> None:
        self.device = device
        self.asset_type = asset_type
        self.site = site
        self.series: dict[str, MetricSeries] = {}
        self.warm: list[dict[str, float]] | None = []
        self.envelope: PcaEnvelope | None = None
        self.env_smooth = 0.0
        self.env_contrib: dict[str, float] = {}
        self.last_ts = -1
        self.stage = WARMING
        self.settled = 0
        #: Time of the first reading (lagged features forget their start value after it).
        self.first_ns = -1
        self.lags: dict[str, float] = {}
        self.n = 0
        self.eq: dict[str, Any] = new_tracker()
        self.sensor: dict[str, dict[str, Any]] = {}
        self.suppressed: dict[str, int] = {}
        self._plan: tuple[AssetProfile, int, list[SeriesPlan]] | None = None
        #: The device's rows while its series' state lives in the engine's ``SeriesBank``
        #: (not checkpointed: a checkpoint releases the bank first).
        self.bank: DeviceRows | None = None

    def plan(self, profile: AssetProfile) -> list[SeriesPlan]:
        """Each series with its spec and roles under ``profile`` (cached, not checkpointed).

        The hot path asks these for every series of every reading; they change
        only when a metric first appears or the profile changes.
        """
        cached = self._plan
        if cached is not None and cached[0] is profile and cached[1] == len(self.series):
            return cached[2]
        plan = []
        for name, series in self.series.items():
            spec = profile.spec(name)
            plan.append(
                SeriesPlan(
                    name,
                    series,
                    spec,
                    profile.judged(name),
                    profile.scored(name),
                    profile.can_drift(name),
                    _SIGNS[spec.direction],
                    spec.warn is not None or spec.trip is not None,
                )
            )
        self._plan = (profile, len(self.series), plan)
        return plan

    def features(
        self, values: dict[str, float], profile: AssetProfile, dt_s: float, cfg: DetectionConfig
    ) -> dict[str, float]:
        """Values plus lagged condition metrics (first-order lag, ``condition_lag_s``)."""
        out = dict(values)
        dt = max(dt_s, 0.0)
        running = profile.running_metric
        if running is not None and running in values:
            out[RUN_KEY] = 1.0 if values[running] > 0.0 else 0.0
        lags = self.lags
        k_lag = k_slow = 0.0  # each lag's weight, computed once for all condition metrics
        for name in condition_names(profile):
            x = out.get(name)
            if x is None:
                continue
            keys = _LAG_KEYS.get(name)
            if keys is None:
                keys = _LAG_KEYS[name] = (name + LAG_SUFFIX, name + SLOW_SUFFIX)
            if not k_lag:
                k_lag = 1.0 - math.exp(-dt / (cfg.condition_lag_s / 3.0))
                k_slow = 1.0 - math.exp(-dt / (4.0 * cfg.condition_lag_s / 3.0))
            for key, k in ((keys[0], k_lag), (keys[1], k_slow)):
                prev = lags.get(key)
                lag = x if prev is None else prev + k * (x - prev)
                lags[key] = lag
                out[key] = lag
        ambient = profile.ambient_metric
        if ambient:
            x = values.get(ambient)
            prev = self.lags.get(ambient)
            if x is not None:
                k = 1.0 - math.exp(-dt / cfg.condition_lag_s)
                prev = x if prev is None else prev + k * (x - prev)
                self.lags[ambient] = prev
            if prev is not None:
                out[ambient + LAG_SUFFIX] = prev
        return out

    def in_feedback(self, ts_ns: int) -> bool:
        """Whether false-alarm feedback is in force (baselines then learn at full speed)."""
        return bool(self.suppressed) and any(until > ts_ns for until in self.suppressed.values())

    @property
    def ready(self) -> bool:
        """Past the first warm-up: readings are scored (settling or fully ready)."""
        return self.stage != WARMING

    def finish_warmup(self, profile: AssetProfile, cfg: DetectionConfig) -> None:
        """Fit the models on the warm-up rows; start settling, or be ready if none."""
        self._fit(profile, cfg)
        if cfg.settle_readings > 0:
            self.stage = SETTLING
        else:
            self.stage, self.warm = READY, None

    def finish_settling(self, profile: AssetProfile, cfg: DetectionConfig) -> None:
        """Refit on warm-up plus calm settling rows (a fuller picture of normal)."""
        self._fit(profile, cfg)
        for series in self.series.values():
            series.cusum.reset()
            series.z_smooth = series.dev = 0.0
        self.stage, self.warm = READY, None

    def _fit(self, profile: AssetProfile, cfg: DetectionConfig) -> None:
        rows = self.warm or []
        for name, series in self.series.items():
            series.seed(name, rows, profile, cfg)
        if cfg.use_envelope:
            # The envelope lives in the space of the metrics' robust z-scores: centred and
            # scaled by baselines that follow slow normal change (and freeze while
            # suspicious), it sees a broken relation between metrics, not a slow drift.
            names = sorted(self.series)
            full = [r for r in rows if all(n in r for n in names)]
            if len(names) >= 2 and len(full) >= max(20, 2 * len(names)):
                clip = cfg.z_clip
                matrix = np.array(
                    [[self.series[n].warm_z(n, r, clip) for n in names] for r in full]
                )
                self.envelope = PcaEnvelope.fit(names, matrix, quantile=cfg.envelope_quantile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "asset_type": self.asset_type,
            "site": self.site,
            "series": {k: s.to_dict() for k, s in self.series.items()},
            "warm": self.warm,
            "stage": self.stage,
            "settled": self.settled,
            "first_ns": self.first_ns,
            "envelope": None if self.envelope is None else self.envelope.to_dict(),
            "env_smooth": self.env_smooth,
            "env_contrib": self.env_contrib,
            "last_ts": self.last_ts,
            "lags": self.lags,
            "n": self.n,
            "eq": self.eq,
            "sensor": self.sensor,
            "suppressed": self.suppressed,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> DeviceState:
        try:
            obj = cls(state["device"], state["asset_type"], state["site"])
            obj.series = {k: MetricSeries.from_dict(v) for k, v in state["series"].items()}
            obj.warm = state["warm"]
            obj.stage = int(state["stage"])
            obj.settled = int(state["settled"])
            obj.first_ns = int(state.get("first_ns", -1))
            env = state["envelope"]
            obj.envelope = None if env is None else PcaEnvelope.from_dict(env)
            obj.env_smooth = float(state["env_smooth"])
            obj.env_contrib = dict(state["env_contrib"])
            obj.last_ts = int(state["last_ts"])
            obj.lags = {k: float(v) for k, v in state["lags"].items()}
            obj.n = int(state["n"])
            obj.eq = dict(state["eq"])
            obj.sensor = {k: dict(v) for k, v in state["sensor"].items()}
            obj.suppressed = {k: int(v) for k, v in state["suppressed"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"device state is malformed: {exc}") from exc
        return obj


def new_tracker() -> dict[str, Any]:
    """Lifecycle state of one (possible) flag: plain JSON-able values."""
    return {
        "flag_id": None,
        "opened_ns": 0,
        "window_start_ns": 0,
        "above": 0,
        "below": 0,
        "last_emit_n": 0,
        "last_score": 0.0,
        "severity": "",
        "failure_mode": "",
        "detector": "",
        "metrics": [],
        "n": 0,
    }

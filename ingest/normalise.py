"""Metric names and units made uniform per asset type before anything is stored.

Devices of one asset type do not always agree (``temp_f`` here, ``temp_c``
there); a rule renames a metric and converts its value (``value * scale +
offset``) so InfluxDB and detection see one name in one unit. Rules under
``"*"`` apply to every asset type; a type's own rules win.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .contract import Reading
from .parse import METRIC_NAME


@dataclass(frozen=True, slots=True)
class MetricRule:
    """Store the metric as ``name``, converted as ``value * scale + offset``."""

    name: str
    scale: float = 1.0
    offset: float = 0.0


class Normaliser:
    """Per-asset-type renames and unit conversions.

    >>> n = Normaliser({"pump": {"temp_f": MetricRule("temp_c", 5 / 9, -160 / 9)}})
    >>> n.apply(Reading("p1", "pump", "s", 0, {"temp_f": 212.0, "rpm": 1450.0})).metrics
    {'temp_c': 100.0, 'rpm': 1450.0}
    """

    def __init__(self, rules: Mapping[str, Mapping[str, MetricRule]]) -> None:
        self._rules = {asset_type: dict(by_name) for asset_type, by_name in rules.items()}
        for by_name in self._rules.values():
            for source, rule in by_name.items():
                if not METRIC_NAME.fullmatch(rule.name):
                    raise ValueError(f"rule for {source!r}: {rule.name!r} is not a metric name")
        self._everywhere = self._rules.pop("*", {})
        self._merged: dict[str, dict[str, MetricRule]] = {}

    @classmethod
    def from_config(cls, raw: Mapping[str, Mapping[str, Any]]) -> Normaliser:
        """From plain data (TOML/YAML): ``{"pump": {"temp_f": {"name": "temp_c",
        "scale": 0.5556, "offset": -17.78}, "speed": "rpm"}}`` (a string only renames)."""
        rules: dict[str, dict[str, MetricRule]] = {}
        for asset_type, by_name in raw.items():
            rules[asset_type] = {}
            for source, rule in by_name.items():
                if isinstance(rule, str):
                    rules[asset_type][source] = MetricRule(rule)
                elif isinstance(rule, MetricRule):
                    rules[asset_type][source] = rule
                else:
                    rules[asset_type][source] = MetricRule(
                        str(rule["name"]),
                        float(rule.get("scale", 1.0)),
                        float(rule.get("offset", 0.0)),
                    )
        return cls(rules)

    def _rules_for(self, asset_type: str) -> dict[str, MetricRule]:
        merged = self._merged.get(asset_type)
        if merged is None:
            merged = {**self._everywhere, **self._rules.get(asset_type, {})}
            if len(self._merged) < 10_000:
                self._merged[asset_type] = merged
        return merged

    def apply(self, reading: Reading) -> Reading:
        """The reading with its metrics renamed and converted (itself when no rule applies).

        Raises ValueError if a conversion gives a value that is not finite.
        """
        rules = self._rules_for(reading.asset_type)
        if not rules or rules.keys().isdisjoint(reading.metrics):
            return reading
        metrics: dict[str, float] = {}
        for name, value in reading.metrics.items():
            rule = rules.get(name)
            if rule is None:
                metrics[name] = value
                continue
            converted = value * rule.scale + rule.offset
            if not math.isfinite(converted):
                raise ValueError(f"metric {name!r} converts to {converted!r}")
            metrics[rule.name] = converted
        return Reading(reading.device, reading.asset_type, reading.site, reading.ts_ns, metrics)

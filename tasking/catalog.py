"""The service catalog: what work exists, who may do it, and how fast.

A catalog is a versioned YAML file of entries (SLA per tier and priority,
qualification, SOP, knowledge links, escalation chain, KPI targets) plus the
matching rules that turn a detection flag into exactly one entry.
``load_catalog`` validates the file and names file, line and field of every
problem; ``Catalog.match`` explains which rule picked the entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from prognos.detection.flags import Flag, FlagKind, Severity
from prognos.tasking.errors import CatalogError, CatalogIssue, TaskingError
from prognos.tasking.registry import DeviceInfo
from prognos.tasking.vocabulary import (
    SEVERITY_RANK,
    Category,
    EntryKind,
    Level,
    Priority,
    Role,
    Tier,
)

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "CatalogIssue",
    "EscalationStep",
    "KnowledgeLink",
    "KpiTarget",
    "Match",
    "MatchRule",
    "PriorityPolicy",
    "Scheduling",
    "SlaTargets",
    "TaskingError",
    "Workflow",
    "load_catalog",
]

log = logging.getLogger(__name__)

DEFAULT_CATALOG_PATH = Path(__file__).with_name("data") / "catalog.yaml"


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """The three SLA clocks of one (tier, priority): all measured from order creation."""

    first_response: timedelta
    onsite: timedelta
    resolution: timedelta


@dataclass(frozen=True, slots=True)
class KnowledgeLink:
    """A document reachable from the entry: SOP, fault-code table, handbook, FAQ..."""

    kind: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Who is told what, ``after`` the order first breaches one of its SLA clocks."""

    after: timedelta
    role: str
    action: str


@dataclass(frozen=True, slots=True)
class KpiTarget:
    """A KPI commitment, e.g. first_response <= 900 s or satisfaction >= 4.5.

    Duration targets are held in seconds, rates as fractions (95 % -> 0.95).
    """

    name: str
    op: str
    target: float

    def met(self, value: float) -> bool:
        """Whether a measured value meets this target."""
        return value <= self.target if self.op == "<=" else value >= self.target


@dataclass(frozen=True, slots=True)
class Workflow:
    """The order's time nodes: who dispatches, handles, verifies (closes) and reviews it."""

    dispatch: Role = Role.PLANNER
    handle: Level = Level.INTERMEDIATE
    verify: Role = Role.SENIOR_ENGINEER
    review: Role = Role.PROJECT_MANAGER


@dataclass(frozen=True, slots=True)
class Scheduling:
    """How the work is started: on demand, on a plan, or booked ``lead_time`` ahead."""

    mode: str = "reactive"  # reactive | scheduled | booked
    lead_time: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One service the organisation offers, with its commitments and know-how."""

    id: str
    name: str
    category: Category
    kind: EntryKind
    asset_types: frozenset[str]
    failure_modes: frozenset[str]
    sla: Mapping[Tier, Mapping[Priority, SlaTargets]]
    level: Level
    skills: tuple[str, ...] = ()
    sop: tuple[str, ...] = ()
    knowledge: tuple[KnowledgeLink, ...] = ()
    escalation: tuple[EscalationStep, ...] = ()
    kpis: tuple[KpiTarget, ...] = ()
    workflow: Workflow = field(default_factory=Workflow)
    scheduling: Scheduling = field(default_factory=Scheduling)
    description: str = ""
    line: int = 0

    def sla_for(self, tier: Tier | str, priority: Priority | str) -> SlaTargets:
        """The SLA clocks for a customer tier and priority."""
        return self.sla[Tier(tier)][Priority(priority)]

    def applies_to(self, asset_type: str, failure_mode: str) -> bool:
        """Whether this entry lists the asset type and failure mode (``*`` = any)."""
        return ("*" in self.asset_types or asset_type in self.asset_types) and (
            "*" in self.failure_modes or failure_mode in self.failure_modes
        )


@dataclass(frozen=True, slots=True)
class MatchRule:
    """An explicit rule: every condition given must hold; the first matching rule wins."""

    id: str
    entry_id: str
    kinds: frozenset[str] = frozenset()
    asset_types: frozenset[str] = frozenset()
    failure_modes: frozenset[str] = frozenset()
    min_severity: Severity | None = None
    max_time_to_failure: timedelta | None = None
    description: str = ""

    def holds(
        self,
        kind: str,
        asset_type: str,
        failure_mode: str,
        severity: Severity,
        ttf: timedelta | None,
    ) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.asset_types and asset_type not in self.asset_types:
            return False
        if self.failure_modes and failure_mode not in self.failure_modes:
            return False
        if self.min_severity is not None and (
            SEVERITY_RANK[severity] < SEVERITY_RANK[self.min_severity]
        ):
            return False
        return self.max_time_to_failure is None or (
            ttf is not None and ttf <= self.max_time_to_failure
        )


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """Priority from severity and predicted time to failure; the more urgent wins."""

    by_severity: Mapping[Severity, Priority]
    by_time_to_failure: tuple[tuple[timedelta, Priority], ...]
    safety_margin: timedelta

    def priority(self, severity: Severity, ttf: timedelta | None) -> tuple[Priority, str]:
        """The priority and a one-line reason naming what decided it."""
        best = self.by_severity[severity]
        reason = f"severity {severity.value} -> {best.value}"
        if ttf is not None:
            for within, prio in sorted(self.by_time_to_failure, key=lambda item: item[0]):
                if ttf <= within:
                    if prio.rank < best.rank:
                        best = prio
                        reason = f"predicted failure within {_human(within)} -> {prio.value}"
                    break
        return best, reason


@dataclass(frozen=True, slots=True)
class Match:
    """The entry chosen for a flag, the rule that chose it and why."""

    entry: CatalogEntry
    rule_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Catalog:
    """A validated catalog: entries by id, ordered rules, fallbacks, priority policy."""

    version: str
    entries: Mapping[str, CatalogEntry]
    rules: tuple[MatchRule, ...]
    fallbacks: Mapping[str, str]
    priority_policy: PriorityPolicy
    source: str = ""

    def entry(self, entry_id: str) -> CatalogEntry:
        """An entry by id; ``KeyError`` names the id when missing."""
        try:
            return self.entries[entry_id]
        except KeyError:
            raise KeyError(f"catalog {self.version} has no entry {entry_id!r}") from None

    def match(self, flag: Flag, device_info: DeviceInfo | None = None) -> Match:
        """Pick the entry for a flag: explicit rules, then applicable entries, then fallback.

        An entry applies when it lists the flag's failure mode by name and its
        asset type (or ``*``); entries open to every failure mode are reached
        through rules only, so a catch-all never hides a specific entry.

        The asset type comes from the registry when it knows the device, else
        from the flag; time to failure is measured from the flag's own clock.
        """
        asset_type = flag.asset_type
        if device_info is not None and device_info.asset_type not in ("", "unknown"):
            asset_type = device_info.asset_type
        kind = FlagKind(flag.kind).value
        mode = flag.failure_mode or "unknown"
        ttf = time_to_failure(flag)
        for rule in self.rules:
            if rule.holds(kind, asset_type, mode, Severity(flag.severity), ttf):
                why = rule.description or "all its conditions hold"
                return Match(self.entries[rule.entry_id], rule.id, f"rule {rule.id}: {why}")
        for entry in self.entries.values():
            # Entries open to any failure mode ("*") are reached through rules only.
            listed = mode in entry.failure_modes
            if entry.kind.value == kind and listed and entry.applies_to(asset_type, mode):
                return Match(
                    entry,
                    f"applies:{entry.id}",
                    f"entry {entry.id} lists {kind} faults {mode!r} on {asset_type!r}",
                )
        fallback = self.entries[self.fallbacks[kind]]
        return Match(
            fallback,
            f"fallback:{kind}",
            f"no entry lists {kind} fault {mode!r} on {asset_type!r}; generic {fallback.id}",
        )


def time_to_failure(flag: Flag) -> timedelta | None:
    """Predicted time to failure measured from the flag's last update (never negative)."""
    if flag.predicted_failure_ns is None:
        return None
    return timedelta(microseconds=max(0, flag.predicted_failure_ns - flag.updated_ns) / 1000)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; ``None`` loads the default shipped catalog.

    Raises ``CatalogError`` listing every problem as ``file:line: field: message``.
    """
    from prognos.tasking.catalog_yaml import parse_catalog

    source = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(
            [CatalogIssue(str(source), 0, "(file)", f"cannot be read: {exc.strerror or exc}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(
            [CatalogIssue(str(source), 0, "(file)", f"is not UTF-8: {exc}")]
        ) from exc
    catalog = parse_catalog(text, str(source))
    log.info(
        "catalog loaded source=%s version=%s entries=%d",
        source,
        catalog.version,
        len(catalog.entries),
    )
    return catalog


def _human(value: timedelta) -> str:
    from prognos.tasking.yamlnodes import format_duration

    return format_duration(value)

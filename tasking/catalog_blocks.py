"""Catalog building blocks: SLA tables, escalation chains, KPI targets, priority policy.

Each reader takes the file's ``NodeReader`` so its problems are reported with
their line and field like the rest of the catalog; ``catalog_yaml`` puts the
blocks together into entries.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from yaml.nodes import Node

from prognos.detection.flags import Severity
from prognos.tasking.catalog import (
    EscalationStep,
    KpiTarget,
    PriorityPolicy,
    Scheduling,
    SlaTargets,
    Workflow,
)
from prognos.tasking.vocabulary import Level, Priority, Role, Tier
from prognos.tasking.yamlnodes import NodeReader, parse_duration

SlaTable = dict[Tier, dict[Priority, SlaTargets]]

KPI_NAMES = {
    "first_response": "duration",
    "onsite": "duration",
    "mttr": "duration",
    "lead_time": "duration",
    "resolution_rate": "rate",
    "sla_compliance": "rate",
    "false_alarm_rate": "rate",
    "success_rate": "rate",
    "satisfaction": "score",
}
_KPI_RE = re.compile(r"^\s*([a-z_]+)\s*(<=|>=)\s*(\S+)\s*$")


def sla_table(r: NodeReader, node: Node, where: str) -> SlaTable | None:
    tiers = r.mapping(node, where, {t.value for t in Tier})
    if tiers is None:
        return None
    table: SlaTable = {}
    ok = True
    for tier in Tier:
        tier_node = tiers.get(tier.value)
        if tier_node is None:
            r.error(node, f"{where}.{tier.value}", "is required (one SLA per tier)")
            ok = False
            continue
        prios = r.mapping(tier_node, f"{where}.{tier.value}", {p.value for p in Priority})
        if prios is None:
            ok = False
            continue
        table[tier] = {}
        for prio in Priority:
            field = f"{where}.{tier.value}.{prio.value}"
            targets = sla_targets(r, prios.get(prio.value), tier_node, field)
            if targets is None:
                ok = False
            else:
                table[tier][prio] = targets
    return table if ok else None


def sla_targets(r: NodeReader, node: Node | None, owner: Node, field: str) -> SlaTargets | None:
    if node is None:
        r.error(owner, field, "is required (first_response, onsite, resolution)")
        return None
    keys = {"first_response", "onsite", "resolution"}
    f = r.mapping(node, field, keys)
    if f is None:
        return None
    values: dict[str, timedelta] = {}
    for key in sorted(keys):
        if key not in f:
            r.error(node, f"{field}.{key}", "is required")
            continue
        value = r.duration(f[key], f"{field}.{key}")
        if value is not None:
            values[key] = value
    if len(values) != 3:
        return None
    targets = SlaTargets(values["first_response"], values["onsite"], values["resolution"])
    if not targets.first_response <= targets.onsite <= targets.resolution:
        r.error(node, field, "needs first_response <= onsite <= resolution")
        return None
    return targets


def escalation_chain(r: NodeReader, node: Node, where: str) -> tuple[EscalationStep, ...]:
    steps: list[EscalationStep] = []
    for item_where, item in r.items(node, where):
        f = r.mapping(item, item_where, {"after", "role", "action"})
        if f is None:
            continue
        after = r.duration(f.get("after"), f"{item_where}.after") if "after" in f else None
        if "after" not in f:
            r.error(item, f"{item_where}.after", "is required")
        role = r.string(f, "role", item_where, owner=item)
        action = r.string(f, "action", item_where, owner=item)
        if after is not None and role and action:
            steps.append(EscalationStep(after, role, action))
    if any(a.after > b.after for a, b in itertools.pairwise(steps)):
        r.error(node, where, "steps must be in order of their 'after' times")
    return tuple(steps)


def kpi_targets(r: NodeReader, node: Node, where: str) -> tuple[KpiTarget, ...]:
    out: list[KpiTarget] = []
    for item_where, item in r.items(node, where):
        text = r.scalar(item, item_where)
        if text is None:
            continue
        m = _KPI_RE.match(text)
        if m is None:
            r.error(item, item_where, f"{text!r} is not like 'first_response <= 15m'")
            continue
        name, op, raw = m.groups()
        unit = KPI_NAMES.get(name)
        if unit is None:
            r.error(item, item_where, f"unknown KPI {name!r} (known: {', '.join(KPI_NAMES)})")
            continue
        try:
            if unit == "duration":
                target = parse_duration(raw).total_seconds()
            elif unit == "rate":
                target = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
                if not 0 <= target <= 1:
                    raise ValueError(f"rate {raw} is outside 0 .. 100 %")
            else:
                target = float(raw)
                if not 1 <= target <= 5:
                    raise ValueError(f"satisfaction {raw} is outside 1 .. 5")
        except ValueError as exc:
            r.error(item, item_where, str(exc))
            continue
        out.append(KpiTarget(name, op, target))
    return tuple(out)


def priority_policy(r: NodeReader, node: Node | None) -> PriorityPolicy | None:
    where = "priority"
    if node is None:
        r.error(None, where, "is required (by_severity, by_time_to_failure, safety_margin)")
        return None
    f = r.mapping(node, where, {"by_severity", "by_time_to_failure", "safety_margin"})
    if f is None:
        return None
    prios = {p.value for p in Priority}
    by_sev: dict[Severity, Priority] = {}
    sev = r.mapping(f.get("by_severity"), f"{where}.by_severity", {s.value for s in Severity})
    if sev is not None:
        for s in Severity:
            value = r.string(
                sev, s.value, f"{where}.by_severity", choices=prios, owner=f.get("by_severity")
            )
            if value:
                by_sev[s] = Priority(value)
    ttf: list[tuple[timedelta, Priority]] = []
    for item_where, item in r.items(f.get("by_time_to_failure"), f"{where}.by_time_to_failure"):
        g = r.mapping(item, item_where, {"within", "priority"})
        if g is None:
            continue
        within = r.duration(g.get("within"), f"{item_where}.within")
        value = r.string(g, "priority", item_where, choices=prios, owner=item)
        if within is not None and value:
            ttf.append((within, Priority(value)))
    margin = r.duration(f.get("safety_margin"), f"{where}.safety_margin")
    if len(by_sev) != len(Severity) or margin is None:
        return None
    return PriorityPolicy(by_sev, tuple(ttf), margin)


def read_workflow(r: NodeReader, node: Node | None, where: str) -> Workflow | None:
    """Who dispatches, which level handles, who verifies (closes) and who reviews."""
    default = Workflow()
    if node is None:
        return default
    f = r.mapping(node, where, {"dispatch", "handle", "verify", "review"})
    if f is None:
        return None
    roles = {role.value for role in Role}
    levels = {level.value for level in Level}

    def pick(key: str, choices: set[str], fallback: str) -> str:
        return r.string(f, key, where, required=False, choices=choices) or fallback

    return Workflow(
        dispatch=Role(pick("dispatch", roles, default.dispatch)),
        handle=Level(pick("handle", levels, default.handle)),
        verify=Role(pick("verify", roles, default.verify)),
        review=Role(pick("review", roles, default.review)),
    )


def read_scheduling(r: NodeReader, node: Node | None, where: str) -> Scheduling | None:
    if node is None:
        return Scheduling()
    f = r.mapping(node, where, {"mode", "lead_time"})
    if f is None:
        return None
    mode = r.string(f, "mode", where, choices={"reactive", "scheduled", "booked"}, owner=node)
    lead = r.duration(f["lead_time"], f"{where}.lead_time") if "lead_time" in f else None
    if mode == "booked" and lead is None:
        r.error(node, f"{where}.lead_time", "is required for booked services")
    return Scheduling(mode or "reactive", lead)

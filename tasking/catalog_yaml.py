"""Parse and validate catalog YAML into a ``Catalog``, naming file, line and field of each problem.

Reusable pieces (SLA profiles, escalation chains, KPI sets) are declared once
at the top level and referenced by name from entries, so a catalog stays
short enough to review.
"""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode

from prognos.detection.flags import Severity
from prognos.tasking.catalog import (
    Catalog,
    CatalogEntry,
    EscalationStep,
    KnowledgeLink,
    KpiTarget,
    MatchRule,
)
from prognos.tasking.catalog_blocks import (
    SlaTable,
    escalation_chain,
    kpi_targets,
    priority_policy,
    read_scheduling,
    read_workflow,
    sla_table,
)
from prognos.tasking.errors import CatalogError
from prognos.tasking.vocabulary import (
    ASSET_TYPES,
    EQUIPMENT_FAILURE_MODES,
    KNOWLEDGE_KINDS,
    SENSOR_FAILURE_MODES,
    Category,
    EntryKind,
    Level,
)
from prognos.tasking.yamlnodes import NodeReader

TOP_KEYS = {
    "version",
    "description",
    "priority",
    "sla_profiles",
    "escalation_chains",
    "kpi_sets",
    "fallbacks",
    "rules",
    "entries",
    "extra_asset_types",
    "extra_failure_modes",
}
ENTRY_KEYS = {
    "id",
    "name",
    "description",
    "category",
    "kind",
    "asset_types",
    "failure_modes",
    "sla",
    "level",
    "skills",
    "sop",
    "knowledge",
    "escalation",
    "kpis",
    "workflow",
    "scheduling",
}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class _Parser:
    def __init__(self, reader: NodeReader) -> None:
        self.r = reader
        self.asset_types: set[str] = set(ASSET_TYPES)
        self.modes: set[str] = set(EQUIPMENT_FAILURE_MODES | SENSOR_FAILURE_MODES)
        self.profiles: dict[str, SlaTable] = {}
        self.chains: dict[str, tuple[EscalationStep, ...]] = {}
        self.kpi_sets: dict[str, tuple[KpiTarget, ...]] = {}
        # Names defined but invalid (already reported): referring to them is not a new error.
        self.broken: set[str] = set()

    def _sla_table(self, node: Node, where: str) -> SlaTable | None:
        return sla_table(self.r, node, where)

    def _chain(self, node: Node, where: str) -> tuple[EscalationStep, ...]:
        return escalation_chain(self.r, node, where)

    def _kpis(self, node: Node, where: str) -> tuple[KpiTarget, ...]:
        return kpi_targets(self.r, node, where)

    def named_or_inline(self, node: Node, where: str, table: dict, kind: str, build):  # type: ignore[no-untyped-def]
        if isinstance(node, ScalarNode):
            name = str(node.value)
            if name in self.broken:
                return None
            if name not in table:
                defined = ", ".join(table) or "none"
                self.r.error(node, where, f"unknown {kind} {name!r} (defined: {defined})")
                return None
            return table[name]
        return build(node, where)

    def entry(self, node: Node, where: str) -> CatalogEntry | None:
        before = len(self.r.issues)
        # Name the entry by its id in every message once the id is known.
        eid = _peek_id(node)
        if eid and _ID_RE.match(eid):
            where = f"entries[{eid}]"
        f = self.r.mapping(node, where, ENTRY_KEYS)
        if f is None:
            return None
        eid = self.r.string(f, "id", where, owner=node)
        if eid and not _ID_RE.match(eid):
            self.r.error(f["id"], f"{where}.id", "use lower-case letters, digits, '-', '_' or '.'")
        if len(self.r.issues) != before and eid:
            self.broken.add(eid)
        name = self.r.string(f, "name", where, owner=node)
        category = self.r.string(
            f, "category", where, choices={c.value for c in Category}, owner=node
        )
        kind = self.r.string(f, "kind", where, choices={k.value for k in EntryKind}, owner=node)
        level = self.r.string(f, "level", where, choices={lv.value for lv in Level}, owner=node)
        service = kind == EntryKind.SERVICE.value
        asset_types = self.r.strings(
            f, "asset_types", where, choices=self.asset_types, required=not service, owner=node
        )
        modes = self.r.strings(
            f, "failure_modes", where, choices=self.modes, required=not service, owner=node
        )
        sla = None
        if "sla" not in f:
            self.r.error(
                node, f"{where}.sla", "is required (a profile name or tier -> priority table)"
            )
        else:
            sla = self.named_or_inline(
                f["sla"], f"{where}.sla", self.profiles, "SLA profile", self._sla_table
            )
        knowledge: list[KnowledgeLink] = []
        for kw, kn in self.r.items(f.get("knowledge"), f"{where}.knowledge"):
            g = self.r.mapping(kn, kw, {"kind", "title", "url"})
            if g is None:
                continue
            link = KnowledgeLink(
                self.r.string(g, "kind", kw, choices=set(KNOWLEDGE_KINDS), owner=kn),
                self.r.string(g, "title", kw, owner=kn),
                self.r.string(g, "url", kw, owner=kn),
            )
            if link.kind and link.title and link.url:
                knowledge.append(link)
        escalation: tuple[EscalationStep, ...] = ()
        if "escalation" in f:
            escalation = (
                self.named_or_inline(
                    f["escalation"],
                    f"{where}.escalation",
                    self.chains,
                    "escalation chain",
                    self._chain,
                )
                or ()
            )
        kpis: tuple[KpiTarget, ...] = ()
        if "kpis" in f:
            kpis = (
                self.named_or_inline(
                    f["kpis"], f"{where}.kpis", self.kpi_sets, "KPI set", self._kpis
                )
                or ()
            )
        workflow = read_workflow(self.r, f.get("workflow"), f"{where}.workflow")
        scheduling = read_scheduling(self.r, f.get("scheduling"), f"{where}.scheduling")
        if len(self.r.issues) != before or sla is None or workflow is None or scheduling is None:
            self.broken.add(eid)
            return None
        return CatalogEntry(
            id=eid,
            name=name,
            category=Category(category),
            kind=EntryKind(kind),
            asset_types=frozenset(asset_types),
            failure_modes=frozenset(modes),
            sla=sla,
            level=Level(level),
            skills=tuple(self.r.strings(f, "skills", where)),
            sop=tuple(self.r.strings(f, "sop", where)),
            knowledge=tuple(knowledge),
            escalation=escalation,
            kpis=kpis,
            workflow=workflow,
            scheduling=scheduling,
            description=self.r.string(f, "description", where, required=False),
            line=node.start_mark.line + 1,
        )

    def rule(self, node: Node, where: str, entries: dict[str, CatalogEntry]) -> MatchRule | None:
        f = self.r.mapping(node, where, {"id", "entry", "when", "description"})
        if f is None:
            return None
        rid = self.r.string(f, "id", where, owner=node)
        entry_id = self.r.string(f, "entry", where, owner=node)
        if entry_id and entry_id not in entries and entry_id not in self.broken:
            self.r.error(f["entry"], f"{where}.entry", f"unknown entry {entry_id!r}")
        keys = {"kind", "asset_types", "failure_modes", "min_severity", "max_time_to_failure"}
        w = self.r.mapping(f.get("when"), f"{where}.when", keys) if "when" in f else {}
        if w is None:
            return None
        ttf = None
        if "max_time_to_failure" in w:
            ttf = self.r.duration(w["max_time_to_failure"], f"{where}.when.max_time_to_failure")
        sev = self.r.string(
            w, "min_severity", f"{where}.when", required=False, choices={s.value for s in Severity}
        )
        return MatchRule(
            id=rid,
            entry_id=entry_id,
            kinds=frozenset(
                self.r.strings(w, "kind", f"{where}.when", choices={"equipment", "sensor"})
            ),
            asset_types=frozenset(
                self.r.strings(w, "asset_types", f"{where}.when", choices=self.asset_types)
            ),
            failure_modes=frozenset(
                self.r.strings(w, "failure_modes", f"{where}.when", choices=self.modes)
            ),
            min_severity=Severity(sev) if sev else None,
            max_time_to_failure=ttf,
            description=self.r.string(f, "description", where, required=False),
        )


def _peek_id(node: Node) -> str:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "id" and isinstance(value, ScalarNode):
                return str(value.value).strip()
    return ""


def parse_catalog(text: str, file: str = "<catalog>") -> Catalog:
    """Parse catalog YAML text; raise ``CatalogError`` with every located problem."""
    r = NodeReader(file)
    root = r.compose(text)
    if root is None:
        if not r.issues:
            r.error(None, "(top)", "the file is empty")
        raise CatalogError(r.issues)
    top = r.mapping(root, "(top)", TOP_KEYS)
    if top is None:
        raise CatalogError(r.issues)
    p = _Parser(r)
    p.asset_types |= set(r.strings(top, "extra_asset_types", "(top)"))
    p.modes |= set(r.strings(top, "extra_failure_modes", "(top)"))
    version = r.string(top, "version", "(top)", owner=root).strip() if "version" in top else ""
    if not version:
        r.error(root, "version", "is required (the catalog version recorded on every order)")
    policy = priority_policy(r, top.get("priority"))
    for name, node in (
        (r.mapping(top["sla_profiles"], "sla_profiles") or {}).items()
        if "sla_profiles" in top
        else []
    ):
        table = sla_table(r, node, f"sla_profiles.{name}")
        if table is not None:
            p.profiles[name] = table
        else:
            p.broken.add(name)
    for name, node in (
        (r.mapping(top["escalation_chains"], "escalation_chains") or {}).items()
        if "escalation_chains" in top
        else []
    ):
        p.chains[name] = escalation_chain(r, node, f"escalation_chains.{name}")
    for name, node in (
        (r.mapping(top["kpi_sets"], "kpi_sets") or {}).items() if "kpi_sets" in top else []
    ):
        p.kpi_sets[name] = kpi_targets(r, node, f"kpi_sets.{name}")
    entries: dict[str, CatalogEntry] = {}
    if "entries" not in top:
        r.error(root, "entries", "is required (a list of catalog entries)")
    for where, node in r.items(top.get("entries"), "entries"):
        entry = p.entry(node, where)
        if entry is None:
            continue
        if entry.id in entries:
            r.error(
                node,
                f"entries[{entry.id}].id",
                f"appears twice (first at line {entries[entry.id].line})",
            )
            continue
        entries[entry.id] = entry
    rules: list[MatchRule] = []
    seen_rules: set[str] = set()
    for where, node in r.items(top.get("rules"), "rules"):
        rule = p.rule(node, where, entries)
        if rule is None:
            continue
        if rule.id in seen_rules:
            r.error(node, f"{where}.id", f"rule {rule.id!r} appears twice")
        seen_rules.add(rule.id)
        rules.append(rule)
    fallbacks: dict[str, str] = {}
    fb = (
        r.mapping(top.get("fallbacks"), "fallbacks", {"equipment", "sensor"})
        if "fallbacks" in top
        else None
    )
    if fb is None:
        if "fallbacks" not in top:
            r.error(root, "fallbacks", "is required (equipment and sensor fallback entries)")
    else:
        for kind in ("equipment", "sensor"):
            entry_id = r.string(fb, kind, "fallbacks", owner=top["fallbacks"])
            if entry_id and entry_id not in entries:
                if entry_id not in p.broken:
                    r.error(fb.get(kind), f"fallbacks.{kind}", f"unknown entry {entry_id!r}")
            elif entry_id and entries[entry_id].kind.value != kind:
                r.error(
                    fb.get(kind), f"fallbacks.{kind}", f"entry {entry_id!r} is not a {kind} entry"
                )
            fallbacks[kind] = entry_id
    if r.issues or policy is None:
        raise CatalogError(r.issues)
    return Catalog(version, entries, tuple(rules), fallbacks, policy, file)

"""The device registry: which customer, site and tier each device belongs to.

It reads the same YAML fleet file the simulators use (``customers``,
``sites``, ``devices``, optionally ``engineers``) and ignores keys it does not
know, so one file describes the fleet for every stage.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prognos.tasking.errors import FileIssue, RegistryError
from prognos.tasking.vocabulary import Level, Tier
from prognos.tasking.yamlnodes import NodeReader

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What tasking needs to know about a device to open a work order for it."""

    device: str
    asset_type: str
    site: str
    customer: str
    tier: Tier
    model: str = ""
    serial: str = ""
    known: bool = True


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    tier: Tier


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    customer: str


@dataclass(frozen=True, slots=True)
class Engineer:
    """A field engineer who can be suggested for and assigned to orders."""

    name: str
    level: Level
    skills: frozenset[str] = frozenset()
    authorised_entries: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Registry:
    """Customers, sites, devices and engineers, looked up by id."""

    customers: Mapping[str, Customer] = field(default_factory=dict)
    sites: Mapping[str, Site] = field(default_factory=dict)
    devices: Mapping[str, DeviceInfo] = field(default_factory=dict)
    engineers: tuple[Engineer, ...] = ()

    def device(self, device_id: str, asset_type: str = UNKNOWN, site: str = UNKNOWN) -> DeviceInfo:
        """The device's record; an unknown device is a standard-tier device of customer unknown.

        ``asset_type`` and ``site`` fill in what the registry cannot tell
        (callers pass what the telemetry topic said).
        """
        info = self.devices.get(device_id)
        if info is not None:
            return info
        customer = UNKNOWN
        tier = Tier.STANDARD
        known_site = self.sites.get(site)
        if known_site is not None:
            customer = known_site.customer
            owner = self.customers.get(customer)
            tier = owner.tier if owner is not None else Tier.STANDARD
        return DeviceInfo(device_id, asset_type, site, customer, tier, known=False)

    def engineer(self, name: str) -> Engineer | None:
        return next((e for e in self.engineers if e.name == name), None)


def load_registry(path: Path | None) -> Registry:
    """Load a fleet/registry YAML file; ``None`` gives an empty registry.

    Raises ``RegistryError`` listing every problem as ``file:line: field: message``.
    """
    if path is None:
        return Registry()
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(
            [FileIssue(str(source), 0, "(file)", f"cannot be read: {exc}")]
        ) from exc
    registry = parse_registry(text, str(source))
    log.info(
        "registry loaded source=%s customers=%d sites=%d devices=%d engineers=%d",
        source,
        len(registry.customers),
        len(registry.sites),
        len(registry.devices),
        len(registry.engineers),
    )
    return registry


def parse_registry(text: str, file: str = "<registry>") -> Registry:
    """Parse registry YAML text (see ``load_registry``)."""
    reader = NodeReader(file)
    root = reader.compose(text)
    if root is None:
        if reader.issues:
            raise RegistryError(reader.issues)
        return Registry()
    top = reader.mapping(root, "(top)")
    if top is None:
        raise RegistryError(reader.issues)
    customers: dict[str, Customer] = {}
    tiers = {t.value for t in Tier}
    for where, node in reader.items(top.get("customers"), "customers"):
        f = reader.mapping(node, where)
        if f is None:
            continue
        cid = reader.string(f, "id", where, owner=node)
        name = reader.string(f, "name", where, required=False, default=cid)
        tier = reader.string(f, "tier", where, required=False, default="standard", choices=tiers)
        if cid in customers:
            reader.error(node, f"{where}.id", f"customer {cid!r} is defined twice")
        elif cid:
            customers[cid] = Customer(cid, name, Tier(tier or "standard"))
    sites: dict[str, Site] = {}
    for where, node in reader.items(top.get("sites"), "sites"):
        f = reader.mapping(node, where)
        if f is None:
            continue
        sid = reader.string(f, "id", where, owner=node)
        name = reader.string(f, "name", where, required=False, default=sid)
        customer = reader.string(f, "customer", where, required=False, default=UNKNOWN)
        if customers and customer != UNKNOWN and customer not in customers:
            reader.error(f.get("customer"), f"{where}.customer", f"unknown customer {customer!r}")
        if sid in sites:
            reader.error(node, f"{where}.id", f"site {sid!r} is defined twice")
        elif sid:
            sites[sid] = Site(sid, name, customer)
    devices: dict[str, DeviceInfo] = {}
    for where, node in reader.items(top.get("devices"), "devices"):
        f = reader.mapping(node, where)
        if f is None:
            continue
        did = reader.string(f, "id", where, owner=node)
        asset_type = reader.string(f, "asset_type", where, owner=node)
        site_id = reader.string(f, "site", where, owner=node)
        site = sites.get(site_id)
        if site is None and sites and site_id:
            reader.error(f.get("site"), f"{where}.site", f"unknown site {site_id!r}")
        customer_id = site.customer if site is not None else UNKNOWN
        customer = customers.get(customer_id)
        tier = customer.tier if customer is not None else Tier.STANDARD
        info = DeviceInfo(
            device=did,
            asset_type=asset_type,
            site=site_id,
            customer=customer_id,
            tier=tier,
            model=reader.string(f, "model", where, required=False),
            serial=reader.string(f, "serial", where, required=False),
        )
        if did in devices:
            reader.error(node, f"{where}.id", f"device {did!r} is defined twice")
        elif did:
            devices[did] = info
    engineers: list[Engineer] = []
    levels = {lv.value for lv in Level}
    for where, node in reader.items(top.get("engineers"), "engineers"):
        f = reader.mapping(node, where)
        if f is None:
            continue
        name = reader.string(f, "name", where, owner=node)
        level = reader.string(f, "level", where, choices=levels, owner=node)
        if name and level:
            engineers.append(
                Engineer(
                    name,
                    Level(level),
                    frozenset(reader.strings(f, "skills", where)),
                    frozenset(reader.strings(f, "authorised", where)),
                )
            )
    if reader.issues:
        raise RegistryError(reader.issues)
    return Registry(customers, sites, devices, tuple(engineers))

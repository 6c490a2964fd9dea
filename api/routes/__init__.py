"""One router per resource: work orders, catalog, fleet, KPIs, events, system."""

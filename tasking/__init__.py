"""Prognos tasking stage: detection flags become catalog-driven maintenance work orders.

Read in this order: ``catalog`` (what services exist and how fast, loaded
and validated by ``catalog_yaml``), ``registry`` (which customer and tier a
device belongs to), ``domain`` (work orders, lifecycle and role matrix),
``intake`` and ``sla`` (flag to order, due times, SLA monitor), ``service``
(the use cases everyone calls), and the storage adapters ``repository``,
``uow`` and ``schema``. ``kpis`` and ``assignment`` answer planners'
questions over stored orders.
"""

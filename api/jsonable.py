"""Plain JSON from the domain's frozen dataclasses, for read-only views.

Durations become seconds, sets sorted lists, enums their values and aware
datetimes ISO-8601 strings, so one function serves catalog and KPI answers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any


def to_jsonable(value: Any, skip: frozenset[str] = frozenset()) -> Any:
    """``value`` as JSON-compatible data; dataclass fields named in ``skip`` are left out.

    >>> to_jsonable({"after": timedelta(minutes=2), "roles": frozenset({"b", "a"})})
    {'after': 120.0, 'roles': ['a', 'b']}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name), skip)
            for f in dataclasses.fields(value)
            if f.name not in skip
        }
    if isinstance(value, Mapping):
        return {str(to_jsonable(k)): to_jsonable(v, skip) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        items = [to_jsonable(v, skip) for v in value]
        return sorted(items, key=str)
    if isinstance(value, list | tuple):
        return [to_jsonable(v, skip) for v in value]
    return str(value)

"""Who should take an order: qualified engineers ranked by skills and open workload.

Qualification follows the role matrix: a junior needs an authorisation for
the order's service; others need the entry's level (or an authorisation).
Among the qualified, covering more of the entry's skills wins, then a lighter
workload, then not spending a more senior engineer than needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prognos.tasking.domain import WorkOrder
from prognos.tasking.registry import Engineer
from prognos.tasking.vocabulary import Level


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One ranked candidate and why."""

    engineer: str
    level: Level
    score: float
    open_orders: int
    matched_skills: tuple[str, ...]
    missing_skills: tuple[str, ...]
    reason: str


def is_qualified(order: WorkOrder, engineer: Engineer) -> bool:
    if order.catalog_entry_id in engineer.authorised_entries:
        return True
    if engineer.level == Level.JUNIOR:
        return False
    return engineer.level.rank >= order.required_level.rank


def rank_engineers(
    order: WorkOrder,
    engineers: Sequence[Engineer],
    workload: Mapping[str, int],
    limit: int = 3,
) -> list[Suggestion]:
    """The best ``limit`` qualified engineers for ``order``, best first.

    Score: 10 x share of the entry's skills covered, minus 1 per open order,
    minus 0.5 per level above the one required.
    """
    needed = tuple(order.skills)
    out: list[Suggestion] = []
    for engineer in engineers:
        if not is_qualified(order, engineer):
            continue
        matched = tuple(s for s in needed if s in engineer.skills)
        missing = tuple(s for s in needed if s not in engineer.skills)
        coverage = len(matched) / len(needed) if needed else 1.0
        load = int(workload.get(engineer.name, 0))
        spare_rank = max(0, engineer.level.rank - order.required_level.rank)
        score = round(10.0 * coverage - 1.0 * load - 0.5 * spare_rank, 3)
        reason = (
            f"{engineer.level.value}, skills {len(matched)}/{len(needed)}"
            f"{' (missing ' + ', '.join(missing) + ')' if missing else ''}, {load} open orders"
        )
        out.append(Suggestion(engineer.name, engineer.level, score, load, matched, missing, reason))
    out.sort(key=lambda s: (-s.score, s.open_orders, s.engineer))
    return out[:limit]

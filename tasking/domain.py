"""Work orders and the rules that govern them: lifecycle, role matrix, audit trail.

Plain classes with no storage or transport: ``order.transition(to, actor)``
either changes the order and writes an audit entry, or raises
``TransitionRefused`` with the reason. The role matrix follows the service
catalog article: juniors work only on services they are authorised for,
intermediates may request escalation, seniors approve closing, project
managers (and admins) have global control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from prognos.tasking.errors import InvalidRequestError, PermissionRefused, TransitionRefused
from prognos.tasking.vocabulary import Level, Priority, Role, Tier

__all__ = [
    "OPEN_STATUSES",
    "Actor",
    "AuditEntry",
    "ChecklistItem",
    "Comment",
    "Completion",
    "EscalationRule",
    "FlagSummary",
    "OrderStatus",
    "Role",
    "SlaEvent",
    "Verdict",
    "WorkOrder",
]


class OrderStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


#: While an order is in one of these, new flags for its device and failure mode join it.
OPEN_STATUSES = frozenset(
    {OrderStatus.NEW, OrderStatus.ASSIGNED, OrderStatus.IN_PROGRESS, OrderStatus.ON_HOLD}
)


class Verdict(StrEnum):
    """The technician's finding, fed back to detection."""

    CONFIRMED_FAULT = "confirmed_fault"
    FALSE_ALARM = "false_alarm"
    OTHER_CAUSE = "other_cause"


S = OrderStatus
R = Role
_ENGINEERS = frozenset({R.JUNIOR_ENGINEER, R.INTERMEDIATE_ENGINEER, R.SENIOR_ENGINEER})
_GLOBAL = frozenset({R.PROJECT_MANAGER, R.ADMIN})
_DISPATCH = frozenset({R.PLANNER}) | _GLOBAL
_ENGINEER_LEVEL = {
    R.JUNIOR_ENGINEER: Level.JUNIOR,
    R.INTERMEDIATE_ENGINEER: Level.INTERMEDIATE,
    R.SENIOR_ENGINEER: Level.SENIOR,
}

#: The legal edges of the lifecycle and the roles that may take each one.
#: Engineers (marked "work") must also be the assignee and qualified; closing
#: is for the entry's verifying role, seniors and global roles.
TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], frozenset[Role]] = {
    (S.NEW, S.ASSIGNED): _DISPATCH | {R.SENIOR_ENGINEER},
    (S.NEW, S.ON_HOLD): _DISPATCH,
    (S.NEW, S.CANCELLED): _DISPATCH,
    (S.ASSIGNED, S.NEW): _DISPATCH,
    (S.ASSIGNED, S.IN_PROGRESS): _ENGINEERS | _GLOBAL,
    (S.ASSIGNED, S.ON_HOLD): _DISPATCH | _ENGINEERS,
    (S.ASSIGNED, S.CANCELLED): _DISPATCH,
    (S.IN_PROGRESS, S.ASSIGNED): _ENGINEERS | _GLOBAL,
    (S.IN_PROGRESS, S.ON_HOLD): _DISPATCH | _ENGINEERS,
    (S.IN_PROGRESS, S.RESOLVED): _ENGINEERS | _GLOBAL,
    (S.IN_PROGRESS, S.CANCELLED): _GLOBAL,
    (S.ON_HOLD, S.NEW): _DISPATCH,
    (S.ON_HOLD, S.ASSIGNED): _DISPATCH,
    (S.ON_HOLD, S.IN_PROGRESS): _ENGINEERS | _GLOBAL,
    (S.ON_HOLD, S.CANCELLED): _DISPATCH,
    (S.RESOLVED, S.CLOSED): frozenset({R.SENIOR_ENGINEER}) | _GLOBAL,
    (S.RESOLVED, S.IN_PROGRESS): frozenset({R.SENIOR_ENGINEER}) | _GLOBAL,
}
_ENGINEER_WORK = {S.IN_PROGRESS, S.RESOLVED, S.ON_HOLD, S.ASSIGNED}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a name, a role and (for juniors) the entries they may work on."""

    name: str
    role: Role
    authorised_entries: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to an order: who, when, from which status to which, and why."""

    at: datetime
    actor: str
    role: str
    from_status: OrderStatus
    to_status: OrderStatus
    note: str = ""
    action: str = "transition"


@dataclass(frozen=True, slots=True)
class Comment:
    at: datetime
    author: str
    role: str
    text: str


@dataclass(slots=True)
class ChecklistItem:
    step: str
    done: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """How the work ended: notes, technician verdict, customer rating 1-5 (if given)."""

    at: datetime
    by: str
    notes: str
    verdict: Verdict
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """An SLA clock going at risk, breaching, or an escalation step firing."""

    at: datetime
    clock: str  # first_response | onsite | resolution | manual
    kind: str  # at_risk | breached | escalated | escalation_requested
    detail: str
    role: str = ""


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """A step of the entry's escalation chain copied onto the order at creation."""

    after: timedelta
    role: str
    action: str


@dataclass(slots=True)
class FlagSummary:
    """The evidence one detection flag contributed (latest state of that flag)."""

    flag_id: str
    state: str
    detector: str
    metrics: tuple[str, ...]
    score: float
    severity: str
    opened_at: datetime
    updated_at: datetime
    window_start_at: datetime
    window_end_at: datetime
    predicted_failure_at: datetime | None = None
    evidence: dict[str, float] = field(default_factory=dict)
    updates: int = 1


@dataclass(slots=True)
class WorkOrder:
    """One preventive-maintenance work order for one device and failure mode."""

    id: str
    device: str
    site: str
    customer: str
    tier: Tier
    asset_type: str
    flag_kind: str
    failure_mode: str
    catalog_entry_id: str
    catalog_version: str
    category: str
    title: str
    priority: Priority
    status: OrderStatus
    match_rule: str
    match_reason: str
    priority_reason: str
    required_level: Level
    skills: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime
    onsite_due_at: datetime
    resolve_due_at: datetime
    #: Expected failure on the SLA clock: now + the detector's lead time (see intake).
    predicted_failure_at: datetime | None = None
    verify_role: Role = Role.SENIOR_ENGINEER
    sop_checklist: list[ChecklistItem] = field(default_factory=list)
    knowledge_links: list[dict[str, str]] = field(default_factory=list)
    escalation_chain: list[EscalationRule] = field(default_factory=list)
    assignee: str | None = None
    flags: list[FlagSummary] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    history: list[AuditEntry] = field(default_factory=list)
    sla_events: list[SlaEvent] = field(default_factory=list)
    completion: Completion | None = None
    first_response_at: datetime | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    version: int = 0

    # -- queries ---------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def due_at(self, clock: str) -> datetime:
        return {
            "first_response": self.first_response_due_at,
            "onsite": self.onsite_due_at,
            "resolution": self.resolve_due_at,
        }[clock]

    def met_at(self, clock: str) -> datetime | None:
        return {
            "first_response": self.first_response_at,
            "onsite": self.started_at,
            "resolution": self.resolved_at,
        }[clock]

    # -- rules -----------------------------------------------------------
    def check_transition(self, to: OrderStatus, actor: Actor) -> None:
        """Raise ``TransitionRefused`` with the reason if ``actor`` may not move to ``to``."""
        to = OrderStatus(to)
        if to == self.status:
            raise TransitionRefused(f"order {self.id} is already {to.value}")
        roles = TRANSITIONS.get((self.status, to))
        if roles is None:
            legal = sorted(t.value for (f, t) in TRANSITIONS if f == self.status)
            raise TransitionRefused(
                f"{self.status.value} -> {to.value} is not a legal transition "
                f"(from {self.status.value}: {', '.join(legal) or 'none, it is final'})"
            )
        role = Role(actor.role)
        if to == S.CLOSED and role == self.verify_role:
            return
        if role not in roles:
            raise PermissionRefused(
                f"role {role.value} may not move an order {self.status.value} -> {to.value}"
            )
        if to == S.ASSIGNED and self.status in (S.NEW, S.ON_HOLD) and not self.assignee:
            raise TransitionRefused("the order has no assignee; assign an engineer first")
        working = role in _ENGINEERS and to in _ENGINEER_WORK and role != R.SENIOR_ENGINEER
        if working and self.assignee != actor.name:
            raise PermissionRefused(
                f"{actor.name} is not the assignee of order {self.id} "
                f"(assignee: {self.assignee or 'nobody'})"
            )
        if role in _ENGINEERS:
            self.check_qualified(actor.name, _ENGINEER_LEVEL[role], actor.authorised_entries)

    def check_qualified(self, name: str, level: Level, authorised: frozenset[str]) -> None:
        """Juniors need authorisation for the entry; others need the required level."""
        if level == Level.JUNIOR:
            if self.catalog_entry_id not in authorised:
                raise PermissionRefused(
                    f"junior engineer {name} is not authorised for service {self.catalog_entry_id}"
                )
            return
        if level.rank < self.required_level.rank and self.catalog_entry_id not in authorised:
            raise PermissionRefused(
                f"{name} is {level.value}; service {self.catalog_entry_id} needs "
                f"{self.required_level.value} or an authorisation"
            )

    # -- changes ---------------------------------------------------------
    def transition(
        self, to: OrderStatus | str, actor: Actor, note: str = "", now: datetime | None = None
    ) -> None:
        """Move to ``to`` if the lifecycle and role matrix allow it; audit the change."""
        to = OrderStatus(to)
        if to == S.RESOLVED:
            raise TransitionRefused("resolve an order by completing it (notes and verdict)")
        self.check_transition(to, actor)
        self._move(to, actor, note, _now(now))

    def _move(
        self, to: OrderStatus, actor: Actor, note: str, at: datetime, action: str = "transition"
    ) -> None:
        before = self.status
        self.status = to
        if to == S.NEW:
            self.assignee = None
        if to == S.IN_PROGRESS and self.started_at is None:
            self.started_at = at
        if to == S.RESOLVED:
            self.resolved_at = at
        if to == S.IN_PROGRESS and before == S.RESOLVED:
            self.resolved_at = None
            self.completion = None
        if to == S.CLOSED:
            self.closed_at = at
        self._responded(at)
        self._audit(actor, before, to, note, at, action)

    def assign(
        self,
        assignee: str,
        actor: Actor,
        now: datetime | None = None,
        *,
        level: Level | None = None,
        authorised: frozenset[str] = frozenset(),
        note: str = "",
    ) -> None:
        """Give the order to ``assignee`` (known engineers are checked for qualification)."""
        at = _now(now)
        if not assignee.strip():
            raise InvalidRequestError("assignee must be a non-empty name")
        role = Role(actor.role)
        if role not in _DISPATCH | {R.SENIOR_ENGINEER}:
            raise PermissionRefused(f"role {role.value} may not assign orders")
        if self.status not in (S.NEW, S.ASSIGNED, S.ON_HOLD):
            raise TransitionRefused(f"an order that is {self.status.value} cannot be (re)assigned")
        if level is not None:
            self.check_qualified(assignee, level, authorised)
        previous = self.assignee
        self.assignee = assignee
        text = note or (f"assigned to {assignee}" + (f" (was {previous})" if previous else ""))
        if self.status == S.NEW:
            self._move(S.ASSIGNED, actor, text, at, action="assign")
        else:
            self._responded(at)
            self._audit(actor, self.status, self.status, text, at, "assign")

    def add_comment(self, actor: Actor, text: str, now: datetime | None = None) -> Comment:
        if not text.strip():
            raise InvalidRequestError("a comment needs text")
        at = _now(now)
        comment = Comment(at, actor.name, Role(actor.role).value, text.strip())
        self.comments.append(comment)
        self._responded(at)
        self.updated_at = at
        return comment

    def set_step(self, index: int, done: bool, actor: Actor, now: datetime | None = None) -> None:
        """Tick or untick SOP step ``index`` (0-based)."""
        if not 0 <= index < len(self.sop_checklist):
            raise InvalidRequestError(
                f"step {index} does not exist (the checklist has {len(self.sop_checklist)} steps)"
            )
        if not self.is_open:
            raise TransitionRefused(f"the checklist of a {self.status.value} order is frozen")
        self.sop_checklist[index].done = done
        self.updated_at = _now(now)

    def complete(
        self,
        actor: Actor,
        notes: str,
        verdict: Verdict | str,
        rating: int | None = None,
        checklist: list[bool] | None = None,
        now: datetime | None = None,
    ) -> Completion:
        """Resolve the order with resolution notes, verdict and optional rating."""
        at = _now(now)
        try:
            verdict = Verdict(verdict)
        except ValueError:
            raise InvalidRequestError(
                f"verdict {verdict!r} is not one of {', '.join(v.value for v in Verdict)}"
            ) from None
        _check_rating(rating)
        if not notes.strip():
            raise InvalidRequestError("resolution notes are required to complete an order")
        if checklist is not None and len(checklist) != len(self.sop_checklist):
            raise InvalidRequestError(
                f"checklist has {len(checklist)} states; "
                f"the SOP has {len(self.sop_checklist)} steps"
            )
        self.check_transition(S.RESOLVED, actor)
        if checklist is not None:
            for item, done in zip(self.sop_checklist, checklist, strict=True):
                item.done = bool(done)
        self.completion = Completion(at, actor.name, notes.strip(), verdict, rating)
        self._move(S.RESOLVED, actor, f"completed: {verdict.value}", at, action="complete")
        return self.completion

    def rate(self, rating: int, actor: Actor, now: datetime | None = None) -> None:
        """Record the customer's rating (1-5) on a completed order."""
        _check_rating(rating)
        if self.completion is None:
            raise TransitionRefused("only a completed order can be rated")
        at = _now(now)
        c = self.completion
        self.completion = Completion(c.at, c.by, c.notes, c.verdict, rating)
        self._audit(actor, self.status, self.status, f"customer rating {rating}", at, "rate")

    def request_escalation(self, actor: Actor, note: str, now: datetime | None = None) -> SlaEvent:
        """Intermediate and senior engineers (and global roles) may ask for escalation."""
        role = Role(actor.role)
        allowed = {R.INTERMEDIATE_ENGINEER, R.SENIOR_ENGINEER} | _GLOBAL
        if role not in allowed:
            raise PermissionRefused(f"role {role.value} may not request escalation")
        if not self.is_open:
            raise TransitionRefused(f"a {self.status.value} order cannot be escalated")
        at = _now(now)
        event = SlaEvent(
            at, "manual", "escalation_requested", note or "escalation requested", role.value
        )
        self.sla_events.append(event)
        self._audit(
            actor, self.status, self.status, f"escalation requested: {note}", at, "escalate"
        )
        return event

    def raise_priority(
        self,
        priority: Priority,
        reason: str,
        dues: tuple[datetime, datetime, datetime],
        at: datetime,
    ) -> bool:
        """Make the order more urgent (never less); due times only move earlier."""
        if priority.rank >= self.priority.rank:
            return False
        system = Actor("prognos", Role.ADMIN)
        before = self.priority
        self.priority = priority
        self.priority_reason = reason
        self.first_response_due_at = min(self.first_response_due_at, dues[0])
        self.onsite_due_at = min(self.onsite_due_at, dues[1])
        self.resolve_due_at = min(self.resolve_due_at, dues[2])
        note = f"priority {before.value} -> {priority.value}: {reason}"
        self._audit(system, self.status, self.status, note, at, "priority")
        return True

    # -- internals ---------------------------------------------------------
    def _responded(self, at: datetime) -> None:
        if self.first_response_at is None:
            self.first_response_at = at

    def _audit(
        self,
        actor: Actor,
        before: OrderStatus,
        after: OrderStatus,
        note: str,
        at: datetime,
        action: str,
    ) -> None:
        self.history.append(
            AuditEntry(at, actor.name, Role(actor.role).value, before, after, note, action)
        )
        self.updated_at = at


def _check_rating(rating: int | None) -> None:
    if rating is None:
        return
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidRequestError(f"rating must be a whole number 1 to 5, got {rating!r}")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidRequestError("times must be timezone-aware (UTC)")
    return now.astimezone(UTC)

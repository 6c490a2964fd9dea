"""The tasking stage's exception hierarchy.

Every error a caller of ``prognos.tasking`` can see derives from
``TaskingError``; the edges (HTTP problem details, CLI messages) map these
to user-facing answers.
"""

from __future__ import annotations

from dataclasses import dataclass


class TaskingError(Exception):
    """Base class of every error raised by the tasking stage."""


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One problem found in a catalog or registry file, with its location."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


#: The catalog's name for a located file problem.
CatalogIssue = FileIssue


class FileValidationError(TaskingError):
    """A YAML file failed validation; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FileIssue]) -> None:
        self.errors = sorted(errors, key=lambda issue: (issue.file, issue.line))
        super().__init__("\n".join(str(issue) for issue in self.errors))


class CatalogError(FileValidationError):
    """The service catalog file is invalid; ``str()`` lists ``file:line: field: message``."""


class RegistryError(FileValidationError):
    """The device registry (fleet) file is invalid."""


class OrderNotFoundError(TaskingError):
    """No work order has the requested id."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"work order {order_id!r} does not exist")


class TransitionRefused(TaskingError):  # noqa: N818 - the domain's own word
    """The domain refused a change to a work order; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class PermissionRefused(TransitionRefused):
    """The change is legal for the order, but not for this actor (role, assignee, level)."""


class VersionConflictError(TaskingError):
    """The order changed since the caller read it (optimistic concurrency)."""

    def __init__(self, order_id: str, expected: int, actual: int | None) -> None:
        self.order_id = order_id
        self.expected = expected
        self.actual = actual
        found = "another writer got there first" if actual is None else f"it is at {actual}"
        super().__init__(
            f"work order {order_id!r} is not at version {expected}: {found}; reload and retry"
        )


class InvalidRequestError(TaskingError):
    """A use-case argument is malformed (bad cursor, bad rating, unknown field...)."""


class StorageError(TaskingError):
    """The work-order store could not complete an operation (schema, connection)."""

"""Units of work: one atomic transaction around the work-order repository.

``with uow: ...; uow.commit()`` — leaving the block without commit rolls
back. ``SqlUnitOfWork`` opens one connection per block (safe to share across
threads as long as each thread enters its own block); ``InMemoryUnitOfWork``
is the fake for fast tests.
"""

from __future__ import annotations

import copy
import logging
import threading
from abc import ABC, abstractmethod
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from prognos.tasking.domain import WorkOrder
from prognos.tasking.errors import StorageError
from prognos.tasking.repository import InMemoryRepository, Repository, SqlRepository
from prognos.tasking.schema import make_engine

__all__ = ["InMemoryUnitOfWork", "SqlUnitOfWork", "UnitOfWork", "make_engine"]

log = logging.getLogger(__name__)


class UnitOfWork(ABC):
    """The port use cases depend on: a repository plus commit/rollback."""

    orders: Repository

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


class SqlUnitOfWork(UnitOfWork):
    """A transaction on an engine made by ``make_engine``.

    Not re-entrant: a thread enters it once at a time. To use one object from
    several threads, give each thread its own ``SqlUnitOfWork(engine)``, or
    rely on the per-thread state kept here.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    @property
    def _conn(self) -> Connection | None:
        return getattr(self._local, "conn", None)

    @property
    def orders(self) -> Repository:  # type: ignore[override]
        repo = getattr(self._local, "repo", None)
        if repo is None:
            raise RuntimeError("use the unit of work inside a 'with' block")
        return repo

    def __enter__(self) -> SqlUnitOfWork:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open in this thread")
        # The transaction begins on first use (BEGIN IMMEDIATE on SQLite).
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc
        self._local.conn = conn
        self._local.repo = SqlRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        try:
            if conn is not None and conn.in_transaction():
                conn.rollback()
        except SQLAlchemyError:
            log.warning("rollback failed; the connection is discarded", exc_info=True)
        finally:
            if conn is not None:
                conn.close()
            self._local.conn = None
            self._local.repo = None
        if isinstance(exc, SQLAlchemyError):
            # Callers see the tasking error hierarchy, never the driver's.
            raise _storage_error(exc) from exc

    def commit(self) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("commit outside a 'with' block")
        try:
            conn.commit()
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    def rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction():
            conn.rollback()


def _storage_error(exc: SQLAlchemyError) -> StorageError:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StorageError(f"work-order store failed ({type(exc).__name__}): {detail}")


class InMemoryUnitOfWork(UnitOfWork):
    """Staged changes over a shared dict; commit publishes them atomically."""

    def __init__(self, store: dict[str, WorkOrder] | None = None) -> None:
        self.committed: dict[str, WorkOrder] = store if store is not None else {}
        self.orders = InMemoryRepository({})
        self.commits = 0
        self._lock = threading.Lock()

    def __enter__(self) -> InMemoryUnitOfWork:
        self._lock.acquire()
        self.orders = InMemoryRepository(copy.deepcopy(self.committed))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self._lock.release()

    def commit(self) -> None:
        self.committed.clear()
        self.committed.update(copy.deepcopy(self.orders.store))
        self.commits += 1

    def rollback(self) -> None:
        self.orders = InMemoryRepository(copy.deepcopy(self.committed))

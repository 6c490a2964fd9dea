"""Work-order storage schema and its migrations, for SQLite and PostgreSQL alike.

Each order is one row: the columns planners filter and sort on, plus the full
order as JSON. ``open_key`` is ``device|failure_mode`` while the order is
open and NULL afterwards; its unique constraint is what makes duplicate open
orders impossible even across processes. ``make_engine`` creates or migrates
the schema and records its version in ``schema_version``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from prognos.tasking.errors import StorageError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StorageError("refusing to store a naive datetime; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UtcDateTime, nullable=False),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("device", String(200), nullable=False),
    Column("site", String(200), nullable=False),
    Column("customer", String(200), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("asset_type", String(64), nullable=False),
    Column("flag_kind", String(20), nullable=False),
    Column("failure_mode", String(64), nullable=False),
    Column("catalog_entry_id", String(100), nullable=False),
    Column("category", String(64), nullable=False),
    Column("priority", String(4), nullable=False),
    Column("status", String(20), nullable=False),
    Column("assignee", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolve_due_at", UtcDateTime, nullable=False),
    Column("open_key", String(300), nullable=True, unique=True),
    Column("version", BigInteger, nullable=False),
    Column("body", JSON, nullable=False),
    Index("ix_work_orders_created", "created_at", "id"),
    Index("ix_work_orders_status", "status"),
    Index("ix_work_orders_device", "device"),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[work_orders], checkfirst=True)


#: Migration ``n`` brings the schema from version ``n - 1`` to ``n``.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1}


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``), schema migrated.

    SQLite runs in WAL mode with a busy timeout, and every transaction starts
    with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database url {url!r} is not valid: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StorageError(f"cannot use {parsed.drivername}: {exc}") from exc
    else:
        raise StorageError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(f"cannot prepare the work-order schema at {parsed!r}: {exc}") from exc
    return engine


def _sqlite_engine(parsed: Any) -> Engine:
    database = parsed.database
    memory = database in (None, "", ":memory:")
    if not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30.0, "check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(parsed, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below applies.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> int:
    """Apply pending migrations; return the schema version now in place."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Serialise concurrent starters of several instances.
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        metadata.create_all(conn, tables=[schema_version], checkfirst=True)
        current = conn.execute(
            select(schema_version.c.version).order_by(schema_version.c.version.desc())
        ).scalar()
        current = int(current or 0)
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"the database schema is version {current}, "
                f"newer than this Prognos supports ({SCHEMA_VERSION})"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
            conn.execute(
                schema_version.insert().values(version=version, applied_at=datetime.now(UTC))
            )
            log.info(
                "work-order schema migrated to version=%d backend=%s", version, engine.dialect.name
            )
        return SCHEMA_VERSION

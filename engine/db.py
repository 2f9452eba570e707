"""Database connections and schema migrations (Alembic)."""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine import batch

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an SQLAlchemy engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("timeout", 30)
        db_path = url.split("///", 1)[-1] if "///" in url else ""
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql"):
        # JIT compiling costs 20-30 ms a query and pays off only for long analytical scans;
        # an inbox's estimate can wake it (docs/benchmarks.md, "Data at scale").
        kwargs.setdefault("connect_args", {})
        options = kwargs["connect_args"].get("options", "")
        if "jit" not in options:
            kwargs["connect_args"]["options"] = f"{options} -c jit=off".strip()
    psycopg = url.startswith("postgresql+psycopg") and "psycopg2" not in url
    if not url.startswith("sqlite") and not psycopg:
        # A server restart or a dropped connection must not fail the next request: a pooled
        # connection is checked (one round trip) before use and replaced when it is dead.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif psycopg:
        batch.install(engine)
        engine.dialect.do_rollback = batch.rollback_keeping_prepared  # type: ignore[method-assign]
        engine.dialect.do_commit = batch.commit_if_open  # type: ignore[method-assign]
        if not kwargs.get("pool_pre_ping"):
            event.listen(engine, "checkin", _checked_in)
            event.listen(engine, "checkout", _check_alive)
    return engine


# A pooled connection idle longer than this is pinged before use whatever its socket says.
IDLE_PING_SECONDS = 10.0


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Replace a pooled psycopg connection the server has closed, mostly without a round trip.

    The same guarantee as ``pool_pre_ping`` (a server restart does not fail the next request)
    at the cost of a local check: an idle connection's socket has nothing to read unless the
    server sent something — when it shuts down or ends the session, its farewell and the
    end of the stream. Only then, or after a long idle spell, is the connection pinged; the
    pool discards it if the ping fails and connects afresh.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("connection closed")
    idle_since = record.info.get("idle_since")
    if idle_since is None:
        return  # just connected
    try:
        poller = select.poll()  # not select.select: it fails for descriptors past 1023
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        readable = poller.poll(0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(f"connection socket unusable: {exc}") from exc
    if not readable and time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    import psycopg  # only psycopg connections get here

    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        batch.rollback_keeping_prepared(dbapi_connection)
    except psycopg.Error as exc:
        raise DisconnectionError(f"connection lost: {exc}") from exc


WRITER = {"sqlite_begin": "IMMEDIATE"}


def writer(engine: Engine) -> Engine:
    """The engine for a process whose transactions all write (the worker's jobs).

    On SQLite a transaction that reads first and writes later fails at once with "database is
    locked" when another process committed in between (a stale WAL snapshot); the busy timeout
    does not help. Such an engine begins every transaction with BEGIN IMMEDIATE: it waits for
    the write lock first, so its reads are never stale. Other databases are unchanged.
    """
    return engine.execution_options(**WRITER)


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's own implicit BEGIN breaks SAVEPOINTs (SQLAlchemy's documented workaround):
    # it is switched off in _sqlite_pragmas and every transaction begins here instead.
    mode = conn.get_execution_options().get("sqlite_begin", "")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    # WAL lets readers work during a write; NORMAL sync is durable at each checkpoint in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker bound to the engine; callers own each session's lifetime."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the engine's migrations, using this engine."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def flushed_connection(session: Session) -> Connection:
    """The session's connection after writing what the session still holds: prebuilt Core
    statements run on it directly (cheaper than the ORM) but would not autoflush."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()

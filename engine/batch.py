"""Send statements in one round trip on PostgreSQL (psycopg's pipeline mode).

A step writes its instance row, its task rows, its message subscriptions and its audit rows:
on a server each statement waited for its answer before the next was sent. A `Batch` queues
them and sends them together, then checks each row count. On SQLite (no network) it runs each
statement at once, through SQLAlchemy as before.

A connection has one batch (`Batch.of`), so what several modules queue goes in one trip.
Queued statements are sent by `run()`, or else before the next statement on the connection
or together with its COMMIT (`install`'s hooks): a step that holds its instance's lock leaves
its writes to go with the COMMIT. The order of statements on the connection never changes.

The statements are the engine's prebuilt Core statements, compiled once per dialect.
Database errors come back as SQLAlchemy's exception classes, as from `Connection.execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable

# Keyed by the statement object (kept alive here, so its id is never reused): only the
# engine's prebuilt module-level statements go through a Batch.
_COMPILED: dict[tuple[int, str, tuple[str, ...]], tuple[Executable, Any]] = {}


def _compiled(statement: Executable, conn: Connection, keys: tuple[str, ...]) -> Any:
    key = (id(statement), conn.dialect.name, keys)
    entry = _COMPILED.get(key)
    if entry is None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys) or None)
        _COMPILED[key] = entry = (statement, compiled)
    return entry[1]


class _ExactlyOne:
    """A row-count check: the statement must have touched one row, else `error` is raised."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, count: int) -> None:
        if count != 1:
            raise self.error


def exactly_one(error: Exception) -> Callable[[int], None]:
    """A row-count check: the statement must have touched one row, else `error` is raised."""
    return _ExactlyOne(error)


@dataclass
class _Queued:
    statement: Executable
    params: list[dict[str, Any]]
    check: Callable[[int], None] | None
    cursor: Any = None
    sql: str = ""
    rows: list[Any] = field(default_factory=list)


_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open
_PENDING = "jenjang_batch"  # a connection's batch with statements not sent yet (its info)


class Batch:
    """Statements sent together on PostgreSQL; `run()` sends them and checks row counts."""

    def __init__(self, conn: Connection) -> None:
        """conn: the session's connection, inside its transaction."""
        self.conn = conn
        self.pipelined = conn.dialect.name == "postgresql"
        self.queued: list[_Queued] = []

    @classmethod
    def of(cls, conn: Connection) -> Batch:
        """The connection's batch: statements queued by anyone on it go in one trip."""
        found = conn.info.get(_PENDING)
        return found if isinstance(found, Batch) and found.conn is conn else cls(conn)

    def add(
        self,
        statement: Executable,
        params: dict[str, Any] | Sequence[dict[str, Any]],
        check: Callable[[int], None] | None = None,
    ) -> _Queued:
        """Queue a statement (several parameter sets: executemany); check(rowcount) after."""
        rows = [params] if isinstance(params, dict) else list(params)
        item = _Queued(statement, rows, check)
        if self.pipelined:
            self.queued.append(item)
            self.conn.info[_PENDING] = self
            return item
        result = self.conn.execute(statement, rows if len(rows) > 1 else rows[0])
        if result.returns_rows:
            item.rows = list(result)
        if check is not None:
            check(result.rowcount)
        return item

    def run(self, commit: bool = False) -> None:
        """Send what is queued in one round trip (PostgreSQL) and check each row count.

        commit: COMMIT in the same trip (the connection's commit hook).
        """
        if self.conn.info.get(_PENDING) is self:
            del self.conn.info[_PENDING]
        if not self.queued:
            return
        queued, self.queued = self.queued, []
        driver = self.conn.connection.driver_connection
        assert driver is not None
        try:
            with driver.pipeline():
                _begin(driver)
                for number, item in enumerate(queued):
                    compiled = _compiled(item.statement, self.conn, tuple(item.params[0]))
                    item.sql = compiled.string
                    values = [_bind(compiled, p) for p in item.params]
                    item.cursor = driver.cursor()
                    if len(values) > 1:
                        item.cursor.executemany(item.sql, values)
                    elif commit and isinstance(item.check, _ExactlyOne):
                        item.cursor.execute(_guarded(item.sql, number), values[0])
                    else:
                        item.cursor.execute(item.sql, values[0])
                if commit and not driver.autocommit:
                    # In this Sync; the driver's own commit() then has nothing to do.
                    driver.cursor().execute("COMMIT")
            for item in queued:
                if item.cursor.description is not None:
                    item.rows = _processed(item.statement, self.conn, item.cursor.fetchall())
        except self.conn.dialect.loaded_dbapi.Error as err:
            if commit:
                # SQLAlchemy counts the transaction as ended and will not roll it back: the
                # connection must not go back to the pool inside the failed transaction.
                _roll_back(driver)
                for number, item in enumerate(queued):
                    if _GUARD.format(number) in str(err) and isinstance(item.check, _ExactlyOne):
                        raise item.check.error from err
            # A statement after a failed check ran anyway (e.g. the task rows of a step whose
            # instance was moved on by someone else meanwhile): the check names the cause.
            self._check(queued)
            failed = next((i.sql for i in queued if i.sql and i.cursor.rowcount < 0), "")
            raise DBAPIError.instance(
                failed, None, err, self.conn.dialect.loaded_dbapi.Error
            ) from err
        self._check(queued)

    @staticmethod
    def _check(queued: list[_Queued]) -> None:
        for item in queued:
            count = item.cursor.rowcount if item.cursor is not None else -1
            if count < 0:
                return  # not run: the pipeline stopped at an error before it
            if item.check is not None:
                item.check(count)


_GUARD = "jenjang-check-{}"


def _guarded(sql: str, number: int) -> str:
    """The statement made to fail in the server unless it touched exactly one row.

    With the COMMIT in the same trip a row count checked afterwards would come too late:
    the failure (an integer cast of the marker) stops the pipeline before the COMMIT, and
    the marker in the error names the statement whose check failed.
    """
    marker = _GUARD.format(number)
    return (
        f"WITH checked AS ({sql} RETURNING 1) "
        f"SELECT CAST(CASE WHEN count(*) = 1 THEN '1' ELSE '{marker}' END AS integer) "
        "FROM checked"
    )


def _roll_back(driver: Any) -> None:
    with suppress(Exception):  # a broken connection: the pool's check replaces it
        driver.rollback()


def _begin(driver: Any) -> None:
    """Queue the transaction's BEGIN in this trip.

    psycopg sends its own implicit BEGIN in pipeline mode with a Sync of its own, waiting for
    the answer: a round trip. With its autocommit flag set for the moment, the first statement
    goes without, and the BEGIN queued here takes its place. Only for a plain BEGIN (no
    isolation level or access mode of the connection's own); if psycopg's flag ever changes
    name, it sends its BEGIN as before and the server ignores this one (a warning).
    """
    if driver.autocommit or driver.pgconn.transaction_status != _IDLE:
        return
    if (driver.isolation_level, driver.read_only, driver.deferrable) != (None, None, None):
        return
    driver._autocommit = True
    try:
        driver.cursor().execute("BEGIN")
    finally:
        driver._autocommit = False


def install(engine: Engine) -> None:
    """Hooks sending a connection's queued statements before its next statement or with its
    COMMIT, and dropping them on rollback (PostgreSQL engines)."""
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "checkin", _checked_in)


def _before_statement(conn: Connection, *_args: Any) -> None:
    pending = conn.info.get(_PENDING)
    if pending is not None:
        pending.run()


def _commit(conn: Connection) -> None:
    pending = conn.info.get(_PENDING)
    if pending is not None:
        pending.run(commit=True)  # the driver's own commit then finds nothing to do


def _forget(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info.pop(_PENDING, None)  # the pool rolled the transaction back


_PROCESSORS: dict[tuple[int, str], list[Any]] = {}


def _processed(statement: Executable, conn: Connection, rows: list[Any]) -> list[Any]:
    """Rows of a SELECT through its columns' result processors, as SQLAlchemy would give."""
    key = (id(statement), conn.dialect.name)
    processors = _PROCESSORS.get(key)
    if processors is None:
        columns = getattr(statement, "selected_columns", ())
        processors = [c.type._cached_result_processor(conn.dialect, None) for c in columns]
        _PROCESSORS[key] = processors
    if not any(processors):
        return rows
    return [
        tuple(v if f is None or v is None else f(v) for f, v in zip(processors, row, strict=True))
        for row in rows
    ]


def _bind(compiled: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The statement's full parameters (its own literals too), through the type processors."""
    values: dict[str, Any] = compiled.construct_params(params)
    processors = compiled._bind_processors
    for key, process in processors.items():
        if key in values and values[key] is not None:
            values[key] = process(values[key])
    return values

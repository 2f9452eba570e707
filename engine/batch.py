"""Write statements in one round trip on PostgreSQL (psycopg's pipeline mode).

A step writes its instance row, its task rows and its message subscriptions, then locks the
audit head: on a server each statement waited for its answer before the next was sent. A
`Batch` queues them and sends them together, then checks each row count. On SQLite (no
network) it runs each statement at once, through SQLAlchemy as before.

The statements are the engine's prebuilt Core statements, compiled once per dialect.
Database errors come back as SQLAlchemy's exception classes, as from `Connection.execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
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


def exactly_one(error: Exception) -> Callable[[int], None]:
    """A row-count check: the statement must have touched one row, else `error` is raised."""

    def check(count: int) -> None:
        if count != 1:
            raise error

    return check


@dataclass
class _Queued:
    statement: Executable
    params: list[dict[str, Any]]
    check: Callable[[int], None] | None
    cursor: Any = None
    sql: str = ""
    rows: list[Any] = field(default_factory=list)


class Batch:
    """Statements sent together on PostgreSQL; `run()` sends them and checks row counts."""

    def __init__(self, conn: Connection) -> None:
        """conn: the session's connection, inside its transaction."""
        self.conn = conn
        self.pipelined = conn.dialect.name == "postgresql"
        self.queued: list[_Queued] = []

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
            return item
        result = self.conn.execute(statement, rows if len(rows) > 1 else rows[0])
        if result.returns_rows:
            item.rows = list(result)
        if check is not None:
            check(result.rowcount)
        return item

    def run(self) -> None:
        """Send what is queued in one round trip (PostgreSQL) and check each row count."""
        if not self.queued:
            return
        queued, self.queued = self.queued, []
        driver = self.conn.connection.driver_connection
        assert driver is not None
        try:
            with driver.pipeline():
                for item in queued:
                    compiled = _compiled(item.statement, self.conn, tuple(item.params[0]))
                    item.sql = compiled.string
                    values = [_bind(compiled, p) for p in item.params]
                    item.cursor = driver.cursor()
                    if len(values) > 1:
                        item.cursor.executemany(item.sql, values)
                    else:
                        item.cursor.execute(item.sql, values[0])
            for item in queued:
                if item.cursor.description is not None:
                    item.rows = item.cursor.fetchall()
        except self.conn.dialect.loaded_dbapi.Error as err:
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


def _bind(compiled: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The statement's full parameters (its own literals too), through the type processors."""
    values: dict[str, Any] = compiled.construct_params(params)
    processors = compiled._bind_processors
    for key, process in processors.items():
        if key in values and values[key] is not None:
            values[key] = process(values[key])
    return values

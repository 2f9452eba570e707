"""Send statements in one round trip on PostgreSQL (a libpq pipeline), run them as they come
on SQLite.

A step writes its instance row, its task rows, its message subscriptions and its audit rows:
on a server each statement waited for its answer before the next was sent. A `Batch` queues
them and sends them together, then checks each row count. On SQLite (no network) it runs each
statement at once, through SQLAlchemy as before.

A connection has one batch (`Batch.of`), so what several modules queue goes in one trip.
Queued statements are sent by `run()`, or else before the next statement on the connection
or together with its COMMIT (`install`'s hooks): a step that holds its instance's lock leaves
its writes to go with the COMMIT. The order of statements on the connection never changes.

On the wire (`_Wire`) the BEGIN, the statements and the COMMIT are written into libpq's
pipeline and flushed once, with the answers read in one wait; psycopg's own pipeline mode
flushes and polls after every statement. The statements are prepared once per connection.

The statements are the engine's prebuilt Core statements, compiled once per dialect.
Database errors come back as SQLAlchemy's exception classes, as from `Connection.execute`.
"""

from __future__ import annotations

import re
import select
import weakref
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, ClassVar

from psycopg import Binary, pq
from psycopg import errors as psycopg_errors
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable


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
    count: int = -1  # rows touched, once run
    sql: str = ""
    rows: list[Any] = field(default_factory=list)


_IDLE = pq.TransactionStatus.IDLE
_COMMAND_OK, _TUPLES_OK = pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK
_FATAL_ERROR, _PIPELINE_SYNC = pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_SYNC
_TEXT, _BINARY = PyFormat.TEXT, PyFormat.BINARY
_BYTES = (bytes, bytearray, memoryview, Binary)  # sent as they are, not escaped as text
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
            _Wire.of(driver).send(queued, self.conn, commit)
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
            failed = next((i.sql for i in queued if i.sql and i.count < 0), "")
            raise DBAPIError.instance(
                failed, None, err, self.conn.dialect.loaded_dbapi.Error
            ) from err
        self._check(queued)

    @staticmethod
    def _check(queued: list[_Queued]) -> None:
        for item in queued:
            count = item.count
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
        rollback_keeping_prepared(driver)


def rollback_keeping_prepared(dbapi_connection: Any) -> None:
    """Roll back a psycopg connection without dropping its prepared statements.

    psycopg forgets its prepared statements at every rollback, and deallocates them on the
    server (a round trip), in case the transaction had created what they refer to. Every
    read-only session ends with a rollback, so no statement stayed prepared: each was planned
    again on every use (0.1-0.2 ms for a join). Jenjang changes its schema only in migrations,
    and psycopg still forgets them after a DROP or ALTER. A connection with no transaction
    open (the pool's reset after a commit) needs nothing; in any other state than an open or
    failed transaction it goes through psycopg's own rollback.
    """
    status = dbapi_connection.pgconn.transaction_status
    if status == _IDLE:
        return
    if (
        status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
        and dbapi_connection.pgconn.exec_(b"ROLLBACK").status == _COMMAND_OK
    ):
        return
    _Wire.forget(dbapi_connection)  # psycopg's rollback may deallocate every prepared statement
    dbapi_connection.rollback()  # raises the error as psycopg's own


def commit_if_open(dbapi_connection: Any) -> None:
    """Commit a psycopg connection, unless the batch's COMMIT already ended its transaction
    (psycopg would find nothing to do, after its own locking and waiting)."""
    if dbapi_connection.pgconn.transaction_status != _IDLE:
        dbapi_connection.commit()


_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")


def _numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """SQLAlchemy's psycopg SQL (`%(name)s` placeholders) as the server's `$n`, and the
    parameter names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql).encode(), tuple(names)


class _Plan:
    """How one prebuilt statement goes on the wire: its text with `$n` placeholders and, per
    placeholder, where the value comes from (a parameter, or a literal of the statement) and
    the type's bind processor. Built once; SQLAlchemy's construct_params() per execution cost
    more than the rest of sending it."""

    def __init__(self, compiled: Any, params: dict[str, Any], guard: int | None) -> None:
        self.compiled = compiled
        self.sql: str = compiled.string
        self.text, self.names = _numbered(self.sql if guard is None else _guarded(self.sql, guard))
        processors = compiled._bind_processors
        self.sources: list[tuple[str | None, Any, Any]] | None = []
        for name in self.names:
            bind = compiled.binds.get(name)
            if name in params:
                self.sources.append((name, None, processors.get(name)))
            elif bind is not None and bind.callable is None and not bind.expanding:
                self.sources.append((None, bind.value, processors.get(name)))
            else:
                self.sources = None  # anything else: SQLAlchemy's own way, every time
                break
        # Checked once against SQLAlchemy's own (repr: psycopg's wrappers such as Binary do
        # not compare equal).
        if self.sources is not None and repr(self._fast(params)) != repr(self._slow(params)):
            self.sources = None

    def args(self, params: dict[str, Any]) -> list[Any]:
        """The values of the placeholders, in order, for one parameter set."""
        return self._fast(params) if self.sources is not None else self._slow(params)

    def _fast(self, params: dict[str, Any]) -> list[Any]:
        assert self.sources is not None
        args = []
        for key, literal, process in self.sources:
            value = literal if key is None else params[key]
            args.append(value if process is None or value is None else process(value))
        return args

    def _slow(self, params: dict[str, Any]) -> list[Any]:
        values = _bind(self.compiled, params)
        return [values[name] for name in self.names]


# Keyed by the statement object (kept alive by its plan, so its id is never reused): only the
# engine's prebuilt module-level statements go through a Batch.
_PLANS: dict[tuple[int, str, tuple[str, ...], int], tuple[Executable, _Plan]] = {}


def _plan(
    statement: Executable, conn: Connection, params: dict[str, Any], guard: int | None
) -> _Plan:
    """The statement's plan for these parameter names (guarded: with its check's number)."""
    keys = tuple(params)
    key = (id(statement), conn.dialect.name, keys, -1 if guard is None else guard)
    entry = _PLANS.get(key)
    if entry is None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys) or None)
        _PLANS[key] = entry = (statement, _Plan(compiled, params, guard))
    return entry[1]


class _Wire:
    """One psycopg connection's pipeline at the libpq level: the queued statements, BEGIN
    and COMMIT written out together and flushed once, the answers read in one wait.

    psycopg's own pipeline flushes and polls after every statement (a system call each way
    and a wake-up of the server per statement); this sends one packet. Statements are
    prepared once per connection under names of their own (`jenjang_N`), which psycopg's
    prepared-statement cache does not know about: `forget()` after anything that may have
    deallocated them (`install`'s hook).
    """

    _of: ClassVar[weakref.WeakKeyDictionary[Any, _Wire]] = weakref.WeakKeyDictionary()

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.prepared: dict[bytes, bytes] = {}
        self.serial = 0  # names are never reused on a connection
        self.transformer = Transformer(driver)

    @classmethod
    def of(cls, driver: Any) -> _Wire:
        """The wire of a psycopg connection."""
        wire = cls._of.get(driver)
        if wire is None:
            cls._of[driver] = wire = cls(driver)
        return wire

    @classmethod
    def forget(cls, connection: Any) -> None:
        """The connection's prepared statements may be gone (DEALLOCATE ALL, DISCARD ALL).

        connection: psycopg's, or the pool's proxy of it."""
        wire = cls._of.get(getattr(connection, "driver_connection", connection))
        if wire is not None:
            wire.prepared.clear()

    def send(self, queued: list[_Queued], conn: Connection, commit: bool) -> None:
        """Run the statements (with BEGIN if no transaction is open, COMMIT if asked) in one
        round trip; rows and row counts go on the items, the first error is raised.

        A statement of ours deallocated behind our back (SQLSTATE 26000) is prepared again:
        at once when this trip began the transaction (nothing of it is lost by rolling back),
        else from the next transaction on.
        """
        began = not self.driver.autocommit and self.driver.pgconn.transaction_status == _IDLE
        error = self._send(queued, conn, commit, began)
        if error is not None and error.sqlstate == "26000":
            self.prepared.clear()
            if began and self.driver.pgconn.exec_(b"ROLLBACK").status == _COMMAND_OK:
                error = self._send(queued, conn, commit, began)
        if error is not None:
            raise error

    def _send(
        self, queued: list[_Queued], conn: Connection, commit: bool, begin: bool
    ) -> psycopg_errors.Error | None:
        driver = self.driver
        pgconn = driver.pgconn
        expected: list[Any] = []  # per command: its item, a new name, or None
        pgconn.enter_pipeline_mode()
        try:
            if begin:
                pgconn.send_query_params(self._begin_sql(), None)
                expected.append(None)
            for number, item in enumerate(queued):
                guarded = commit and isinstance(item.check, _ExactlyOne) and len(item.params) == 1
                plan = _plan(item.statement, conn, item.params[0], number if guarded else None)
                item.sql = plan.sql
                name = self.prepared.get(plan.text)
                if name is None:
                    self.serial += 1
                    name = f"jenjang_{self.serial}".encode()
                    pgconn.send_prepare(name, plan.text, None)
                    expected.append((plan.text, name))
                item.count = -1
                for params in item.params:
                    args = plan.args(params)
                    formats = [_BINARY if isinstance(a, _BYTES) else _TEXT for a in args]
                    buffers = self.transformer.dump_sequence(args, formats)
                    pgconn.send_query_prepared(name, buffers, self.transformer.formats)
                    expected.append(item)
            if commit and not driver.autocommit:
                # In this Sync; the driver's own commit() then has nothing to do.
                pgconn.send_query_params(b"COMMIT", None)
                expected.append(None)
            pgconn.pipeline_sync()
            answers = _exchange(pgconn)
        except BaseException:
            # Interrupted mid-exchange: the connection's state is unknown. It is closed and the
            # transaction ends without a word to the server; the pool connects afresh.
            conn.invalidate()
            raise
        pgconn.exit_pipeline_mode()
        return self._read(expected, answers, conn)

    def _begin_sql(self) -> bytes:
        driver = self.driver
        parts = [b"BEGIN"]
        if driver.isolation_level is not None:
            level = driver.isolation_level.name.replace("_", " ")
            parts.append(b"ISOLATION LEVEL " + level.encode())
        if driver.read_only is not None:
            parts.append(b"READ ONLY" if driver.read_only else b"READ WRITE")
        if driver.deferrable is not None:
            parts.append(b"DEFERRABLE" if driver.deferrable else b"NOT DEFERRABLE")
        return b" ".join(parts)

    def _read(
        self, expected: list[Any], answers: list[list[Any]], conn: Connection
    ) -> psycopg_errors.Error | None:
        """Rows and row counts onto the items, names of statements now prepared; the first
        error."""
        error = None
        for wanted, results in zip(expected, answers, strict=True):
            result = results[-1]
            if result.status == _FATAL_ERROR:
                error = error or psycopg_errors.error_from_result(
                    result, encoding=self.driver.info.encoding
                )
                continue
            if result.status not in (_COMMAND_OK, _TUPLES_OK):
                continue  # aborted after the error
            if isinstance(wanted, tuple):
                self.prepared[wanted[0]] = wanted[1]
            elif isinstance(wanted, _Queued):
                wanted.count = max(wanted.count, 0) + (int(result.command_tuples or 0))
                if result.status == _TUPLES_OK:
                    self.transformer.set_pgresult(result)
                    rows = self.transformer.load_rows(0, result.ntuples, tuple)
                    wanted.rows = _processed(wanted.statement, conn, rows)
        return error


def _exchange(pgconn: Any) -> list[list[Any]]:
    """Flush what the pipeline holds, then read every command's results up to the Sync."""
    fd = pgconn.socket
    while pgconn.flush():
        _wait(fd, select.POLLOUT)
    answers: list[list[Any]] = []
    current: list[Any] = []
    while True:
        while pgconn.is_busy():
            _wait(fd, select.POLLIN)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            if current:
                answers.append(current)
                current = []
            else:
                _wait(fd, select.POLLIN)
                pgconn.consume_input()
            continue
        if result.status == _PIPELINE_SYNC:
            return answers
        current.append(result)


def _wait(fd: int, event: int) -> None:
    poller = select.poll()
    poller.register(fd, event | select.POLLERR)
    while not poller.poll():
        pass


def install(engine: Engine) -> None:
    """Hooks sending a connection's queued statements before its next statement or with its
    COMMIT, and dropping them on rollback (PostgreSQL engines)."""
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "checkin", _checked_in)


# Statements after which psycopg deallocates every prepared statement of the connection
# (its own rule, `_should_discard`), the batch's among them.
_DEALLOCATING = re.compile(r"\s*(?:DROP|ALTER|ROLLBACK|DISCARD|DEALLOCATE)\b", re.IGNORECASE)


def _before_statement(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    pending = conn.info.get(_PENDING)
    if pending is not None:
        pending.run()
    if _DEALLOCATING.match(statement):
        _Wire.forget(conn.connection.driver_connection)


def _commit(conn: Connection) -> None:
    pending = conn.info.get(_PENDING)
    if pending is not None:
        pending.run(commit=True)  # the driver's own commit then finds nothing to do


def _forget(conn: Connection) -> None:
    if not conn.invalidated:  # else the pool discards the connection and what it held
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

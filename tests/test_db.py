"""The PostgreSQL pool's liveness check (engine.db._check_alive), on a real server.

A pooled connection the server has ended is replaced before use, as ``pool_pre_ping`` would,
but a healthy one is handed out without the ping's round trip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from engine import db
from engine.db import make_engine


@pytest.fixture
def one_connection(pg_engine: Engine) -> Iterator[Engine]:
    """An engine of its own with a pool of one connection, so checkouts reuse it."""
    engine = make_engine(pg_engine.url.render_as_string(hide_password=False), pool_size=1)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the liveness check sends from now on (through psycopg's cursor)."""
    import psycopg

    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counting(self: psycopg.Cursor, query: str, *args: object, **kwargs: object) -> object:
        if query == "SELECT 1":
            sent.append(query)
        return execute(self, query, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    return sent


def test_a_healthy_pooled_connection_is_reused_without_a_ping(
    one_connection: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(one_connection)
    sent = pings(one_connection, monkeypatch)
    assert [backend_pid(one_connection) for _ in range(5)] == [first] * 5
    assert sent == []


def test_a_connection_the_server_ended_is_replaced_before_use(
    one_connection: Engine, pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(one_connection)
    with pg_engine.connect() as other:
        # waits (up to 5 s) until the backend has exited
        assert other.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": first}).scalar()
    sent = pings(one_connection, monkeypatch)
    second = backend_pid(one_connection)  # no error: the dead connection was replaced
    assert second != first
    assert sent == ["SELECT 1"]  # the socket had the server's farewell: pinged, failed


def test_a_connection_idle_for_long_is_pinged(
    one_connection: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(one_connection)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    sent = pings(one_connection, monkeypatch)
    assert backend_pid(one_connection) == first
    assert sent == ["SELECT 1"]

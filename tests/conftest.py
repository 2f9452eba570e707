"""Shared fixtures: a migrated database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import engine.schema  # noqa: F401  every table on Base.metadata
from engine.db import make_engine, session_factory, upgrade
from engine.deploy import DeployResult, deploy
from engine.models import Base, User
from engine.users import add_user

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PG_URL = os.environ.get("JENJANG_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(autouse=True)
def engine_settings() -> Iterator[None]:
    """Engine settings a test (or a CLI call reading JENJANG_*) changes end with the test."""
    from engine import settings

    before = settings.current()
    yield
    settings.configure(**{f: getattr(before, f) for f in before.__dataclass_fields__})


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating once keeps tests fast)."""
    path = tmp_path_factory.mktemp("template") / "jenjang.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, migrated from an empty schema once per run."""
    if not PG_URL:
        if os.environ.get("JENJANG_REQUIRE_POSTGRES"):
            pytest.fail("JENJANG_REQUIRE_POSTGRES is set but JENJANG_TEST_DATABASE_URL is not")
        pytest.skip("JENJANG_TEST_DATABASE_URL is not set (PostgreSQL suite runs in CI)")
    engine = make_engine(PG_URL, pool_size=10, max_overflow=20)
    with engine.begin() as conn:  # a missing server fails here: a failure, not a skip
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Engine]:
    """An empty, migrated database; every test starts from nothing."""
    if request.param == "sqlite":
        path = tmp_path / "jenjang.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("pg_engine")
    yield engine
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(
            text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :h)"),
            {"h": "0" * 64},
        )


@pytest.fixture
def db_url(db_engine: Engine) -> str:
    """The URL of the test database (for the CLI)."""
    return db_engine.url.render_as_string(hide_password=False)


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A session; tests commit like the CLI and web layer do."""
    with session_factory(db_engine)() as s:
        yield s


def deploy_files(session: Session, *names: str, actor: str = "pemilik1") -> DeployResult:
    """Deploy files from tests/data and commit."""
    files = [(name, (DATA / name).read_bytes()) for name in names]
    result = deploy(session, files, actor)
    session.commit()
    return result


def make_user(
    session: Session,
    name: str,
    *roles: str,
    supervisor: str | None = None,
    unit: str | None = None,
) -> User:
    """Create and commit a user."""
    user = add_user(session, name, list(roles), supervisor=supervisor, unit=unit)
    session.commit()
    return user

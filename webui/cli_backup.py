"""`jenjang backup FILE` and `jenjang restore FILE --yes`: a whole database, instances in flight.

SQLite is copied with SQLite's online backup API (a consistent snapshot even while the web app
and the worker write). PostgreSQL is dumped with ``pg_dump --format=custom`` and restored with
``pg_restore --clean --if-exists --single-transaction``: the documented tools, wrapped so that
the URL, the password and errors are handled the same way as every other command. The tools
are looked up on PATH, then in /usr/lib/postgresql/*/bin (newest first); ``JENJANG_PG_BIN``
names their folder. After a restore the schema is migrated to this version's head, so a backup
taken by an older Jenjang restores into a newer one.

Stop the web app and the worker before a restore: it replaces every row.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from sqlalchemy import URL, Engine, make_url

from engine.db import upgrade
from webui.cli import Context, cli, database_url, fail, pass_ctx

TOOL_TIMEOUT = 3600
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:":
        fail("backup: an in-memory SQLite database cannot be backed up")
    return Path(database)


def pg_tool(name: str) -> str:
    """The path of pg_dump/pg_restore, or a one-line error saying how to get it."""
    folder = os.environ.get("JENJANG_PG_BIN")
    candidates = [str(Path(folder) / name)] if folder else []
    found = shutil.which(name)
    if found:
        candidates.append(found)
    candidates += sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()],
        reverse=True,
    )
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    fail(
        f"{name} not found: install the PostgreSQL client tools (e.g. apt-get install "
        "postgresql-client) or set JENJANG_PG_BIN to their folder"
    )


def _pg_run(tool: str, url: URL, *args: str) -> None:
    """Run a PostgreSQL tool on the database of `url`; its error becomes one line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    try:
        proc = subprocess.run(
            [pg_tool(tool), *args, f"--dbname={target}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=TOOL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        fail(f"{tool} did not finish within {TOOL_TIMEOUT} s")
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        fail(f"{tool} failed: {lines[0] if lines else f'exit status {proc.returncode}'}")


def _sqlite_copy(source: Path | str, target: Path | str) -> None:
    """Copy one SQLite database onto another with the online backup API."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _check_backup(file: Path, kind: str) -> None:
    if not file.is_file():
        fail(f"{file}: no such file")
    head = file.read_bytes()[:16]
    magic = SQLITE_MAGIC if kind == "sqlite" else PG_MAGIC
    if not head.startswith(magic):
        what = "a SQLite database" if kind == "sqlite" else "a pg_dump custom-format archive"
        fail(f"{file}: not a Jenjang backup for this database ({what} expected)")


@cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@pass_ctx
def backup_cmd(ctx: Context, file: Path, force: bool) -> None:
    """Write a consistent copy of the whole database to FILE."""
    url = make_url(database_url())
    if file.exists() and not force:
        fail(f"{file}: already exists (add --force to overwrite it)")
    if not file.parent.is_dir():
        fail(f"{file.parent}: no such folder")
    partial = file.with_name(f".{file.name}.partial")
    partial.unlink(missing_ok=True)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            fail(f"{source}: no such database")
        _sqlite_copy(source, partial)
    elif url.get_backend_name() == "postgresql":
        _pg_run(
            "pg_dump", url, "--format=custom", "--no-owner", "--no-privileges", "-f", str(partial)
        )
    else:
        fail(f"backup: databases of kind {url.get_backend_name()} are not supported")
    partial.replace(file)  # a failed run never leaves a file that looks like a backup
    click.echo(f"backup written: {file} ({file.stat().st_size} bytes)")


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm: every row of the database is replaced.")
@pass_ctx
def restore_cmd(ctx: Context, file: Path, yes: bool) -> None:
    """Replace the whole database with a backup made by `jenjang backup`, then migrate it."""
    url = make_url(database_url())
    kind = url.get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        fail(f"restore: databases of kind {kind} are not supported")
    _check_backup(file, kind)
    if not yes:
        fail(
            "restore replaces every row of the database: stop the app and the worker, "
            "then add --yes"
        )
    ctx.close()  # no pooled connection may outlive the old content
    if kind == "sqlite":
        _restore_sqlite(file, _sqlite_path(url))
    else:
        _pg_run(
            "pg_restore",
            url,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            str(file),
        )
    engine: Engine = ctx.engine
    upgrade(engine)
    click.echo(f"restored {file}")


def _restore_sqlite(file: Path, target: Path) -> None:
    """Check the backup, then copy it over the database in one step."""
    try:
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as check:
            ok = check.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master")}
        check.close()
    except sqlite3.DatabaseError as exc:
        fail(f"{file}: not a readable SQLite database: {exc}")
    if not ok or ok[0] != "ok":
        fail(f"{file}: the backup is damaged (integrity check: {ok[0] if ok else 'no answer'})")
    if "alembic_version" not in tables or "audit_entry" not in tables:
        fail(f"{file}: not a Jenjang database (no Jenjang tables in it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(file, target)

"""`jenjang backup` and `jenjang restore`: a round trip with instances in flight, which carry on.

On SQLite (the online backup API) and on PostgreSQL (pg_dump/pg_restore, wrapped). Work done
after the backup disappears on restore, the audit chain verifies, and the restored instances
are completed to their end; a wrong file, a missing confirmation or missing tools are one line
each and change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import webui.cli_backup
from engine.models import Instance, TaskModel
from tests.conftest import DATA
from tests.test_cli import Cli

CUTI = str(DATA / "cuti.bpmn")


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(db_url, capsys)


def state(db_engine: Engine) -> dict[str, object]:
    """What a restore must bring back: instances with their state and open tasks."""
    with Session(db_engine) as s:
        instances = s.execute(
            select(Instance.id, Instance.state, Instance.lock_version).order_by(Instance.id)
        ).all()
        tasks = s.execute(
            select(TaskModel.id, TaskModel.element_id, TaskModel.completed_at.is_(None)).order_by(
                TaskModel.id
            )
        ).all()
    return {"instances": [tuple(r) for r in instances], "tasks": [tuple(r) for r in tasks]}


def open_tasks(cli: Cli, user: str) -> list[dict[str, object]]:
    """The open tasks a user may work on."""
    found: list[dict[str, object]] = json.loads(cli("tasks", "--user", user, "--json").stdout)
    return found


def in_flight(cli: Cli) -> None:
    """Users, cuti deployed, three leave requests: two at the approval, one just started."""
    cli("users", "add", "atasan1", "--role", "atasan")
    cli("users", "add", "pegawai1", "--role", "pegawai", "--supervisor", "atasan1")
    cli("deploy", CUTI)
    for n in range(3):
        cli("start", "cuti", "--as", "pegawai1", "--data", json.dumps({"hari": n + 1}))
    for task in open_tasks(cli, "pegawai1")[:2]:
        cli("complete", str(task["id"]), "--as", "pegawai1", "--data", "{}")


def test_a_backup_restores_instances_in_flight_that_then_carry_on(
    cli: Cli, db_engine: Engine, tmp_path: Path
) -> None:
    in_flight(cli)
    before = state(db_engine)
    backup = tmp_path / "jenjang.backup"
    out = cli("backup", str(backup)).stdout
    assert out.startswith(f"backup written: {backup} (")
    # Work after the backup: it is lost by the restore, as it should be.
    [approval, *_] = open_tasks(cli, "atasan1")
    cli("complete", str(approval["id"]), "--as", "atasan1", "--data", '{"disetujui": true}')
    cli("start", "cuti", "--as", "pegawai1", "--data", '{"hari": 9}')
    assert state(db_engine) != before

    refused = cli("restore", str(backup), ok=False)
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert cli("restore", str(backup), "--yes").stdout == f"restored {backup}\n"

    assert state(db_engine) == before
    assert cli("audit", "verify").returncode == 0
    # The restored instances carry on to their end.
    for task in open_tasks(cli, "pegawai1"):
        cli("complete", str(task["id"]), "--as", "pegawai1", "--data", "{}")
    approvals = open_tasks(cli, "atasan1")
    assert len(approvals) == 3
    for task in approvals:
        cli("complete", str(task["id"]), "--as", "atasan1", "--data", '{"disetujui": true}')
    with Session(db_engine) as s:
        assert set(s.scalars(select(Instance.state))) == {"completed"}
    cli("start", "cuti", "--as", "pegawai1", "--data", '{"hari": 1}')  # new ids do not clash
    verified = cli("audit", "verify")
    assert verified.returncode == 0


def test_restore_refuses_a_file_that_is_not_a_backup_and_changes_nothing(
    cli: Cli, db_engine: Engine, tmp_path: Path
) -> None:
    in_flight(cli)
    before = state(db_engine)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"<html>not a backup</html>")
    refused = cli("restore", str(junk), "--yes", ok=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"jenjang: {junk}: not a Jenjang backup for this database")
    assert len(refused.stderr.splitlines()) == 1
    missing = cli("restore", str(tmp_path / "none.backup"), "--yes", ok=False)
    assert missing.stderr == f"jenjang: {tmp_path / 'none.backup'}: no such file\n"
    assert state(db_engine) == before


def test_backup_does_not_overwrite_a_file_unless_forced(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "ada.backup"
    target.write_text("keep me")
    refused = cli("backup", str(target), ok=False)
    assert refused.stderr == f"jenjang: {target}: already exists (add --force to overwrite it)\n"
    assert target.read_text() == "keep me"
    cli("backup", str(target), "--force")
    assert target.read_bytes()[:5] in (b"SQLit", b"PGDMP")
    assert not list(tmp_path.glob(".*.partial"))


def test_missing_postgresql_tools_are_one_line_saying_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JENJANG_PG_BIN", raising=False)
    monkeypatch.setattr(webui.cli_backup.glob, "glob", lambda pattern: [])
    with pytest.raises(SystemExit) as exited:
        webui.cli_backup.pg_tool("pg_dump")
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "jenjang: pg_dump not found: install the PostgreSQL client tools "
        "(e.g. apt-get install postgresql-client) or set JENJANG_PG_BIN to their folder\n"
    )

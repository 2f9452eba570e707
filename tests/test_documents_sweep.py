"""Uploaded files no document row refers to (a request failed after storing) are swept."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engine.documents import Document, storage_path, sweep_orphans
from engine.models import utcnow
from engine.runtime import start_instance
from tests.conftest import deploy_files, make_user


def _file(root: Path, hours_old: float, name: str | None = None) -> Path:
    key = name or uuid.uuid4().hex
    path = root / key[:2] / key if name is None or not name.startswith(".") else root / "ab" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4\n")
    moment = (utcnow() - timedelta(hours=hours_old)).timestamp()
    os.utime(path, (moment, moment))
    return path


@pytest.fixture
def kept(session: Session, tmp_path: Path) -> Path:
    """A stored document with its row (two days old), which must survive every sweep."""
    deploy_files(session, "cuti.bpmn")
    admin = make_user(session, "admin1", "admin")
    inst = start_instance(session, "cuti", admin, {"hari": 1})
    key = uuid.uuid4().hex
    session.add(
        Document(
            instance_id=inst.id,
            task_id=None,
            field="ktp",
            filename="ktp.pdf",
            mime="application/pdf",
            size=9,
            sha256="0" * 64,
            storage_key=key,
        )
    )
    session.commit()
    path = storage_path(tmp_path, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4\n")
    moment = (utcnow() - timedelta(hours=48)).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_old_orphans_and_stale_temporaries_go_and_documents_stay(
    session: Session, tmp_path: Path, kept: Path
) -> None:
    orphan = _file(tmp_path, hours_old=30)
    young = _file(tmp_path, hours_old=1)  # its request may still be running
    temp = _file(tmp_path, hours_old=30, name=".tmp-abc123")
    dry = sweep_orphans(session, tmp_path, timedelta(hours=24), utcnow(), dry_run=True)
    assert dry == sorted([orphan, temp]) and orphan.exists()
    gone = sweep_orphans(session, tmp_path, timedelta(hours=24), utcnow())
    assert gone == sorted([orphan, temp])
    assert not orphan.exists() and not temp.exists()
    assert kept.exists() and young.exists()


def test_the_cli_sweeps_the_folder_it_is_given(
    session: Session,
    db_url: str,
    tmp_path: Path,
    kept: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from webui.cli import main

    orphan = _file(tmp_path, hours_old=30)
    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    main(["dokumen", "bersihkan", "--folder", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{tmp_path}: 1 orphan file(s) removed" in out
    assert not orphan.exists() and kept.exists()
    with pytest.raises(SystemExit):
        main(["dokumen", "bersihkan", "--folder", str(tmp_path), "--umur-jam", "0.5"])
    assert "--umur-jam must be at least 1" in capsys.readouterr().err

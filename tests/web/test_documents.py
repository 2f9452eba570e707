"""Uploaded documents: checked by content, stored under generated names, served only to who may."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents import Document, documents_of, open_document, storage_path, store
from engine.errors import InvalidInput, InvalidState
from engine.models import AuditEntry
from tests.web.conftest import AuthActions, open_task
from tests.web.test_portal import (
    JPEG,
    NIK,
    OTHER_NIK,
    PDF,
    apply,
    lamaran_of,
    open_formasi,
    open_upload_task,
    upload,
)


def uploads_root(app: Flask) -> Path:
    """Where the app stores uploads in the tests (the instance folder, not static/)."""
    return Path(app.instance_path) / "uploads"


def test_the_four_documents_are_stored_under_generated_names(
    app: Flask, client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    task = open_upload_task(demo)
    assert upload(client, demo).status_code == 303
    demo.rollback()
    stored = documents_of(demo, task.instance_id)
    assert [(d.field, d.filename, d.mime) for d in stored] == [
        ("ktp", "ktp.pdf", "application/pdf"),
        ("ijazah", "ijazah.pdf", "application/pdf"),
        ("transkrip", "transkrip.pdf", "application/pdf"),
        ("pas_foto", "foto.jpg", "image/jpeg"),
    ]
    root = uploads_root(app)
    static = Path(app.static_folder or "")
    for document in stored:
        path = storage_path(root, document.storage_key)
        assert path.read_bytes() == (JPEG if document.field == "pas_foto" else PDF)
        assert path.parent.name == document.storage_key[:2] and document.filename not in str(path)
        assert static not in path.parents
        assert (
            document.task_id == task.id
            and document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        )
    assert not list(root.rglob(".tmp-*"))  # nothing half written is left
    completed = demo.scalar(
        select(AuditEntry).where(AuditEntry.task_id == task.id, AuditEntry.action == "completed")
    )
    assert completed is not None
    data = json.loads(completed.detail)["data"]
    assert data["ktp"]["dokumen_id"] == stored[0].id
    assert data["ktp"]["sha256"] == stored[0].sha256 and data["ktp"]["nama_file"] == "ktp.pdf"


def test_a_renamed_text_file_is_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    response = upload(client, demo, ktp=(b"ini hanya teks biasa\n", "ktp.pdf"))
    assert response.status_code == 422
    assert 'id="ktp-error"' in response.text
    assert "PDF" in response.text
    task = open_upload_task(demo)
    assert task.completed_at is None
    assert documents_of(demo, task.instance_id) == []
    root = uploads_root(app)
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_a_pdf_renamed_to_jpg_is_refused_as_the_photo(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    response = upload(client, demo, pas_foto=(PDF, "foto.jpg"))  # a PDF renamed to .jpg
    assert response.status_code == 422
    assert 'id="pas_foto-error"' in response.text


def test_download_for_the_applicant_and_the_verifier_404_for_another_applicant(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    task = open_upload_task(demo)
    upload(client, demo)
    demo.rollback()
    ktp = documents_of(demo, task.instance_id)[0]

    response = client.get(f"/dokumen/{ktp.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "ktp.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]

    auth.logout()
    auth.login("verifikator1", "jenjang-demo")  # the verification task is the verifier role's
    assert client.get(f"/dokumen/{ktp.id}").status_code == 200
    check = open_task(demo, "verifikasi_administrasi")
    page = client.get(f"/tugas/{check.id}").text  # the verification task lists the files
    assert f'href="/dokumen/{ktp.id}"' in page

    auth.logout()
    apply(client, auth, nik=OTHER_NIK, kode="F-001")
    other = client.get(f"/dokumen/{ktp.id}")
    assert other.status_code == 404 and PDF not in other.data
    auth.logout()
    auth.login("pelamar1", "jenjang-demo")
    assert client.get(f"/dokumen/{ktp.id}").status_code == 404
    assert client.get("/dokumen/999999").status_code == 404
    auth.logout()
    anonymous = client.get(f"/dokumen/{ktp.id}")
    assert anonymous.status_code == 302 and "/masuk" in anonymous.headers["Location"]
    assert lamaran_of(demo, NIK).status == "terdaftar"


def test_store_writes_atomically_and_open_checks_the_content(tmp_path: Path, demo: Session) -> None:
    root = tmp_path / "uploads"
    open_formasi(demo)
    instance_id = demo.scalar(select(AuditEntry.instance_id).where(AuditEntry.action == "started"))
    assert instance_id is not None
    document = store(
        demo,
        root,
        instance_id=instance_id,
        task_id=None,
        field="ktp",
        filename="ktp.pdf",
        content=PDF,
        mime="application/pdf",
        uploaded_by=None,
    )
    assert len(document.storage_key) == 32 and document.size == len(PDF)
    assert [p.name for p in root.rglob("*") if p.is_file()] == [document.storage_key]
    found, content = open_document(demo, root, document.id)
    assert found is document and content == PDF
    storage_path(root, document.storage_key).write_bytes(b"%PDF-changed")
    with pytest.raises(InvalidState):
        open_document(demo, root, document.id)
    with pytest.raises(InvalidInput):
        store(
            demo,
            root,
            instance_id=instance_id,
            task_id=None,
            field="ktp",
            filename="../etc/passwd",
            content=PDF,
            mime="application/pdf",
            uploaded_by=None,
        )
    with pytest.raises(InvalidInput):
        storage_path(root, "../../secret")
    assert demo.scalar(select(Document.id).where(Document.id == document.id)) == document.id

"""Uploaded documents: a row per file, the bytes on disk under a generated name.

The web layer hands in the storage root (``instance/uploads`` by default, outside the web
root) and the bytes it has already checked (type by content, size) with the task's form.
A file is written to a temporary name and renamed into place, so a reader never sees half of
it. The row is added to the caller's session and never committed here: when the caller's
transaction fails after `store`, the file stays behind as an orphan nobody refers to. That is
harmless (its name is random and no row points to it); `sweep_orphans` (``jenjang dokumen
bersihkan``) removes such files, and temporary ones a crash left, once they are old enough
that no transaction writing them can still be open.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ForeignKey, String, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.errors import InvalidInput, InvalidState, NotFound
from engine.models import Base, Instance, TaskModel, User, utcnow
from engine.runtime import is_admin

MAX_FILENAME = 255
MAX_FIELD = 64


class DocumentNotFound(NotFound):
    """No such document, or its file is missing."""


class Document(Base):
    """One stored file of an instance (and of the task that received it)."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    field: Mapped[str] = mapped_column(String(MAX_FIELD))
    filename: Mapped[str] = mapped_column(String(MAX_FILENAME))  # a safe basename, shown only
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(32), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def storage_path(root: Path, key: str) -> Path:
    """Where the bytes of a storage key live: ``root/<key[:2]>/<key>``."""
    if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
        raise InvalidInput(f"storage key {key!r} is not a uuid4 hex")  # never a path from outside
    return root / key[:2] / key


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def store(
    session: Session,
    root: Path,
    *,
    instance_id: int,
    task_id: int | None,
    field: str,
    filename: str,
    content: bytes,
    mime: str,
    uploaded_by: int | None,
) -> Document:
    """Write the bytes under a generated name and add their row (flushed, not committed)."""
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        raise InvalidInput(f"file name {filename!r} is not a safe basename")
    key = uuid.uuid4().hex
    _write_atomically(storage_path(root, key), content)
    document = Document(
        instance_id=instance_id,
        task_id=task_id,
        field=field[:MAX_FIELD],
        filename=filename[:MAX_FILENAME],
        mime=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_key=key,
        uploaded_by_id=uploaded_by,
    )
    session.add(document)
    session.flush()
    return document


def open_document(session: Session, root: Path, document_id: int) -> tuple[Document, bytes]:
    """A document's row and bytes; the bytes must still match the stored sha256."""
    document = session.get(Document, document_id)
    if document is None:
        raise DocumentNotFound(f"document {document_id} does not exist")
    try:
        content = storage_path(root, document.storage_key).read_bytes()
    except FileNotFoundError:
        raise DocumentNotFound(f"the file of document {document_id} is missing") from None
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise InvalidState(f"the file of document {document_id} has changed on disk")
    return document, content


def documents_of(session: Session, instance_id: int) -> list[Document]:
    """The documents of an instance, oldest first."""
    return list(
        session.scalars(
            select(Document).where(Document.instance_id == instance_id).order_by(Document.id)
        )
    )


def may_see_instance(session: Session, user: User, instance_id: int) -> bool:
    """Whether the user may see an instance's documents.

    Admins; the person who started it; anyone who has, or had, one of its tasks: assigned,
    claimed or completed by them, or (when nobody is assigned) a task of one of their roles.
    An assigned task counts for its assignee only, so a role shared by many applicants
    (``pelamar``) gives no one access to another applicant's files.
    """
    if is_admin(user):
        return True
    starter = session.scalar(select(Instance.started_by_id).where(Instance.id == instance_id))
    if starter is not None and starter == user.id:
        return True
    roles = sorted(user.role_names) or [""]
    found = session.scalar(
        select(TaskModel.id)
        .where(
            TaskModel.instance_id == instance_id,
            or_(
                TaskModel.assignee_id == user.id,
                TaskModel.claimed_by_id == user.id,
                TaskModel.completed_by_id == user.id,
                (TaskModel.assignee_id.is_(None) & TaskModel.role.in_(roles)),
            ),
        )
        .limit(1)
    )
    return found is not None


SWEEP_BATCH = 500  # storage keys looked up per query


def sweep_orphans(
    session: Session, root: Path, older_than: timedelta, now: datetime, dry_run: bool = False
) -> list[Path]:
    """Files under `root` no document row refers to (and stale temporaries), older than
    `older_than`: removed unless `dry_run`; the paths, sorted."""
    if not root.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    candidates: dict[str, Path] = {}
    stale: list[Path] = []
    for folder in root.iterdir():
        if not folder.is_dir() or len(folder.name) != 2:
            continue
        for path in folder.iterdir():
            if not path.is_file() or path.stat().st_mtime >= cutoff:
                continue
            if path.name.startswith(".tmp-"):
                stale.append(path)
            elif len(path.name) == 32 and path.name.startswith(folder.name):
                candidates[path.name] = path
    keys = sorted(candidates)
    for start in range(0, len(keys), SWEEP_BATCH):
        batch = keys[start : start + SWEEP_BATCH]
        for known in session.scalars(
            select(Document.storage_key).where(Document.storage_key.in_(batch))
        ):
            candidates.pop(known, None)
    gone = sorted([*candidates.values(), *stale])
    if not dry_run:
        for path in gone:
            path.unlink(missing_ok=True)
    return gone

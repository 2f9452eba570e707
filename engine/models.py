"""SQLAlchemy 2 typed models: org chart, deployed versions, instances, tasks, audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import text

from engine import clock

OPEN = text("completed_at IS NULL")
TEAM_OPEN = text("completed_at IS NULL AND claimed_by_id IS NULL AND assignee_id IS NULL")


def utcnow() -> datetime:
    """The current time as naive UTC (stored the same way on SQLite and PostgreSQL)."""
    return clock.utcnow()


class Base(DeclarativeBase):
    """Declarative base; JSON columns map to dict/list."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class OrgUnit(Base):
    """An org unit (bidang, bagian) of the agency."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))


class User(Base):
    """A person who acts in processes: staff or an applicant."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    unit: Mapped[OrgUnit | None] = relationship(lazy="joined")
    supervisor: Mapped[User | None] = relationship(remote_side=[id])

    @property
    def role_names(self) -> set[str]:
        """The roles this user holds."""
        return {r.role for r in self.roles}


class UserRole(Base):
    """A role (lane) a user holds."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="roles")


class SourceFile(Base):
    """A deployed BPMN or DMN file, stored once per content hash."""

    __tablename__ = "source_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DecisionVersion(Base):
    """One version of a DMN decision."""

    __tablename__ = "decision_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[int] = mapped_column(ForeignKey("source_file.id"))
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[SourceFile] = relationship(lazy="joined")


class ProcessVersion(Base):
    """One version of an executable process: its XML, parsed spec and task metadata."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    dialect: Mapped[str] = mapped_column(String(16))  # spiff | camunda
    source_id: Mapped[int] = mapped_column(ForeignKey("source_file.id"))
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    task_meta: Mapped[dict[str, Any]]
    dependencies: Mapped[dict[str, Any]]
    warnings: Mapped[list[Any]]
    # Names of the messages the process can catch: an outside message nothing could ever
    # catch is refused with a clear error instead of being kept.
    catches: Mapped[list[Any] | None]
    # Who may start an instance for whom: {"subject": field, "start_for": [...]} or None.
    start_rule: Mapped[dict[str, Any] | None]
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[SourceFile] = relationship(lazy="raise")


class Instance(Base):
    """A running (or finished) process instance; state holds the workflow without its spec."""

    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_key_state", "process_key", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Whom the instance is about when someone else started it for them (the start event's
    # subject field, e.g. the employee HR enrolled): their pages list it too.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    error_element: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    workflow_state: Mapped[bytes] = mapped_column(LargeBinary)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)  # earliest waiting timer
    # Failed attempts of the worker to fire the due timer (reset when it fires); after
    # engine.worker's limit the instance goes to error.
    timer_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    lock_version: Mapped[int] = mapped_column(default=1)

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")
    started_by: Mapped[User | None] = relationship(lazy="select", foreign_keys=[started_by_id])

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012


class TaskModel(Base):
    """A user task copied out of a workflow so inboxes are one indexed query."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index(
            "ix_task_open_role",
            "role",
            "created_at",
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        ),
        Index(
            "ix_task_open_assignee",
            "assignee_id",
            "created_at",
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        ),
        Index(
            "ix_task_open_claimed",
            "claimed_by_id",
            "created_at",
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        ),
        # The team tab (open, unclaimed, unassigned role tasks) in its default order: its
        # page, count and new-task count read this index only, however large the table.
        Index(
            "ix_task_open_team",
            "role",
            "due_at",
            "created_at",
            "id",
            postgresql_where=TEAM_OPEN,
            postgresql_include=["process_key", "element_id", "name"],  # the filter choices
            sqlite_where=TEAM_OPEN,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    form_key: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    claimed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    completed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # completed | cancelled

    instance: Mapped[Instance] = relationship(lazy="raise")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="raise")
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id], lazy="raise")


class AuditEntry(Base):
    """An append-only audit row, chained to the previous one by sha256 (engine.audit)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    process_key: Mapped[str | None] = mapped_column(String(255))
    instance_id: Mapped[int | None] = mapped_column(index=True)
    task_id: Mapped[int | None]
    element_id: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row naming the last audit entry; locked while appending."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class MessageSubscription(Base):
    """A message an instance waits for, with its correlation key (rewritten on every step)."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_subscription_lookup", "message_name", "correlation_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(255))
    correlation_key: Mapped[str] = mapped_column(String(1000))


class PendingMessage(Base):
    """A thrown message nothing waited for yet: kept and delivered when a catch appears."""

    __tablename__ = "pending_message"
    __table_args__ = (Index("ix_pending_lookup", "message_name", "correlation_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_name: Mapped[str] = mapped_column(String(255))
    correlation_key: Mapped[str] = mapped_column(String(1000))
    payload: Mapped[str] = mapped_column(Text)
    sender_instance_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept until expires_at (None: until caught); the worker then marks it expired_at, and
    # writes an audit row, so a message nobody caught is visible, never silently dropped.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    expired_at: Mapped[datetime | None]

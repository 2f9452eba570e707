"""Which engine events notify whom: called once per step, after the task table is synced.

- **A task assigned to a person** (its `assignee`): an in-app notification and an email,
  unless that person is the one whose action created it (they are looking at it already).
- **A task ready for a role** (no assignee): in-app for every member through the role-task
  query (nothing written, nothing emailed). Per-task email to a role would flood its members
  at national scale (one verifier, a million applications): they see the count in the app.
- **An outcome an applicant should know** (`OUTCOMES`: the announcements and the staff's
  answers on a `lamaran`, or its cancellation): an email to the applicant; in-app it is
  derived from the audit trail by the web layer. The email names the application, never the
  result: results are read after logging in.

Texts are plain data in Bahasa Indonesia (`TEMPLATES`): see engine.notifications.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ProcessVersion, TaskModel, User
from engine.notifications import (
    KIND_TASK,
    notify,
    queue_email,
)

KIND_OUTCOME = "outcome"
LOCAL_TIME = ZoneInfo("Asia/Jakarta")
MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
TEMPLATES = {
    KIND_TASK: (
        "Tugas baru: {task}",
        "Yth. {name},\n\nAda tugas baru untuk Anda di Jenjang:\n\n  {task}\n  Proses: {process}"
        "{case}{due}\n\nMasuk ke Jenjang dan buka menu Tugas saya untuk mengerjakannya.",
    ),
    KIND_OUTCOME: (
        "Kabar baru tentang lamaran {nomor}",
        "Yth. {name},\n\nAda kabar baru tentang lamaran Anda nomor {nomor}: {what}.\n\n"
        "Demi kerahasiaan, hasilnya tidak dikirim lewat email. Masuk ke Jenjang dan buka menu"
        " Notifikasi untuk membacanya.",
    ),
}


@dataclass(frozen=True)
class Outcomes:
    """The events of a process its starter hears about: message names and staff form keys."""

    messages: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)
    cancelled: str = ""


OUTCOMES = {
    "lamaran": Outcomes(
        messages={
            "pengumuman_administrasi": "hasil seleksi administrasi telah diumumkan",
            "pengumuman_skd": "hasil SKD telah diumumkan",
            "pengumuman_akhir": "hasil akhir seleksi telah diumumkan",
        },
        forms={
            "lamaran.jawab_sanggah_administrasi": "sanggah Anda telah dijawab",
            "lamaran.jawab_sanggah_akhir": "sanggah Anda atas hasil akhir telah dijawab",
            "lamaran.verifikasi_pemberkasan": "dokumen pemberkasan Anda telah diperiksa",
            "lamaran.persetujuan_usul_nip": "usul NIP Anda telah diputuskan",
        },
        cancelled="lamaran Anda dibatalkan oleh administrator",
    )
}


def local_time(moment: datetime) -> str:
    """A stored (naive UTC) moment in WIB, e.g. 27 November 2026 pukul 08.00 WIB."""
    local = moment.replace(tzinfo=UTC).astimezone(LOCAL_TIME)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


def render(kind: str, **values: Any) -> tuple[str, str]:
    """The subject and body of an email of this kind."""
    subject, body = TEMPLATES[kind]
    return subject.format(**values), body.format(**values)


def after_step(step: Any, actor: Any) -> None:
    """Notify about the step's new tasks and its outcomes (in the step's transaction)."""
    if step.instance.state in ("running", "waiting"):  # engine.step's ACTIVE_STATES
        # A step persisted twice must not tell twice: remember what it already told.
        told: set[str] = step.__dict__.setdefault("notified_tasks", set())
        before = step.ready_before | told
        meta = step.version.task_meta(step.session)
        # Only tasks with an assignee notify (role tasks are read from the task table).
        new = [
            str(t.id)
            for t in step.ready_now
            if str(t.id) not in before
            and (meta.get(t.task_spec.bpmn_id or t.task_spec.name) or {}).get("assignee")
        ]
        if new:
            told.update(new)
            _new_tasks(step, actor, new)
    outcomes = OUTCOMES.get(step.instance.process_key)
    if outcomes is not None and step.audits:
        _outcomes(step, actor, outcomes)


def _new_tasks(step: Any, actor: Any, spiff_ids: list[str]) -> None:
    session: Session = step.session
    actor_id = getattr(actor, "id", None)
    rows = session.execute(
        select(
            TaskModel.id,
            TaskModel.instance_id,
            TaskModel.name,
            TaskModel.role,
            TaskModel.assignee_id,
            TaskModel.process_key,
            TaskModel.business_key,
            TaskModel.due_at,
        ).where(
            TaskModel.instance_id == step.instance.id,
            TaskModel.spiff_task_id.in_(spiff_ids),
            TaskModel.created_at == step.now,
            TaskModel.completed_at.is_(None),
            TaskModel.assignee_id.is_not(None),
            TaskModel.assignee_id != (actor_id or 0),
        )
    ).all()
    process = _process_name(session, step) if rows else ""
    for row in rows:
        values = {
            "task": row.name,
            "process": process,
            "case": f"\n  Perkara: {row.business_key}" if row.business_key else "",
            "due": f"\n  Tenggat: {local_time(row.due_at)}" if row.due_at else "",
            "role": row.role or "",
        }
        _to_assignee(session, row, values)


_PROCESS_NAMES: dict[int, str] = {}  # a version's name never changes


def _process_name(session: Session, step: Any) -> str:
    found = _PROCESS_NAMES.get(step.version.id)
    if found is None:
        name = session.scalar(
            select(ProcessVersion.name).where(ProcessVersion.id == step.version.id)
        )
        found = _PROCESS_NAMES[step.version.id] = str(name or step.instance.process_key)
    return found


def _name_of(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return (user.full_name or user.username) if user is not None else ""


def _to_assignee(session: Session, row: Any, values: dict[str, Any]) -> None:
    subject, body = render(KIND_TASK, name=_name_of(session, row.assignee_id), **values)
    notify(
        session,
        user_ids=[row.assignee_id],
        kind=KIND_TASK,
        title=subject,
        body=body,
        instance_id=row.instance_id,
        task_id=row.id,
    )


def _outcomes(step: Any, actor: Any, outcomes: Outcomes) -> None:
    starter = step.instance.started_by_id
    if starter is None or starter == getattr(actor, "id", None):
        return
    meta = None
    told: list[str] = []
    for entry in step.audits:
        action = entry["action"]
        what = ""
        if action == "message":
            what = outcomes.messages.get(str(_detail(entry).get("name") or ""), "")
        elif action == "completed" and outcomes.forms:
            meta = meta if meta is not None else step.version.task_meta(step.session)
            form_key = (meta.get(entry.get("element_id") or "") or {}).get("form_key")
            what = outcomes.forms.get(str(form_key or ""), "")
        elif action == "cancelled":
            what = outcomes.cancelled
        if what and what not in told:
            told.append(what)
    if told:
        _tell_starter(step.session, step.instance, starter, "; ".join(told))


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(entry.get("detail") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _tell_starter(session: Session, instance: Any, starter: int, what: str) -> None:
    from engine.recruitment import Lamaran  # loaded late: engine.step imports this module

    nomor = session.scalar(select(Lamaran.nomor_peserta).where(Lamaran.instance_id == instance.id))
    values = {"name": _name_of(session, starter), "nomor": nomor or instance.business_key or ""}
    subject, body = render(KIND_OUTCOME, what=what, **values)
    queue_email(session, [starter], subject, body, KIND_OUTCOME)

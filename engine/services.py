"""Services that BPMN service tasks call: read and update employee records inside the step.

A service task names an operator (`spiffworkflow:serviceTaskOperator id="kredit_jp"`) with
parameters (expressions over the task data). The engine runs it in the same transaction as the
step, so a record update and the workflow state are stored together or not at all.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, UserNotFound
from engine.hr import (
    ENROLMENT_STATES,
    PREDICATES,
    DisciplinarySanction,
    Employee,
    EmployeePredicate,
    JpCredit,
    MentoringRecord,
    Training,
    TrainingBudget,
    TrainingEnrolment,
)
from engine.models import User, utcnow
from engine.users import user_by_name


@dataclass
class ServiceContext:
    """What a service may use: the step's session, instance and clock."""

    session: Session
    instance_id: int | None
    now: datetime
    # Audit rows a service asks for: the step writes them with its own, after its state.
    audits: list[dict[str, Any]] = field(default_factory=list)


ServiceFn = Callable[..., Any]
SERVICES: dict[str, ServiceFn] = {}
_CURRENT: contextvars.ContextVar[ServiceContext | None] = contextvars.ContextVar(
    "jenjang_service_context", default=None
)


def service(name: str) -> Callable[[ServiceFn], ServiceFn]:
    """Register a function as the service task operator `name`."""

    def register(fn: ServiceFn) -> ServiceFn:
        SERVICES[name] = fn
        return fn

    return register


def current() -> ServiceContext | None:
    """The context of the engine step running now, if any."""
    return _CURRENT.get()


@contextmanager
def bound(ctx: ServiceContext) -> Iterator[None]:
    """Make services available to the engine step running inside this block."""
    token = _CURRENT.set(ctx)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def call(name: str, params: dict[str, Any]) -> str:
    """Run a registered service with evaluated parameters; its result as JSON (for Spiff)."""
    ctx = _CURRENT.get()
    if ctx is None:
        raise RuntimeError("services run only inside an engine step")
    fn = SERVICES.get(name)
    if fn is None:
        raise InvalidInput(f"unknown service '{name}'")
    values = {k: v["value"] if isinstance(v, dict) else v for k, v in params.items()}
    try:
        # A savepoint: a service that fails leaves no half-written records behind.
        with ctx.session.begin_nested():
            result = fn(ctx, **values)
    except TypeError as exc:
        raise InvalidInput(f"service '{name}': {exc}") from exc
    return json.dumps(result, default=str)


def _employee(session: Session, username: str) -> tuple[int, Employee | None]:
    user = user_by_name(session, str(username))
    if user is None:
        raise UserNotFound(f"user '{username}' does not exist")
    return user.id, session.get(Employee, user.id)


def jp_in_year(session: Session, user_id: int, year: int) -> int:
    """The JP credited to a user in a year."""
    total = session.scalar(
        select(func.coalesce(func.sum(JpCredit.jp), 0)).where(
            JpCredit.user_id == user_id, JpCredit.tahun == year
        )
    )
    return int(total or 0)


def _years_between(start: date, end: date) -> float:
    return round((end - start).days / 365.25, 2)


@service("data_pegawai")
def data_pegawai(ctx: ServiceContext, pegawai: str, tahun: int | None = None) -> dict[str, Any]:
    """The record the promotion and training rules read, as of a year (default: this year)."""
    user_id, emp = _employee(ctx.session, pegawai)
    year = int(tahun or ctx.now.year)
    predicates = dict(
        ctx.session.execute(
            select(EmployeePredicate.tahun, EmployeePredicate.predikat).where(
                EmployeePredicate.user_id == user_id,
                EmployeePredicate.tahun.in_((year - 1, year - 2)),
            )
        ).all()
    )
    today = ctx.now.date()
    sanction = ctx.session.scalar(
        select(func.count()).where(
            DisciplinarySanction.user_id == user_id,
            DisciplinarySanction.mulai <= today,
            (DisciplinarySanction.selesai.is_(None)) | (DisciplinarySanction.selesai >= today),
        )
    )
    user = ctx.session.get(User, user_id)
    boss = ctx.session.get(User, user.supervisor_id) if user and user.supervisor_id else None
    return {
        "atasan": boss.username if boss else None,
        "nip": emp.nip if emp else None,
        "golongan": emp.golongan if emp else None,
        "pendidikan": emp.pendidikan if emp else None,
        "masa_kerja_golongan_tahun": (
            _years_between(emp.tmt_golongan, today) if emp and emp.tmt_golongan else 0
        ),
        "predikat_tahun_lalu": predicates.get(year - 1),
        "predikat_dua_tahun_lalu": predicates.get(year - 2),
        "hukuman_disiplin": bool(sanction),
        "jp_tahun_ini": jp_in_year(ctx.session, user_id, year),
    }


@service("kredit_jp")
def kredit_jp(
    ctx: ServiceContext, pegawai: str, jp: int, keterangan: str = "", tahun: int | None = None
) -> dict[str, Any]:
    """Credit training hours to an employee for a year (default: this year); the new total."""
    if not isinstance(jp, int) or jp <= 0 or jp > 1000:
        raise InvalidInput(f"kredit_jp: jp must be a whole number from 1 to 1000, not {jp!r}")
    user_id, _ = _employee(ctx.session, pegawai)
    year = int(tahun) if tahun else ctx.now.year
    ctx.session.add(
        JpCredit(
            user_id=user_id,
            tahun=year,
            jp=jp,
            keterangan=str(keterangan)[:255],
            source_instance_id=ctx.instance_id,
        )
    )
    ctx.session.flush()
    return {"tahun": year, "jp_tahun_ini": jp_in_year(ctx.session, user_id, year)}


@service("simpan_predikat")
def simpan_predikat(ctx: ServiceContext, pegawai: str, tahun: int, predikat: str) -> dict[str, Any]:
    """Store (or replace) an employee's annual predicate."""
    if predikat not in PREDICATES:
        raise InvalidInput(f"simpan_predikat: unknown predikat {predikat!r}")
    user_id, _ = _employee(ctx.session, pegawai)
    row = ctx.session.get(EmployeePredicate, (user_id, int(tahun)))
    if row is None:
        row = EmployeePredicate(user_id=user_id, tahun=int(tahun))
        ctx.session.add(row)
    row.predikat = predikat
    row.source_instance_id = ctx.instance_id
    ctx.session.flush()
    return {"tahun": int(tahun), "predikat": predikat}


@service("naik_pangkat")
def naik_pangkat(ctx: ServiceContext, pegawai: str, golongan: str, tmt: str) -> dict[str, Any]:
    """Record a new rank (golongan) from a date (TMT, ISO format)."""
    user_id, emp = _employee(ctx.session, pegawai)
    try:
        since = date.fromisoformat(str(tmt))
    except ValueError as exc:
        raise InvalidInput(f"naik_pangkat: tmt {tmt!r} is not a date (YYYY-MM-DD)") from exc
    if emp is None:
        emp = Employee(user_id=user_id)
        ctx.session.add(emp)
    emp.golongan, emp.tmt_golongan, emp.updated_at = str(golongan), since, utcnow()
    ctx.session.flush()
    return {"golongan": emp.golongan, "tmt_golongan": since.isoformat()}


ACCEPTED = ("terima", "hadir", "tidak_hadir")


def _training(session: Session, kode: str, lock: bool = False) -> Training:
    query = select(Training).where(Training.kode == str(kode))
    if lock:
        # Serialises decisions on one training: two approvals cannot both take the last seat.
        query = query.with_for_update()
    training = session.scalar(query)
    if training is None:
        raise InvalidInput(f"training '{kode}' is not in the catalogue")
    return training


def _spent(session: Session, year: int) -> int:
    accepted = ("terima", "hadir", "tidak_hadir")
    total = session.scalar(
        select(func.coalesce(func.sum(Training.biaya), 0))
        .join(TrainingEnrolment, TrainingEnrolment.training_id == Training.id)
        .where(TrainingEnrolment.status.in_(accepted), func.extract("year", Training.mulai) == year)
    )
    return int(total or 0)


@service("info_pelatihan")
def info_pelatihan(ctx: ServiceContext, kode: str, pegawai: str) -> dict[str, Any]:
    """What the training decision reads: JP this year, seats and budget left, the cost."""
    training = _training(ctx.session, kode, lock=True)
    user_id, _ = _employee(ctx.session, pegawai)
    taken = ctx.session.scalar(
        select(func.count()).where(
            TrainingEnrolment.training_id == training.id,
            TrainingEnrolment.status.in_(ACCEPTED),
        )
    )
    current = ctx.session.scalar(
        select(TrainingEnrolment.status).where(
            TrainingEnrolment.training_id == training.id, TrainingEnrolment.user_id == user_id
        )
    )
    year = training.mulai.year
    budget = ctx.session.get(TrainingBudget, year)
    return {
        "judul": training.judul,
        "jp_pelatihan": training.jp,
        "biaya": training.biaya,
        "sisa_kuota": training.kuota - int(taken or 0),
        "sisa_anggaran": (budget.total if budget else 0) - _spent(ctx.session, year),
        "jp_tahun_ini": jp_in_year(ctx.session, user_id, ctx.now.year),
        "status_pendaftaran": current,
    }


@service("catat_pendaftaran")
def catat_pendaftaran(ctx: ServiceContext, kode: str, pegawai: str, status: str) -> dict[str, Any]:
    """Record an employee's enrolment status in a training."""
    if status not in ENROLMENT_STATES:
        raise InvalidInput(f"catat_pendaftaran: unknown status {status!r}")
    training = _training(ctx.session, kode)
    user_id, _ = _employee(ctx.session, pegawai)
    row = ctx.session.scalar(
        select(TrainingEnrolment).where(
            TrainingEnrolment.training_id == training.id, TrainingEnrolment.user_id == user_id
        )
    )
    if row is None:
        row = TrainingEnrolment(training_id=training.id, user_id=user_id, status=status)
        ctx.session.add(row)
    elif row.status in ACCEPTED and status not in ACCEPTED and row.instance_id != ctx.instance_id:
        # A second request must not undo an enrolment (and free its seat).
        raise InvalidInput(
            f"{pegawai} is already enrolled in {training.kode} ({row.status}); "
            "a new request cannot change that"
        )
    row.status, row.instance_id, row.updated_at = status, ctx.instance_id, utcnow()
    ctx.session.flush()
    return {"kode": training.kode, "status": status}


# Final evaluations are rated on the agency's 1-5 scale (the mentoring forms use the same).
RATING_MIN, RATING_MAX = 1, 5
MAX_SESSIONS = 1000


def _user_id(session: Session, service_name: str, role: str, username: Any) -> int:
    """The id of the user named `username`; InvalidInput (naming the role) if there is none."""
    user = user_by_name(session, str(username)) if username else None
    if user is None:
        raise InvalidInput(f"{service_name}: {role} {username!r} is not a known user")
    return user.id


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _evaluation(role: str, value: Any) -> tuple[int | None, str, str]:
    """A final evaluation {"capaian": 1-5, "catatan": ..., "rekomendasi": ...} as columns."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInput(
            f"catat_hasil_mentoring: evaluasi_{role} must be an object, not {value!r}"
        )
    score = value.get("capaian")
    if score is not None and (
        isinstance(score, bool)
        or not isinstance(score, int)
        or not RATING_MIN <= score <= RATING_MAX
    ):
        raise InvalidInput(
            f"catat_hasil_mentoring: evaluasi_{role}.capaian must be a whole number from "
            f"{RATING_MIN} to {RATING_MAX}, not {score!r}"
        )
    return score, _text(value.get("catatan")), _text(value.get("rekomendasi"))


@service("catat_hasil_mentoring")
def catat_hasil_mentoring(
    ctx: ServiceContext,
    mentee: str,
    mentor: str,
    topik: str | None,
    tujuan: list[Any] | None,
    jumlah_sesi: int,
    evaluasi_mentor: dict[str, Any] | None,
    evaluasi_mentee: dict[str, Any] | None,
    disetujui_atasan: bool,
    catatan_atasan: str | None = None,
) -> dict[str, Any]:
    """Put a signed-off mentoring on the mentee's record; the record's id.

    Run again in the same instance, it updates that instance's record instead of adding one.
    """
    name = "catat_hasil_mentoring"
    mentee_id = _user_id(ctx.session, name, "mentee", mentee)
    mentor_id = _user_id(ctx.session, name, "mentor", mentor)
    if mentee_id == mentor_id:
        raise InvalidInput(f"{name}: the mentor must not be the mentee ({mentee!r})")
    if tujuan is None:
        tujuan = []
    if not isinstance(tujuan, list):
        raise InvalidInput(f"{name}: tujuan must be a list of goals, not {tujuan!r}")
    if (
        isinstance(jumlah_sesi, bool)
        or not isinstance(jumlah_sesi, int)
        or not 0 <= jumlah_sesi <= MAX_SESSIONS
    ):
        raise InvalidInput(
            f"{name}: jumlah_sesi must be a whole number from 0 to {MAX_SESSIONS}, "
            f"not {jumlah_sesi!r}"
        )
    if not isinstance(disetujui_atasan, bool):
        raise InvalidInput(
            f"{name}: disetujui_atasan must be true or false, not {disetujui_atasan!r}"
        )
    score_mentor, notes_mentor, advice = _evaluation("mentor", evaluasi_mentor)
    score_mentee, notes_mentee, _ = _evaluation("mentee", evaluasi_mentee)

    row = None
    if ctx.instance_id is not None:
        row = ctx.session.scalar(
            select(MentoringRecord).where(MentoringRecord.instance_id == ctx.instance_id)
        )
    if row is None:
        row = MentoringRecord(instance_id=ctx.instance_id)
        ctx.session.add(row)
    row.mentee_id, row.mentor_id = mentee_id, mentor_id
    row.topik = _text(topik)[:200]
    row.tujuan = [str(goal) for goal in tujuan]
    row.jumlah_sesi = jumlah_sesi
    row.capaian_mentor, row.catatan_mentor, row.rekomendasi = score_mentor, notes_mentor, advice
    row.capaian_mentee, row.catatan_mentee = score_mentee, notes_mentee
    row.disetujui_atasan, row.catatan_atasan = disetujui_atasan, _text(catatan_atasan)
    row.selesai_pada = ctx.now
    ctx.session.flush()
    return {"id": row.id}


@service("riwayat_mentoring")
def riwayat_mentoring(ctx: ServiceContext, pegawai: str) -> dict[str, Any]:
    """How many mentorings an employee finished as mentee, and the latest (topic, date)."""
    user_id = _user_id(ctx.session, "riwayat_mentoring", "pegawai", pegawai)
    count = ctx.session.scalar(select(func.count()).where(MentoringRecord.mentee_id == user_id))
    latest = ctx.session.execute(
        select(MentoringRecord.topik, MentoringRecord.selesai_pada)
        .where(MentoringRecord.mentee_id == user_id)
        .order_by(MentoringRecord.selesai_pada.desc(), MentoringRecord.id.desc())
        .limit(1)
    ).first()
    return {
        "jumlah": int(count or 0),
        "terakhir": (
            {"topik": latest.topik, "tanggal": latest.selesai_pada.date().isoformat()}
            if latest
            else None
        ),
    }


# Registers the recruitment and escalation services.
from engine import escalation, recruitment  # noqa: E402,F401

"""The HR admin's edits to employee records and the training catalogue, validated and audited."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import InvalidInput, NotAllowed
from engine.hr import (
    POTENTIALS,
    PREDICATES,
    DisciplinarySanction,
    Employee,
    EmployeePotential,
    EmployeePredicate,
    Training,
)
from engine.models import User, utcnow
from engine.services import ServiceContext, data_pegawai
from engine.users import get_user

HR_ROLES = {"admin", "admin_bkpsdm"}
GOLONGAN = re.compile(r"^(I|II|III|IV)/[a-e]$")
SANCTION_LEVELS = ("ringan", "sedang", "berat")


def _require_hr(actor: User) -> None:
    if not actor.role_names & HR_ROLES:
        raise NotAllowed(f"{actor.username} may not edit employee records")


def _date(value: str | date | None, what: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{what} '{value}' is not a date (YYYY-MM-DD)") from exc


def update_employee(session: Session, actor: User, username: str, **fields: Any) -> Employee:
    """Set NIP, golongan, TMT golongan, education or position of an employee."""
    _require_hr(actor)
    user = get_user(session, username)
    nip = fields.get("nip")
    if nip is not None and not re.fullmatch(r"\d{18}", nip):
        raise InvalidInput(f"NIP '{nip}' must be 18 digits")
    golongan = fields.get("golongan")
    if golongan is not None and not GOLONGAN.match(golongan):
        raise InvalidInput(f"golongan '{golongan}' must look like III/a")
    emp = session.get(Employee, user.id) or Employee(user_id=user.id)
    session.add(emp)
    for key in ("nip", "golongan", "pendidikan", "jabatan", "jenis"):
        if fields.get(key) is not None:
            setattr(emp, key, fields[key])
    if fields.get("tmt_golongan") is not None:
        emp.tmt_golongan = _date(fields["tmt_golongan"], "tmt_golongan")
    emp.updated_at = utcnow()
    changed = {k: str(v) for k, v in fields.items() if v is not None}
    audit.append(session, actor.username, "record_updated", detail={"user": username, **changed})
    return emp


def set_predicate(session: Session, actor: User, username: str, year: int, predicate: str) -> None:
    """Record an annual performance predicate by hand (e.g. from before Jenjang)."""
    _require_hr(actor)
    if predicate not in PREDICATES:
        raise InvalidInput(f"predikat '{predicate}' must be one of: {', '.join(PREDICATES)}")
    user = get_user(session, username)
    row = session.get(EmployeePredicate, (user.id, year)) or EmployeePredicate(
        user_id=user.id, tahun=year
    )
    row.predikat = predicate
    session.add(row)
    audit.append(
        session,
        actor.username,
        "record_updated",
        detail={"user": username, "tahun": year, "predikat": predicate},
    )


def set_potential(
    session: Session, actor: User, username: str, year: int, potential: str, basis: str = ""
) -> None:
    """Record a yearly potential assessment (rendah, menengah, tinggi) for the talent grid."""
    _require_hr(actor)
    if potential not in POTENTIALS:
        raise InvalidInput(f"potensi '{potential}' must be one of: {', '.join(POTENTIALS)}")
    user = get_user(session, username)
    row = session.get(EmployeePotential, (user.id, year)) or EmployeePotential(
        user_id=user.id, tahun=year
    )
    row.potensi, row.dasar = potential, basis.strip()[:200]
    session.add(row)
    audit.append(
        session,
        actor.username,
        "record_updated",
        detail={"user": username, "tahun": year, "potensi": potential, "dasar": row.dasar},
    )


def add_sanction(
    session: Session,
    actor: User,
    username: str,
    level: str,
    start: str,
    end: str | None,
    note: str = "",
) -> None:
    """Record a disciplinary sanction (active ones block promotion)."""
    _require_hr(actor)
    if level not in SANCTION_LEVELS:
        raise InvalidInput(f"tingkat '{level}' must be one of: {', '.join(SANCTION_LEVELS)}")
    begins, ends = _date(start, "mulai"), _date(end, "selesai")
    assert begins is not None
    if ends is not None and ends < begins:
        raise InvalidInput("selesai must not be before mulai")
    user = get_user(session, username)
    session.add(
        DisciplinarySanction(
            user_id=user.id, tingkat=level, mulai=begins, selesai=ends, keterangan=note[:255]
        )
    )
    audit.append(
        session,
        actor.username,
        "record_updated",
        detail={"user": username, "hukuman_disiplin": level, "mulai": start},
    )


def add_training(session: Session, actor: User, **fields: Any) -> Training:
    """Add a training to the catalogue."""
    _require_hr(actor)
    if session.scalar(select(Training).where(Training.kode == fields["kode"])) is not None:
        raise InvalidInput(f"training '{fields['kode']}' already exists")
    for key in ("jp", "kuota", "biaya"):
        if int(fields[key]) < 0:
            raise InvalidInput(f"{key} must not be negative")
    begins, ends = _date(fields["mulai"], "mulai"), _date(fields["selesai"], "selesai")
    assert begins is not None and ends is not None
    if ends < begins:
        raise InvalidInput("selesai must not be before mulai")
    training = Training(
        kode=fields["kode"],
        judul=fields["judul"],
        jenis=fields["jenis"],
        jp=int(fields["jp"]),
        mulai=begins,
        selesai=ends,
        kuota=int(fields["kuota"]),
        biaya=int(fields["biaya"]),
    )
    session.add(training)
    audit.append(session, actor.username, "catalogue_updated", detail={"training": training.kode})
    return training


def employee_record(session: Session, username: str) -> dict[str, Any]:
    """An employee's record as the rules see it this year."""
    ctx = ServiceContext(session, None, utcnow())
    record = data_pegawai(ctx, username)
    user = get_user(session, username)
    emp = session.get(Employee, user.id)
    record.update(
        username=username,
        nama=user.full_name,
        jabatan=emp.jabatan if emp else None,
        tmt_golongan=emp.tmt_golongan.isoformat() if emp and emp.tmt_golongan else None,
    )
    return record

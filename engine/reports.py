"""Process analytics: the recruitment funnel, time in each task, overdue tasks, heatmaps.

Every figure is one aggregate SQL query over the task table and the recruitment records; no
workflow is ever loaded, so the reports stay fast with national numbers of applications (see
bench/reports.py). Durations are seconds; medians and 90th percentiles interpolate linearly
between the two nearest values (PostgreSQL's ``percentile_cont``; computed the same way in
Python on SQLite, which lacks it). Functions take a session and plain data and never commit.
HR reports (training, performance) live in ``engine.reports_hr``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from engine.errors import InvalidInput
from engine.models import Instance, OrgUnit, ProcessVersion, SourceFile, TaskModel, User
from engine.recruitment import Formasi, Lamaran

# The committee's answer task exists exactly when an applicant filed an administrative
# objection; it is found by its form key (the form registry's name, not a BPMN id).
OBJECTION_ANSWER_FORM = "lamaran.jawab_sanggah_administrasi"
ELIGIBLE_STATES = ("ms", "usul_nip")  # eligible, including after an accepted objection
APPOINTED_STATE = "usul_nip"  # the PPK approved the NIP proposal
FUNNEL_STAGES = (
    "terdaftar",
    "memenuhi_syarat",
    "sanggah_diajukan",
    "sanggah_diterima",
    "lulus_skd",
    "ikut_skb",
    "lulus_akhir",
    "diangkat",
)
MAX_SLOWEST = 50


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _with_percentages(counts: dict[str, int]) -> dict[str, Any]:
    """Counts per stage, each also as a share of the registered applications."""
    total = counts["terdaftar"]
    return {
        "jumlah": dict(counts),
        "persen": {stage: _percent(counts[stage], total) for stage in FUNNEL_STAGES},
    }


def recruitment_funnel(session: Session, formasi_kode: str | None = None) -> dict[str, Any]:
    """Applications per funnel stage: overall, per formasi and per education level."""
    # A join to the (few) objected instances, not a per-row EXISTS: PostgreSQL plans it as
    # one hash join, cheap enough not to wake its JIT compiler (half a second on its own).
    objected = (
        select(TaskModel.instance_id)
        .where(TaskModel.form_key == OBJECTION_ANSWER_FORM)
        .distinct()
        .subquery()
    )
    objection = objected.c.instance_id.is_not(None)
    eligible = Lamaran.status.in_(ELIGIBLE_STATES)

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (
        select(
            Formasi.kode,
            Formasi.jabatan,
            Lamaran.pendidikan,
            func.count(Lamaran.id),
            count_if(eligible),
            count_if(objection),
            count_if(and_(objection, eligible)),
            count_if(Lamaran.skd_lulus.is_(True)),
            count_if(Lamaran.masuk_skb.is_(True)),
            count_if(Lamaran.lulus_akhir.is_(True)),
            count_if(Lamaran.status == APPOINTED_STATE),
        )
        .join(Formasi, Formasi.id == Lamaran.formasi_id)
        .outerjoin(objected, objected.c.instance_id == Lamaran.instance_id)
        .group_by(Formasi.kode, Formasi.jabatan, Lamaran.pendidikan)
    )
    if formasi_kode:
        if session.scalar(select(Formasi.id).where(Formasi.kode == formasi_kode)) is None:
            raise InvalidInput(f"formasi: {formasi_kode!r} tidak ada")
        query = query.where(Formasi.kode == formasi_kode)
    overall = dict.fromkeys(FUNNEL_STAGES, 0)
    per_formasi: dict[str, dict[str, int]] = {}
    titles: dict[str, str] = {}
    per_education: dict[str, dict[str, int]] = {}
    for kode, jabatan, pendidikan, *numbers in session.execute(query):
        counts = dict(zip(FUNNEL_STAGES, (int(n) for n in numbers), strict=True))
        titles[kode] = jabatan
        for bucket in (
            overall,
            per_formasi.setdefault(kode, dict.fromkeys(FUNNEL_STAGES, 0)),
            per_education.setdefault(pendidikan or "", dict.fromkeys(FUNNEL_STAGES, 0)),
        ):
            for stage, n in counts.items():
                bucket[stage] += n
    return {
        "tahap": list(FUNNEL_STAGES),
        "keseluruhan": _with_percentages(overall),
        "per_formasi": [
            {"formasi": kode, "jabatan": titles[kode], **_with_percentages(per_formasi[kode])}
            for kode in sorted(per_formasi)
        ],
        "per_pendidikan": [
            {"pendidikan": level, **_with_percentages(per_education[level])}
            for level in sorted(per_education)
        ],
    }


# --- time in each task --------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile of values with linear interpolation (as PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """An SQL expression: seconds from start to end on this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _task_scope(query: Any, process_key: str | None, version_id: int | None) -> Any:
    if process_key:
        query = query.where(TaskModel.process_key == process_key)
    if version_id is not None:
        query = query.where(Instance.process_version_id == version_id)
    return query


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def task_durations(
    session: Session,
    now: datetime,
    process_key: str | None = None,
    version_id: int | None = None,
) -> list[dict[str, Any]]:
    """Per process version and task: done, median and p90 seconds, open, oldest open age."""
    done = TaskModel.outcome == "completed"
    is_open = TaskModel.completed_at.is_(None)
    seconds = _seconds(session, TaskModel.created_at, TaskModel.completed_at)
    postgres = session.get_bind().dialect.name == "postgresql"
    columns: list[Any] = [
        Instance.process_version_id,
        TaskModel.element_id,
        func.max(TaskModel.name),
        func.count(TaskModel.id).filter(done) if postgres else func.sum(case((done, 1), else_=0)),
        func.count(TaskModel.id).filter(is_open)
        if postgres
        else func.sum(case((is_open, 1), else_=0)),
        func.min(case((is_open, TaskModel.created_at))),
    ]
    if postgres:
        columns += [
            func.percentile_cont(0.5).within_group(seconds).filter(done),
            func.percentile_cont(0.9).within_group(seconds).filter(done),
        ]
    query = _task_scope(
        select(*columns)
        .join(Instance, Instance.id == TaskModel.instance_id)
        .group_by(Instance.process_version_id, TaskModel.element_id),
        process_key,
        version_id,
    )
    rows = session.execute(query).all()
    quantiles: dict[tuple[int, str], tuple[float | None, float | None]] = {}
    if not postgres:
        found: dict[tuple[int, str], list[float]] = defaultdict(list)
        durations = _task_scope(
            select(Instance.process_version_id, TaskModel.element_id, seconds)
            .join(Instance, Instance.id == TaskModel.instance_id)
            .where(done),
            process_key,
            version_id,
        )
        for version, element, value in session.execute(durations):
            found[(version, element)].append(float(value))
        quantiles = {k: (percentile(v, 0.5), percentile(v, 0.9)) for k, v in found.items()}
    versions = _versions(session, {row[0] for row in rows})
    out = []
    for row in rows:
        version, element, name, n_done, n_open, oldest = row[:6]
        median, p90 = row[6:8] if postgres else quantiles.get((version, element), (None, None))
        key, number = versions[version]
        out.append(
            {
                "proses": key,
                "versi": number,
                "versi_id": version,
                "elemen": element,
                "nama": name,
                "selesai": int(n_done or 0),
                "median_detik": _rounded(median),
                "p90_detik": _rounded(p90),
                "terbuka": int(n_open or 0),
                "terbuka_terlama_detik": _rounded((now - oldest).total_seconds())
                if oldest
                else None,
            }
        )
    out.sort(key=lambda r: (r["proses"], r["versi"], r["elemen"]))
    return out


def _versions(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(ProcessVersion.id, ProcessVersion.key, ProcessVersion.version).where(
            ProcessVersion.id.in_(wanted)
        )
    )
    return {id_: (key, number) for id_, key, number in rows}


def _person() -> tuple[Any, Any]:
    """Who holds an open task: its claimer, else its assignee (None: still with its role)."""
    person = aliased(User)
    holder = func.coalesce(TaskModel.claimed_by_id, TaskModel.assignee_id)
    return person, holder


def slowest_open(
    session: Session,
    now: datetime,
    process_key: str | None = None,
    version_id: int | None = None,
    per_task: int = 5,
) -> list[dict[str, Any]]:
    """The oldest open tasks of each process version and task (at most per_task each)."""
    if not 1 <= per_task <= MAX_SLOWEST:
        raise InvalidInput(f"per_task: harus 1 sampai {MAX_SLOWEST}, bukan {per_task!r}")
    person, holder = _person()
    rank = (
        func.row_number()
        .over(
            partition_by=(Instance.process_version_id, TaskModel.element_id),
            order_by=(TaskModel.created_at, TaskModel.id),
        )
        .label("rank")
    )
    inner = _task_scope(
        select(
            TaskModel.id,
            Instance.process_version_id,
            TaskModel.element_id,
            TaskModel.name,
            TaskModel.business_key,
            TaskModel.role,
            TaskModel.created_at,
            TaskModel.due_at,
            holder.label("holder_id"),
            rank,
        )
        .join(Instance, Instance.id == TaskModel.instance_id)
        .where(TaskModel.completed_at.is_(None)),
        process_key,
        version_id,
    ).subquery()
    rows = session.execute(
        select(inner, person.username)
        .outerjoin(person, person.id == inner.c.holder_id)
        .where(inner.c.rank <= per_task)
        .order_by(inner.c.created_at, inner.c.id)
    ).all()
    versions = _versions(session, {r.process_version_id for r in rows})
    return [
        {
            "tugas_id": r.id,
            "proses": versions[r.process_version_id][0],
            "versi": versions[r.process_version_id][1],
            "elemen": r.element_id,
            "nama": r.name,
            "kunci_bisnis": r.business_key,
            "peran": r.role,
            "pemegang": r.username,
            "dibuat": r.created_at.isoformat(),
            "tenggat": r.due_at.isoformat() if r.due_at else None,
            "umur_detik": round((now - r.created_at).total_seconds(), 1),
        }
        for r in rows
    ]


def overdue_tasks(session: Session, now: datetime, unit_id: int | None = None) -> dict[str, Any]:
    """Open tasks past their due date, counted per unit and per person holding them."""
    person, holder = _person()
    unit = aliased(OrgUnit)
    late = and_(TaskModel.completed_at.is_(None), TaskModel.due_at < now)
    query = (
        select(
            person.username,
            person.full_name,
            unit.name,
            case((holder.is_(None), TaskModel.role)).label("role"),
            func.count(TaskModel.id),
            func.min(TaskModel.due_at),
        )
        .select_from(TaskModel)
        .outerjoin(person, person.id == holder)
        .outerjoin(unit, unit.id == person.unit_id)
        .where(late)
        .group_by(
            person.username,
            person.full_name,
            unit.name,
            case((holder.is_(None), TaskModel.role)),
        )
    )
    if unit_id is not None:
        query = query.where(person.unit_id == unit_id)
    by_person = []
    by_unit: dict[str, dict[str, Any]] = {}
    for username, full_name, unit_name, role, count, oldest in session.execute(query):
        late_days = round((now - oldest).total_seconds() / 86400, 1)
        by_person.append(
            {
                "pengguna": username,
                "nama": full_name or username,
                "unit": unit_name,
                "peran": role,
                "terlambat": int(count),
                "terlambat_hari_maks": late_days,
            }
        )
        bucket = by_unit.setdefault(
            unit_name or "", {"unit": unit_name, "terlambat": 0, "terlambat_hari_maks": 0.0}
        )
        bucket["terlambat"] += int(count)
        bucket["terlambat_hari_maks"] = max(bucket["terlambat_hari_maks"], late_days)
    by_person.sort(key=lambda r: (-r["terlambat"], r["pengguna"] or "", r["peran"] or ""))
    return {
        "per_unit": sorted(by_unit.values(), key=lambda r: (-r["terlambat"], r["unit"] or "")),
        "per_orang": by_person,
        "jumlah": sum(r["terlambat"] for r in by_person),
    }


# --- the heatmap on the diagram -------------------------------------------------------------


def heatmap(session: Session, version_id: int, now: datetime) -> dict[str, Any]:
    """A process version's BPMN and, per task element, median wait and open count."""
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise InvalidInput(f"versi: versi proses {version_id} tidak ada")
    xml = session.scalar(select(SourceFile.content).where(SourceFile.id == version.source_id))
    figures = task_durations(session, now, version_id=version_id)
    return {
        "proses": version.key,
        "versi": version.version,
        "versi_id": version.id,
        "nama": version.name,
        "bpmn": xml or "",
        "elemen": {
            row["elemen"]: {
                "nama": row["nama"],
                "median_detik": row["median_detik"],
                "terbuka": row["terbuka"],
                "selesai": row["selesai"],
            }
            for row in figures
        },
    }


def process_versions(session: Session) -> list[dict[str, Any]]:
    """Every deployed process version (key, number, id), newest first per key."""
    rows = session.execute(
        select(
            ProcessVersion.id, ProcessVersion.key, ProcessVersion.version, ProcessVersion.name
        ).order_by(ProcessVersion.key, ProcessVersion.version.desc())
    )
    return [{"id": i, "proses": k, "versi": v, "nama": n} for i, k, v, n in rows]


# Indexes the reports' plans use (migration 0014): open tasks by due date for the overdue
# report, and a form's tasks per instance for the funnel's objection check.
Index(
    "ix_task_open_due",
    TaskModel.due_at,
    postgresql_where=TaskModel.completed_at.is_(None),
    sqlite_where=TaskModel.completed_at.is_(None),
)
Index("ix_task_form_instance", TaskModel.form_key, TaskModel.instance_id)

"""HR reports: training hours against the yearly target, training requests and feedback,
performance predicates per unit, and who is eligible for promotion.

Rule numbers come in as parameters: the JP target from configuration, the predicate
distribution limits from configuration, promotion eligibility from the deployed
``kelayakan_kenaikan_pangkat`` decision. Aggregates are SQL; functions never commit.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.decisions import decide, decision_table
from engine.errors import InvalidInput
from engine.hr import (
    PREDICATES,
    DisciplinarySanction,
    Employee,
    EmployeePotential,
    EmployeePredicate,
    JpCredit,
    Training,
    TrainingEnrolment,
)
from engine.models import AuditEntry, DecisionVersion, OrgUnit, TaskModel, User
from engine.services import ACCEPTED

WAITING = ("diminta", "daftar_tunggu")
REJECTED = ("tolak",)
# The participant's feedback task, found by its form key (the form registry's name).
FEEDBACK_FORM = "pelatihan.isi_umpan_balik"
FEEDBACK_SCORES = ("nilai_materi", "nilai_metode", "nilai_pengajar")
PROMOTION_DECISION = "kelayakan_kenaikan_pangkat"
TALENT_DECISION = "kotak_talenta"


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _employees(unit_id: int | None) -> Any:
    query = (
        select(User.id, User.username, User.full_name, OrgUnit.name.label("unit"))
        .join(Employee, Employee.user_id == User.id)
        .outerjoin(OrgUnit, OrgUnit.id == User.unit_id)
        .where(User.active.is_(True))
    )
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    return query


def training_hours(
    session: Session, year: int, target: int, unit_id: int | None = None
) -> dict[str, Any]:
    """JP credited to each employee in a year against the target, and a summary per unit."""
    if target < 0:
        raise InvalidInput(f"target JP: harus >= 0, bukan {target!r}")
    credited = (
        select(JpCredit.user_id, func.sum(JpCredit.jp).label("jp"))
        .where(JpCredit.tahun == year)
        .group_by(JpCredit.user_id)
        .subquery()
    )
    people = _employees(unit_id).subquery()
    rows = session.execute(
        select(people, func.coalesce(credited.c.jp, 0).label("jp"))
        .outerjoin(credited, credited.c.user_id == people.c.id)
        .order_by(people.c.unit, people.c.full_name, people.c.username)
    ).all()
    per_unit: dict[str, dict[str, Any]] = {}
    employees = []
    for row in rows:
        jp = int(row.jp)
        employees.append(
            {
                "pengguna": row.username,
                "nama": row.full_name or row.username,
                "unit": row.unit,
                "jp": jp,
                "target": target,
                "kurang": max(0, target - jp),
                "tercapai": jp >= target,
            }
        )
        unit = per_unit.setdefault(
            row.unit or "", {"unit": row.unit, "pegawai": 0, "jp_total": 0, "tercapai": 0}
        )
        unit["pegawai"] += 1
        unit["jp_total"] += jp
        unit["tercapai"] += jp >= target
    for unit in per_unit.values():
        unit["jp_rata_rata"] = round(unit["jp_total"] / unit["pegawai"], 1)
        unit["persen_tercapai"] = _percent(unit["tercapai"], unit["pegawai"])
    return {
        "tahun": year,
        "target": target,
        "per_unit": [per_unit[k] for k in sorted(per_unit)],
        "per_pegawai": employees,
    }


def training_requests(session: Session, year: int) -> list[dict[str, Any]]:
    """Per training starting in the year: requests approved, waiting and rejected."""

    def count_in(states: Sequence[str]) -> Any:
        return func.count(TrainingEnrolment.id).filter(TrainingEnrolment.status.in_(states))

    rows = session.execute(
        select(
            Training.kode,
            Training.judul,
            Training.kuota,
            count_in(ACCEPTED),
            count_in(WAITING),
            count_in(REJECTED),
        )
        .outerjoin(TrainingEnrolment, TrainingEnrolment.training_id == Training.id)
        .where(Training.mulai >= date(year, 1, 1), Training.mulai <= date(year, 12, 31))
        .group_by(Training.id, Training.kode, Training.judul, Training.kuota)
        .order_by(Training.kode)
    )
    return [
        {
            "kode": kode,
            "judul": judul,
            "kuota": kuota,
            "disetujui": int(ok),
            "menunggu": int(waiting),
            "ditolak": int(rejected),
        }
        for kode, judul, kuota, ok, waiting, rejected in rows
    ]


def training_feedback(session: Session, year: int) -> list[dict[str, Any]]:
    """Per training starting in the year: feedback forms received and their mean scores."""
    rows = session.execute(
        select(Training.kode, Training.judul, AuditEntry.detail)
        .join(TrainingEnrolment, TrainingEnrolment.training_id == Training.id)
        .join(TaskModel, TaskModel.instance_id == TrainingEnrolment.instance_id)
        .join(
            AuditEntry,
            and_(AuditEntry.task_id == TaskModel.id, AuditEntry.action == "completed"),
        )
        .where(
            TaskModel.form_key == FEEDBACK_FORM,
            Training.mulai >= date(year, 1, 1),
            Training.mulai <= date(year, 12, 31),
        )
    )
    scores: dict[tuple[str, str], dict[str, list[float]]] = {}
    for kode, judul, detail in rows:
        data = (json.loads(detail or "{}") or {}).get("data") or {}
        bucket = scores.setdefault((kode, judul), {k: [] for k in FEEDBACK_SCORES})
        for key in FEEDBACK_SCORES:
            value = data.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                bucket[key].append(float(value))
    out = []
    for (kode, judul), found in sorted(scores.items()):
        entry: dict[str, Any] = {
            "kode": kode,
            "judul": judul,
            "umpan_balik": max(len(v) for v in found.values()),
        }
        for key, values in found.items():
            entry[key] = round(sum(values) / len(values), 2) if values else None
        out.append(entry)
    return out


def predicate_distribution(
    session: Session,
    year: int,
    limits: Mapping[str, float] | None = None,
    unit_id: int | None = None,
) -> dict[str, Any]:
    """Predicates per unit for a year, with shares and the limits (max % each) they break."""
    limits = dict(limits or {})
    unknown = sorted(set(limits) - set(PREDICATES))
    if unknown:
        raise InvalidInput(f"batas distribusi predikat: predikat tidak dikenal {unknown}")
    query = (
        select(OrgUnit.name, EmployeePredicate.predikat, func.count())
        .join(User, User.id == EmployeePredicate.user_id)
        .outerjoin(OrgUnit, OrgUnit.id == User.unit_id)
        .where(EmployeePredicate.tahun == year)
        .group_by(OrgUnit.name, EmployeePredicate.predikat)
    )
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PREDICATES, 0))
    for unit, predikat, n in session.execute(query):
        counts[unit or ""][predikat] = counts[unit or ""].get(predikat, 0) + int(n)
    units = []
    for unit in sorted(counts):
        row = counts[unit]
        total = sum(row.values())
        shares = {p: _percent(row.get(p, 0), total) for p in PREDICATES}
        broken = [p for p, cap in limits.items() if shares[p] > float(cap)]
        units.append(
            {
                "unit": unit or None,
                "jumlah": total,
                "per_predikat": {p: row.get(p, 0) for p in PREDICATES},
                "persen": shares,
                "melanggar": broken,
                "sesuai": not broken if limits else None,
            }
        )
    return {"tahun": year, "predikat": list(PREDICATES), "batas": limits, "per_unit": units}


def promotion_eligible(
    session: Session,
    today: date,
    kinds: Sequence[str],
    unit_id: int | None = None,
) -> dict[str, Any]:
    """Employees the deployed eligibility decision finds eligible today, for each kind."""
    version = session.scalar(
        select(func.max(DecisionVersion.version)).where(DecisionVersion.key == PROMOTION_DECISION)
    )
    if version is None:
        raise InvalidInput(f"tabel keputusan '{PROMOTION_DECISION}' belum di-deploy")
    year = today.year
    people = session.execute(
        _employees(unit_id)
        .add_columns(Employee.golongan, Employee.tmt_golongan)
        .order_by(OrgUnit.name, User.full_name, User.username)
    ).all()
    predicates: dict[int, dict[int, str]] = defaultdict(dict)
    for user_id, tahun, predikat in session.execute(
        select(
            EmployeePredicate.user_id, EmployeePredicate.tahun, EmployeePredicate.predikat
        ).where(EmployeePredicate.tahun.in_((year - 1, year - 2)))
    ):
        predicates[user_id][tahun] = predikat
    sanctioned = set(
        session.scalars(
            select(DisciplinarySanction.user_id).where(
                DisciplinarySanction.mulai <= today,
                or_(DisciplinarySanction.selesai.is_(None), DisciplinarySanction.selesai >= today),
            )
        )
    )
    classes = _years_classes(session, int(version))
    verdicts: dict[tuple[Any, ...], bool] = {}
    eligible = []
    for person in people:
        years = round((today - person.tmt_golongan).days / 365.25, 2) if person.tmt_golongan else 0
        data = {
            "masa_kerja_golongan_tahun": classes(years),
            "predikat_tahun_lalu": predicates[person.id].get(year - 1),
            "predikat_dua_tahun_lalu": predicates[person.id].get(year - 2),
            "hukuman_disiplin": person.id in sanctioned,
            # Whether a service exam applies is the proposer's call (see the process).
            "perlu_ujian_dinas": False,
            "lulus_ujian_dinas": False,
        }
        kinds_ok = []
        for kind in kinds:
            key = (kind, *data.values())
            if key not in verdicts:
                result = decide(
                    session, PROMOTION_DECISION, {**data, "jenis": kind}, version=int(version)
                )
                verdicts[key] = result.get("layak") is True
            if verdicts[key]:
                kinds_ok.append(kind)
        if kinds_ok:
            eligible.append(
                {
                    "pengguna": person.username,
                    "nama": person.full_name or person.username,
                    "unit": person.unit,
                    "golongan": person.golongan,
                    "masa_kerja_golongan_tahun": years,
                    "jenis": kinds_ok,
                }
            )
    return {
        "tanggal": today.isoformat(),
        "aturan": {PROMOTION_DECISION: int(version)},
        "pegawai": eligible,
    }


def talent_grid(session: Session, year: int, unit_id: int | None = None) -> dict[str, Any]:
    """The 9-box grid of a year: employees with a predicate and a potential, boxed by the
    deployed `kotak_talenta` decision (which also says which boxes form the promotion pool)."""
    version = session.scalar(
        select(func.max(DecisionVersion.version)).where(DecisionVersion.key == TALENT_DECISION)
    )
    if version is None:
        raise InvalidInput(f"tabel keputusan '{TALENT_DECISION}' belum di-deploy")
    people = session.execute(
        _employees(unit_id)
        .add_columns(EmployeePredicate.predikat, EmployeePotential.potensi)
        .join(
            EmployeePredicate,
            and_(EmployeePredicate.user_id == User.id, EmployeePredicate.tahun == year),
        )
        .join(
            EmployeePotential,
            and_(EmployeePotential.user_id == User.id, EmployeePotential.tahun == year),
        )
        .order_by(OrgUnit.name, User.full_name, User.username)
    ).all()
    boxes: dict[tuple[str, str], dict[str, Any]] = {}  # one evaluation per pair, not per person
    counts = dict.fromkeys(range(1, 10), 0)
    pool = []
    for person in people:
        pair = (person.predikat, person.potensi)
        if pair not in boxes:
            boxes[pair] = decide(
                session,
                TALENT_DECISION,
                {"predikat": person.predikat, "potensi": person.potensi},
                version=int(version),
            )
        result = boxes[pair]
        box = result.get("kotak")
        if not isinstance(box, int) or box not in counts:
            continue
        counts[box] += 1
        if result.get("kelompok_suksesi") is True:
            pool.append(
                {
                    "pengguna": person.username,
                    "nama": person.full_name or person.username,
                    "unit": person.unit,
                    "predikat": person.predikat,
                    "potensi": person.potensi,
                    "kotak": box,
                }
            )
    pool.sort(key=lambda p: (-p["kotak"], p["nama"]))
    return {
        "tahun": year,
        "aturan": {TALENT_DECISION: int(version)},
        "dinilai": sum(counts.values()),
        "per_kotak": {str(k): v for k, v in counts.items()},
        "kelompok_suksesi": pool,
    }


_COMPARISON = re.compile(r"^\s*(?:<=|>=|==|!=|<|>)?\s*(-?\d+(?:\.\d+)?)\s*$")
YEARS_INPUT = "masa_kerja_golongan_tahun"


def _years_classes(session: Session, version: int) -> Callable[[float], float]:
    """Map years in rank to one representative per class the decision cannot tell apart.

    When every entry of the decision's years column compares against a number (``< 4``,
    ``>= 1``, ``4``), all values strictly between two consecutive numbers get the same
    verdict, so one evaluation per class and predicate combination serves every employee:
    thousands of employees need a few hundred evaluations. Any other entry keeps the exact
    years (correct, only slower).
    """
    table = decision_table(session, PROMOTION_DECISION, version)
    column = next((i for i, x in enumerate(table.inputs) if x.expression == YEARS_INPUT), None)
    if column is None:
        return lambda years: years
    numbers: set[float] = set()
    for rule in table.rules:
        for text in rule.inputEntries[column].lhs:
            if text is None or text.strip() in ("", "-"):
                continue
            match = _COMPARISON.match(text)
            if match is None:
                return lambda years: years
            numbers.add(float(match.group(1)))
    cuts = sorted(numbers)

    def representative(years: float) -> float:
        if not cuts or years in numbers:
            return years
        position = bisect.bisect_left(cuts, years)
        if position == 0:
            return cuts[0] - 1
        if position == len(cuts):
            return cuts[-1] + 1
        return (cuts[position - 1] + cuts[position]) / 2

    return representative

"""Reports benchmark: every report against 100,000 applications and their tasks on PostgreSQL.

Generates the data directly with bulk Core inserts (no workflow runs): formasi and their
applications with realistic statuses and scores, one `lamaran` instance per application with
its user tasks (upload, check, objection and its answer, final objection), employees with
predicates and JP credits, trainings with enrolments and feedback. Then times each report
function (fresh session, best and worst of --repeat runs) and prints a table; `--record`
appends it, with the command, to docs/benchmarks.md. Target: every report under 1 s.

    .venv/bin/python bench/reports.py --url postgresql+psycopg://USER@HOST/DB --reset --record

`--reset` drops and recreates the database's `public` schema first: use a throwaway database.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine.hr as hr  # noqa: E402
from bench.common import DOC, replace_section, reset_schema  # noqa: E402
from engine import announcements, reports, reports_hr  # noqa: E402
from engine.db import make_engine, session_factory, upgrade  # noqa: E402
from engine.deploy import deploy  # noqa: E402
from engine.models import (  # noqa: E402
    AuditEntry,
    Instance,
    OrgUnit,
    ProcessVersion,
    SourceFile,
    TaskModel,
    User,
)
from engine.recruitment import Formasi, Lamaran  # noqa: E402

SECTION = "## Reports at national size (PostgreSQL)"
REKRUTMEN = ROOT / "workflows" / "rekrutmen.bpmn"
DMN = ROOT / "workflows" / "kelayakan_kenaikan_pangkat.dmn"
NOW = datetime(2026, 11, 24, 8, 0, 0)
CHUNK = 20_000
LEVELS = ("SMA", "D3", "S1", "S2")
PREDICATES = hr.PREDICATES


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows in batches for executemany."""
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def bulk(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows with Core (multi-row VALUES batches)."""
    for part in chunks(rows):
        session.execute(insert(table), part)


def reset(engine: Engine) -> None:
    """Drop and recreate the public schema, then migrate."""
    reset_schema(engine)
    upgrade(engine)


def version_row(session: Session, key: str, content: str) -> int:
    """A process version of the real diagram (only what reports read)."""
    source = session.execute(
        insert(SourceFile.__table__).returning(SourceFile.__table__.c.id),
        {
            "sha256": uuid.uuid4().hex * 2,
            "name": f"{key}.bpmn",
            "kind": "bpmn",
            "content": content,
            "created_at": NOW,
        },
    ).scalar_one()
    return int(
        session.execute(
            insert(ProcessVersion.__table__).returning(ProcessVersion.__table__.c.id),
            {
                "key": key,
                "version": 1,
                "name": key,
                "sha256": uuid.uuid4().hex * 2,
                "dialect": "spiff",
                "source_id": source,
                "spec_json": "{}",
                "task_meta": {},
                "dependencies": {"decisions": {"bobot_nilai_akhir": 1}, "processes": []},
                "warnings": [],
                "deployed_by": "bench",
                "deployed_at": NOW,
            },
        ).scalar_one()
    )


def generate(session: Session, applications: int, employees: int, seed: int) -> dict[str, int]:
    """Insert the dataset; returns row counts."""
    rng = random.Random(seed)
    units = [{"id": i, "code": f"unit_{i:02d}", "name": f"Bidang {i:02d}"} for i in range(1, 41)]
    bulk(session, OrgUnit.__table__, units)
    users: list[dict[str, Any]] = []
    for i in range(1, employees + 201):
        users.append(
            {
                "id": i,
                "username": f"u{i:06d}",
                "full_name": f"Pegawai {i}",
                "unit_id": rng.randint(1, 40),
                "active": True,
                "created_at": NOW,
            }
        )
    bulk(session, User.__table__, users)
    staff = list(range(employees + 1, employees + 201))  # verifiers and committee
    bulk(
        session,
        hr.Employee.__table__,
        [
            {
                "user_id": i,
                "jenis": "pns",
                "golongan": rng.choice(("III/a", "III/b", "III/c")),
                "tmt_golongan": date(2026, 1, 1) - timedelta(days=rng.randint(100, 3000)),
                "pendidikan": rng.choice(LEVELS),
                "updated_at": NOW,
            }
            for i in range(1, employees + 1)
        ],
    )
    bulk(
        session,
        hr.EmployeePredicate.__table__,
        [
            {
                "user_id": i,
                "tahun": year,
                "predikat": rng.choices(PREDICATES, (2, 6, 1, 0.5, 0.2))[0],
            }
            for i in range(1, employees + 1)
            for year in (2024, 2025)
        ],
    )
    bulk(
        session,
        hr.JpCredit.__table__,
        [
            {
                "user_id": i,
                "tahun": 2026,
                "jp": rng.choice((4, 8, 12, 20)),
                "keterangan": "",
                "created_at": NOW,
            }
            for i in range(1, employees + 1)
            for _ in range(rng.randint(0, 3))
        ],
    )
    lamaran_pv = version_row(session, "lamaran", REKRUTMEN.read_text())
    formasi_count = max(1, applications // 200)
    bulk(
        session,
        Formasi.__table__,
        [
            {
                "id": f,
                "kode": f"F-{f:04d}",
                "jabatan": f"Jabatan {f}",
                "unit": "",
                "kuota": 5,
                "jenis_seleksi": "cpns",
                "pendidikan_min": "",
                "dokumen_wajib": [],
                "status": "selesai",
                "versi_aturan": {"skd_kelulusan": 1},
                "nomor_terakhir": 0,
                "created_at": NOW,
            }
            for f in range(1, formasi_count + 1)
        ],
    )
    instances, apps, tasks = [], [], []
    task_id = 0

    def task(
        inst: int,
        element: str,
        form: str,
        role: str | None,
        start: datetime,
        done: bool,
        **extra: Any,
    ) -> None:
        nonlocal task_id
        task_id += 1
        tasks.append(
            {
                "id": task_id,
                "instance_id": inst,
                "spiff_task_id": str(uuid.UUID(int=task_id)),
                "element_id": element,
                "name": element.replace("_", " ").capitalize(),
                "process_key": "lamaran",
                "business_key": None,
                "role": role,
                "assignee_id": extra.get("assignee_id"),
                "form_key": form,
                "due_at": extra.get("due_at"),
                "created_at": start,
                "claimed_by_id": extra.get("claimed_by_id"),
                "claimed_at": None,
                "completed_by_id": None,
                "completed_at": start + timedelta(minutes=rng.randint(5, 60 * 24 * 6))
                if done
                else None,
                "outcome": "completed" if done else None,
            }
        )

    for n in range(1, applications + 1):
        f = (n - 1) % formasi_count + 1
        start = NOW - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1440))
        instances.append(
            {
                "id": n,
                "process_version_id": lamaran_pv,
                "process_key": "lamaran",
                "business_key": f"F-{f:04d}/p{n}",
                "state": "running",
                "started_at": start,
                "updated_at": start,
                "workflow_state": b"",
                "lock_version": 1,
            }
        )
        verified = rng.random() < 0.9
        eligible = verified and rng.random() < 0.75
        objected = verified and not eligible and rng.random() < 0.3
        accepted = objected and rng.random() < 0.4
        status = "ms" if eligible or accepted else ("tms" if verified else "terdaftar")
        twk, tiu, tkp = rng.randint(40, 150), rng.randint(50, 175), rng.randint(120, 225)
        skd_ok = status == "ms" and twk >= 65 and tiu >= 80 and tkp >= 166
        skb = skd_ok and rng.random() < 0.5
        passed = skb and rng.random() < 0.3
        apps.append(
            {
                "formasi_id": f,
                "nik": f"{3300000000000000 + n}",
                "nama": f"Pelamar {n}",
                "instance_id": n,
                "nomor_peserta": f"F-{f:04d}-{n:06d}",
                "jalur": "umum",
                "pendidikan": rng.choice(LEVELS),
                "status": "usul_nip" if passed and rng.random() < 0.5 else status,
                "twk": twk if status == "ms" else None,
                "tiu": tiu if status == "ms" else None,
                "tkp": tkp if status == "ms" else None,
                "skd_total": twk + tiu + tkp if status == "ms" else None,
                "skd_lulus": skd_ok if status == "ms" else None,
                "masuk_skb": skb if status == "ms" else None,
                "skb_nilai": rng.randint(40, 100) if skb else None,
                "nilai_akhir": rng.random() * 100 if skb else None,
                "peringkat_akhir": None,
                "lulus_akhir": passed if skb else None,
                "created_at": start,
                "updated_at": start,
            }
        )
        task(n, "unggah_dokumen", "lamaran.unggah_dokumen", None, start, True, assignee_id=None)
        check = start + timedelta(days=1)
        task(
            n,
            "verifikasi_administrasi",
            "lamaran.verifikasi_administrasi",
            "verifikator",
            check,
            verified,
            due_at=check + timedelta(days=5),
            claimed_by_id=None if verified or rng.random() < 0.5 else rng.choice(staff),
        )
        if verified and not eligible:
            answer = check + timedelta(days=3)
            task(n, "sanggah_administrasi", "lamaran.sanggah_administrasi", None, answer, True)
            if objected:
                task(
                    n,
                    "jawab_sanggah_administrasi",
                    reports.OBJECTION_ANSWER_FORM,
                    "panitia_seleksi",
                    answer + timedelta(days=1),
                    rng.random() < 0.8,
                    due_at=answer + timedelta(days=6),
                )
        if skb:
            task(
                n,
                "sanggah_hasil_akhir",
                "lamaran.sanggah_hasil_akhir",
                None,
                check + timedelta(days=40),
                rng.random() < 0.9,
            )
    bulk(session, Instance.__table__, instances)
    bulk(session, Lamaran.__table__, apps)
    bulk(session, TaskModel.__table__, tasks)
    trainings = [
        {
            "id": t,
            "kode": f"PLT-{t:03d}",
            "judul": f"Pelatihan {t}",
            "jenis": "teknis",
            "jp": 20,
            "mulai": date(2026, 1 + t % 12, 1),
            "selesai": date(2026, 1 + t % 12, 3),
            "kuota": 30,
            "biaya": 1_000_000,
        }
        for t in range(1, 101)
    ]
    bulk(session, hr.Training.__table__, trainings)
    training_pv = version_row(session, "pelatihan", "<definitions/>")
    enrolments, t_instances, t_tasks, audit_rows = [], [], [], []
    audit_start = int(session.scalar(select(func.max(AuditEntry.id))) or 0)
    base = applications
    for k, user_id in enumerate(rng.sample(range(1, employees + 1), min(employees, 3000)), start=1):
        inst = base + k
        t_instances.append(
            {
                **instances[0],
                "id": inst,
                "process_version_id": training_pv,
                "process_key": "pelatihan",
                "business_key": None,
            }
        )
        status = rng.choice(("hadir", "terima", "daftar_tunggu", "tolak", "diminta"))
        enrolments.append(
            {
                "training_id": rng.randint(1, 100),
                "user_id": user_id,
                "status": status,
                "instance_id": inst,
                "updated_at": NOW,
            }
        )
        if status == "hadir":
            task_id += 1
            t_tasks.append(
                {
                    **tasks[0],
                    "id": task_id,
                    "instance_id": inst,
                    "spiff_task_id": str(uuid.UUID(int=task_id)),
                    "process_key": "pelatihan",
                    "element_id": "isi_umpan_balik",
                    "form_key": reports_hr.FEEDBACK_FORM,
                }
            )
            detail = {
                "data": {
                    "nilai_materi": rng.randint(1, 5),
                    "nilai_metode": rng.randint(1, 5),
                    "nilai_pengajar": rng.randint(1, 5),
                    "komentar": "",
                }
            }
            audit_rows.append(
                {
                    "id": audit_start + len(audit_rows) + 1,
                    "at": NOW,
                    "actor": f"u{user_id:06d}",
                    "action": "completed",
                    "process_key": "pelatihan",
                    "instance_id": inst,
                    "task_id": task_id,
                    "element_id": "isi_umpan_balik",
                    "detail": json.dumps(detail),
                    "hash": "0" * 64,
                }
            )
    enrolments = list({(e["training_id"], e["user_id"]): e for e in enrolments}.values())
    bulk(session, Instance.__table__, t_instances)
    bulk(session, hr.TrainingEnrolment.__table__, enrolments)
    bulk(session, TaskModel.__table__, t_tasks)
    bulk(session, AuditEntry.__table__, audit_rows)
    for table in (
        "process_instance",
        "task",
        "user_account",
        "org_unit",
        "formasi",
        "training",
        "audit_entry",
    ):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        )
    return {
        "applications": len(apps),
        "tasks": len(tasks) + len(t_tasks),
        "employees": employees,
        "formasi": formasi_count,
    }


def timed(
    factory: Callable[[], Session], run: Callable[[Session], Any], repeat: int
) -> tuple[float, float]:
    """Best and worst wall-clock ms of a report over fresh sessions."""
    times = []
    for _ in range(repeat):
        with factory() as session:
            started = time.perf_counter()
            run(session)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return min(times), max(times)


def lamaran_version(session: Session) -> int:
    """The benchmark's lamaran version id."""
    return int(
        session.scalar(select(ProcessVersion.id).where(ProcessVersion.key == "lamaran")) or 0
    )


def main() -> None:
    """Generate, time, print and optionally record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (postgresql+psycopg://...)")
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reset", action="store_true", help="drop and recreate the schema first")
    parser.add_argument(
        "--record", action="store_true", help="append the results to docs/benchmarks.md"
    )
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        parser.error("--url: this benchmark is for PostgreSQL (postgresql+psycopg://...)")
    engine = make_engine(args.url)
    if args.reset:
        reset(engine)
    factory = session_factory(engine)
    with factory() as session:
        if session.scalar(select(Lamaran.id).limit(1)) is None:
            started = time.perf_counter()
            deploy(session, [(DMN.name, DMN.read_bytes())], "bench")
            counts = generate(session, args.applications, args.employees, args.seed)
            session.commit()
            print(f"generated {counts} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        else:
            print("data already present: timing only (use --reset to regenerate)", file=sys.stderr)
        session.execute(text("ANALYZE"))
        session.commit()
        pv = lamaran_version(session)
        counts = {
            "applications": session.query(Lamaran).count(),
            "tasks": session.query(TaskModel).count(),
            "employees": session.query(hr.Employee).count(),
        }
    today = NOW.date()
    cases: list[tuple[str, Callable[[Session], Any]]] = [
        ("recruitment funnel, all formasi", lambda s: reports.recruitment_funnel(s)),
        ("recruitment funnel, one formasi", lambda s: reports.recruitment_funnel(s, "F-0001")),
        ("time in stage (median, p90)", lambda s: reports.task_durations(s, NOW)),
        ("slowest open tasks", lambda s: reports.slowest_open(s, NOW)),
        ("overdue by unit and person", lambda s: reports.overdue_tasks(s, NOW)),
        ("heatmap of lamaran v1", lambda s: reports.heatmap(s, pv, NOW)),
        ("training: JP vs target", lambda s: reports_hr.training_hours(s, 2026, 20)),
        ("training: requests", lambda s: reports_hr.training_requests(s, 2026)),
        ("training: feedback", lambda s: reports_hr.training_feedback(s, 2026)),
        (
            "predicate distribution",
            lambda s: reports_hr.predicate_distribution(s, 2025, {"Sangat Baik": 25}),
        ),
        (
            "eligible for promotion",
            lambda s: reports_hr.promotion_eligible(s, today, ("reguler", "prestasi")),
        ),
        (
            "announcement file of one formasi",
            lambda s: announcements.results_file(
                list(s.scalars(select(Lamaran).join(Formasi).where(Formasi.kode == "F-0001")))
            ),
        ),
    ]
    results = []
    for name, run in cases:
        best, worst = timed(factory, run, args.repeat)
        results.append((name, best, worst))
        print(f"{name:40} best {best:8.1f} ms  worst {worst:8.1f} ms", flush=True)
    slowest = max(worst for _n, _b, worst in results)
    print(f"slowest report: {slowest:.1f} ms (target < 1000 ms)")
    if args.record:
        record(args, counts, results)


def record(
    args: argparse.Namespace, counts: dict[str, int], results: list[tuple[str, float, float]]
) -> None:
    """Write this run's table to its section of docs/benchmarks.md, in place."""
    lines = [
        SECTION,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, Python "
        f"{platform.python_version()}, PostgreSQL (local, default settings), "
        f"{counts['applications']:,} applications, {counts['tasks']:,} tasks, "
        f"{counts['employees']:,} employees; best and worst of {args.repeat} runs, each on a "
        "fresh session:",
        "",
        "```sh",
        f".venv/bin/python bench/reports.py --url URL --reset --applications {args.applications} "
        f"--employees {args.employees} --repeat {args.repeat} --record",
        "```",
        "",
        "| report | best ms | worst ms |",
        "|---|---:|---:|",
        *(f"| {name} | {best:.1f} | {worst:.1f} |" for name, best, worst in results),
    ]
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    DOC.write_text(replace_section(text, SECTION, "\n".join(lines) + "\n"), encoding="utf-8")


if __name__ == "__main__":
    main()

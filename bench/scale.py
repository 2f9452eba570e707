"""Data at scale: inbox, status page, task completion and start at 10k, 30k and 100k `lamaran`.

Method (docs/benchmarks.md, "Data at scale"): formasi and a few applications per formasi are
run through the real engine (start, upload documents, verification), one per stage: documents
to upload, waiting for the verifier, verified and waiting for the announcement. Those are the
templates. The generator then clones them with bulk Core inserts: new applicant account, NIK,
name, registration number and business key, written into the workflow state too, and the
template's audit rows re-chained (the chain stays verifiable). At each size the measured
operations run the real code: the verifier's inbox page and an applicant's status page through
the Flask app (in process, no network), `engine.runtime.complete_task` on a cloned task and
`engine.runtime.start_instance` for a new applicant, each in its own committed transaction.

    .venv/bin/python bench/scale.py --url postgresql+psycopg://USER@HOST/DB --reset --record
    .venv/bin/python bench/scale.py --quick          # SQLite temp file, 1k and 3k, < 1 min

`--reset` drops and recreates the database's `public` schema first: use a throwaway database.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import forms  # noqa: E402
from bench.common import Timer, command_line, progress, record, reset_schema  # noqa: E402
from engine.audit import chain  # noqa: E402
from engine.db import make_engine, session_factory, upgrade  # noqa: E402
from engine.deploy import deploy  # noqa: E402
from engine.models import (  # noqa: E402
    AuditEntry,
    AuditHead,
    Instance,
    MessageSubscription,
    TaskModel,
    User,
    UserRole,
    utcnow,
)
from engine.passwords import hash_password  # noqa: E402
from engine.recruitment import Lamaran  # noqa: E402
from engine.runtime import complete_task, start_instance  # noqa: E402
from engine.users import add_user  # noqa: E402

SECTION = "## Data at scale (lamaran instances)"
FILES = ("skd_kelulusan.dmn", "bobot_nilai_akhir.dmn", "rekrutmen.bpmn")
PASSWORD = "bench-password-1"  # every generated account's password (the HTTP bench logs in)
STAGES = ("unggah", "verifikasi", "menunggu")
# A registration peak: 30 % still uploading, 40 % waiting for the verifier, 30 % checked.
CYCLE = ("unggah",) * 3 + ("verifikasi",) * 4 + ("menunggu",) * 3
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
CHUNK = 2000
STAFF = (("panitia1", "panitia_seleksi"), ("verifikator1", "verifikator"), ("ppk1", "ppk"))


def documents() -> dict[str, tuple[str, bytes]]:
    """The four documents every application needs."""
    return {
        "ktp": ("ktp.pdf", PDF),
        "ijazah": ("ijazah.pdf", PDF),
        "transkrip": ("transkrip.pdf", PDF),
        "pas_foto": ("foto.jpg", JPEG),
    }


def kode_of(index: int) -> str:
    """The formasi code of the index-th generated formasi."""
    return f"F-{index:05d}"


def clone_nik(seq: int) -> str:
    """A 16-digit NIK for the seq-th cloned applicant."""
    return f"35{seq:014d}"


def new_nik(seq: int) -> str:
    """A 16-digit NIK for an applicant registering during the measurement."""
    return f"36{seq:014d}"


def replace_all(value: str, pairs: list[tuple[str, str]]) -> str:
    """value with each (old, new) pair replaced in order."""
    for old, new in pairs:
        value = value.replace(old, new)
    return value


def rewrite_state(blob: bytes, pairs: list[tuple[str, str]]) -> bytes:
    """A stored workflow state (zlib JSON) with the template's identity replaced."""
    raw = zlib.decompress(blob).decode("utf-8")
    return zlib.compress(replace_all(raw, pairs).encode("utf-8"), 1)


def submit(
    session: Session, task_id: int, user: User, data: dict[str, Any], files: Any = None
) -> None:
    """Validate with the task's form (as the web layer does) and complete the task."""
    row = session.get(TaskModel, task_id)
    assert row is not None
    result = forms.validate(row.form_key or "", data, files)
    assert result.ok, result.errors
    complete_task(session, task_id, user, result.data)


def open_task(session: Session, instance_id: int, element: str) -> int:
    """The id of the open task `element` of an instance."""
    task_id = session.scalar(
        select(TaskModel.id).where(
            TaskModel.instance_id == instance_id,
            TaskModel.element_id == element,
            TaskModel.completed_at.is_(None),
        )
    )
    assert task_id is not None, (instance_id, element)
    return task_id


# -- setup: real formasi and templates through the engine -------------------------------------


@dataclass
class Template:
    """A real application in one stage, and what identifies it inside its rows."""

    stage: str
    kode: str
    formasi_id: int
    instance_id: int
    user_id: int
    nik: str
    nama: str
    nomor: str


@dataclass
class World:
    """What the generator and the measurements share."""

    factory: sessionmaker[Session]
    staff: dict[str, int]
    templates: list[Template] = field(default_factory=list)
    formasi: list[str] = field(default_factory=list)
    clones: int = 0
    started: int = 0
    password_hash: str = ""


def open_formasi(session: Session, panitia: User, kode: str, days: int = 60) -> int:
    """A formasi through `seleksi_formasi`, registration open for `days`; its formasi row id."""
    from engine.recruitment import Formasi

    data = {
        "formasi_id": kode,
        "jabatan": "Pranata Komputer Ahli Pertama",
        "unit": "Dinas Komunikasi dan Informatika",
        "kuota": 3,
        "jenis_seleksi": "cpns",
        "pendidikan_min": "S1",
        "dokumen_wajib": [],
    }
    inst = start_instance(session, "seleksi_formasi", panitia, data, business_key=kode)
    today = date.today()
    dates = {"dibuka": today.isoformat(), "ditutup": (today + timedelta(days=days)).isoformat()}
    submit(session, open_task(session, inst.id, "tetapkan_jadwal"), panitia, dates)
    formasi_id = session.scalar(select(Formasi.id).where(Formasi.kode == kode))
    assert formasi_id is not None
    return formasi_id


def apply(session: Session, user: User, kode: str, stage: str, verifier: User) -> int:
    """An application through the engine, driven to `stage`; its instance id."""
    data = {
        "formasi_id": kode,
        "nik": user.username,
        "nama": user.full_name,
        "jalur": "umum",
        "pendidikan": "S1",
    }
    inst = start_instance(session, "lamaran", user, data, business_key=f"{kode}/{user.username}")
    assert inst.state != "error", inst.error_message
    if stage in ("verifikasi", "menunggu"):
        submit(session, open_task(session, inst.id, "unggah_dokumen"), user, {}, documents())
    if stage == "menunggu":
        task = open_task(session, inst.id, "verifikasi_administrasi")
        submit(session, task, verifier, {"memenuhi_syarat": True})
    return inst.id


def setup(url: str, formasi: int, do_reset: bool) -> tuple[Engine, World]:
    """Schema, processes, staff, formasi and one template per stage per formasi."""
    engine = make_engine(url)
    if do_reset and engine.dialect.name == "postgresql":
        reset_schema(engine)
    upgrade(engine)
    factory = session_factory(engine)
    hashed = hash_password(PASSWORD)
    with factory() as s, s.begin():
        deploy(s, [(n, (ROOT / "workflows" / n).read_bytes()) for n in FILES], "bench")
        users = {u: add_user(s, u, [r], full_name=u, password_hash=hashed) for u, r in STAFF}
        staff = {u: users[u].id for u in users}
    world = World(factory, staff, password_hash=hashed)
    for i in range(formasi):
        kode = kode_of(i + 1)
        with factory() as s, s.begin():
            panitia, verifier = s.get(User, staff["panitia1"]), s.get(User, staff["verifikator1"])
            assert panitia is not None and verifier is not None
            formasi_id = open_formasi(s, panitia, kode)
            for k, stage in enumerate(STAGES):
                nik, nama = f"99{i + 1:06d}{k:08d}", f"Templat {i + 1:06d} {stage}"
                user = add_user(s, nik, ["pelamar"], full_name=nama, password_hash=hashed)
                instance_id = apply(s, user, kode, stage, verifier)
                nomor = s.scalar(select(Lamaran.nomor_peserta).where(Lamaran.nik == nik))
                assert nomor is not None
                world.templates.append(
                    Template(stage, kode, formasi_id, instance_id, user.id, nik, nama, nomor)
                )
        world.formasi.append(kode)
        progress("templates", i + 1, formasi)
    return engine, world


# -- the generator: clone templates with bulk Core inserts ------------------------------------


def _rows(session: Session, table: Any, column: Any, ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for row in session.execute(select(table).where(column.in_(ids)).order_by(table.c.id)):
        found.setdefault(getattr(row, column.key), []).append(dict(row._mapping))
    return found


def _next_id(session: Session, table: Any) -> int:
    return int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


def _bump_sequences(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite's rowid follows max(id)
    for name in ("user_account", "process_instance", "task", "lamaran", "message_subscription"):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {name}))"
            )
        )


def clone(world: World, count: int, rng: random.Random) -> None:
    """Add `count` cloned applications, spread over the formasi and stages."""
    tables: dict[str, Any] = {
        m.__tablename__: m.__table__
        for m in (Instance, TaskModel, AuditEntry, Lamaran, MessageSubscription, User, UserRole)
    }
    ids = [t.instance_id for t in world.templates]
    with world.factory() as s:
        inst_rows = {
            r["id"]: r
            for rs in _rows(s, tables["process_instance"], Instance.__table__.c.id, ids).values()
            for r in rs
        }
        tasks = _rows(s, tables["task"], TaskModel.__table__.c.instance_id, ids)
        audits = _rows(s, tables["audit_entry"], AuditEntry.__table__.c.instance_id, ids)
        subs = _rows(
            s, tables["message_subscription"], MessageSubscription.__table__.c.instance_id, ids
        )
        lamaran = {
            rs[0]["instance_id"]: rs[0]
            for rs in _rows(s, tables["lamaran"], Lamaran.__table__.c.instance_id, ids).values()
        }
    by_stage: dict[str, list[Template]] = {st: [] for st in STAGES}
    for t in world.templates:
        by_stage[t.stage].append(t)
    now = utcnow()
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        with world.factory() as s, s.begin():
            next_ids = {
                name: _next_id(s, table) for name, table in tables.items() if name != "user_role"
            }
            head = s.execute(
                select(AuditHead.last_id, AuditHead.last_hash)
                .where(AuditHead.id == 1)
                .with_for_update()
            ).one()
            last_id, last_hash = head
            out: dict[str, list[dict]] = {name: [] for name in tables}
            for _ in range(n):
                seq = world.clones + 1
                world.clones = seq
                stage = CYCLE[seq % len(CYCLE)]
                t = by_stage[stage][seq % len(by_stage[stage])]
                nik, nama = clone_nik(seq), f"Pelamar {seq:08d}"
                nomor = f"{t.kode}-K{seq:08d}"
                pairs = [(t.nomor, nomor), (t.nik, nik), (t.nama, nama)]
                shift = timedelta(minutes=rng.randint(0, 14 * 24 * 60))
                user_id = next_ids["user_account"]
                next_ids["user_account"] += 1
                out["user_account"].append(
                    {
                        "id": user_id,
                        "username": nik,
                        "full_name": nama,
                        "email": f"{nik}@contoh.id",
                        "password_hash": world.password_hash,
                        "active": True,
                        "created_at": now - shift,
                    }
                )
                out["user_role"].append({"user_id": user_id, "role": "pelamar"})
                src = inst_rows[t.instance_id]
                inst_id = next_ids["process_instance"]
                next_ids["process_instance"] += 1
                out["process_instance"].append(
                    {
                        **src,
                        "id": inst_id,
                        "business_key": f"{t.kode}/{nik}",
                        "started_by_id": user_id,
                        "started_at": src["started_at"] - shift,
                        "updated_at": src["updated_at"] - shift,
                        "workflow_state": rewrite_state(src["workflow_state"], pairs),
                    }
                )
                task_map: dict[int, int] = {}
                for row in tasks.get(t.instance_id, []):
                    task_id = next_ids["task"]
                    next_ids["task"] += 1
                    task_map[row["id"]] = task_id
                    out["task"].append(
                        {
                            **row,
                            "id": task_id,
                            "instance_id": inst_id,
                            "business_key": f"{t.kode}/{nik}",
                            "assignee_id": user_id
                            if row["assignee_id"] == t.user_id
                            else row["assignee_id"],
                            "claimed_by_id": user_id
                            if row["claimed_by_id"] == t.user_id
                            else row["claimed_by_id"],
                            "completed_by_id": user_id
                            if row["completed_by_id"] == t.user_id
                            else row["completed_by_id"],
                            "created_at": row["created_at"] - shift,
                            "claimed_at": row["claimed_at"] and row["claimed_at"] - shift,
                            "completed_at": row["completed_at"] and row["completed_at"] - shift,
                        }
                    )
                for row in subs.get(t.instance_id, []):
                    out["message_subscription"].append(
                        {**row, "id": next_ids["message_subscription"], "instance_id": inst_id}
                    )
                    next_ids["message_subscription"] += 1
                lam = lamaran[t.instance_id]
                out["lamaran"].append(
                    {
                        **lam,
                        "id": next_ids["lamaran"],
                        "nik": nik,
                        "nik_aktif": nik,
                        "nama": nama,
                        "user_id": user_id,
                        "instance_id": inst_id,
                        "nomor_peserta": nomor,
                        "created_at": lam["created_at"] - shift,
                        "updated_at": lam["updated_at"] - shift,
                    }
                )
                next_ids["lamaran"] += 1
                copies = []
                for row in audits.get(t.instance_id, []):
                    last_id += 1
                    copies.append(
                        {
                            **row,
                            "id": last_id,
                            "instance_id": inst_id,
                            "at": row["at"] - shift,
                            "actor": replace_all(row["actor"], pairs),
                            "detail": replace_all(row["detail"], pairs),
                            "task_id": task_map.get(row["task_id"], row["task_id"]),
                        }
                    )
                last_hash = chain(copies, last_hash)
                out["audit_entry"].extend(copies)
            for name in (
                "user_account",
                "user_role",
                "process_instance",
                "task",
                "message_subscription",
                "lamaran",
                "audit_entry",
            ):
                if out[name]:
                    s.execute(insert(tables[name]), out[name])
            s.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)
                .values(last_id=last_id, last_hash=last_hash)
            )
            _bump_sequences(s)
        done += n
        progress("clone", done, count)
    # What autovacuum does on a live database after a bulk load: statistics and the
    # visibility map (without it, index-only scans still read the table).
    engine = world.factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# -- measurements -----------------------------------------------------------------------------


def make_app(url: str, engine: Engine) -> Any:
    """The real Flask app on the bench's database (CSRF off: the test client posts nothing)."""
    from webui.app import create_app

    return create_app(
        {
            "DATABASE_URL": url,
            "DB_ENGINE": engine,
            "SECRET_KEY": "bench",
            "TESTING": False,
            "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
        }
    )


def login(client: Any, user: User) -> None:
    """Put the user in the test client's session, as a login would (no password hashing)."""
    from webui.auth import password_fingerprint

    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user.id}.{password_fingerprint(user)}"
        sess["_fresh"] = True


class SqlClock:
    """Total time spent in the database driver (statement sent to rows back) while on."""

    def __init__(self, engine: Engine) -> None:
        self.total = 0.0
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, *_args: Any) -> None:
        self.total += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        self.statements += 1

    def reset(self) -> None:
        """Start counting from zero."""
        self.total, self.statements = 0.0, 0


@dataclass
class Figures:
    """p50/p95 per operation at one size."""

    size: int
    results: dict[str, tuple[float, float]] = field(default_factory=dict)


def measure(
    world: World, app: Any, clock: SqlClock, size: int, samples: int, rng: random.Random
) -> Figures:
    """Time the four operations at the current size (pages: also their SQL time)."""
    figures = Figures(size)
    inbox, status, complete, start = Timer(), Timer(), Timer(), Timer()
    inbox_sql, status_sql = Timer(), Timer()
    with world.factory() as s:
        verifier = s.get(User, world.staff["verifikator1"])
        assert verifier is not None
        s.expunge(verifier)
        picks = list(
            s.execute(
                select(Lamaran.id, Lamaran.user_id)
                .where(Lamaran.nomor_peserta.like("%-K%"))
                .order_by(func.random())
                .limit(samples)
            )
        )
        owners = {
            u.id: u for u in s.scalars(select(User).where(User.id.in_([p[1] for p in picks])))
        }
        for u in owners.values():
            s.expunge(u)
        open_checks = list(
            s.scalars(
                select(TaskModel.id)
                .where(
                    TaskModel.element_id == "verifikasi_administrasi",
                    TaskModel.completed_at.is_(None),
                )
                .order_by(func.random())
                .limit(samples)
            )
        )
    staff = app.test_client()
    login(staff, verifier)
    total = samples * 4
    for i in range(samples):  # the verifier's team tab, page 1 and a page deep in the list
        path = "/tugas/tim" if i % 2 == 0 else f"/tugas/tim?hal={1 + rng.randint(1, 50)}"
        clock.reset()
        with inbox:
            response = staff.get(path)
        inbox_sql.values.append(clock.total)
        assert response.status_code == 200, (path, response.status_code)
        progress(f"{size // 1000}k", i + 1, total)
    for i, (lamaran_id, user_id) in enumerate(picks):
        client = app.test_client()
        login(client, owners[user_id or 0])
        clock.reset()
        with status:
            response = client.get(f"/pelamar/lamaran/{lamaran_id}")
        status_sql.values.append(clock.total)
        assert response.status_code == 200, (lamaran_id, response.status_code)
        progress(f"{size // 1000}k", samples + i + 1, total)
    data = forms.validate("verifikasi_administrasi", {"memenuhi_syarat": True}).data
    for i, task_id in enumerate(open_checks):
        with world.factory() as s:
            actor = s.get(User, world.staff["verifikator1"])
            assert actor is not None
            with complete:
                complete_task(s, task_id, actor, dict(data))
                s.commit()
        progress(f"{size // 1000}k", 2 * samples + i + 1, total)
    for i in range(samples):
        world.started += 1
        kode = world.formasi[rng.randrange(len(world.formasi))]
        nik = new_nik(world.started)
        with world.factory() as s, s.begin():
            new_user = add_user(
                s, nik, ["pelamar"], full_name=f"Baru {nik}", password_hash=world.password_hash
            )
        with world.factory() as s:
            user = s.get(User, new_user.id)
            assert user is not None
            data_start = {
                "formasi_id": kode,
                "nik": nik,
                "nama": user.full_name,
                "jalur": "umum",
                "pendidikan": "S1",
            }
            with start:
                inst = start_instance(s, "lamaran", user, data_start, business_key=f"{kode}/{nik}")
                s.commit()
            assert inst.state != "error", inst.error_message
        progress(f"{size // 1000}k", 3 * samples + i + 1, total)
    figures.results = {
        "inbox page (verifier, team tab)": inbox.summary(),
        "inbox: its SQL": inbox_sql.summary(),
        "status page (applicant)": status.summary(),
        "status page: its SQL": status_sql.summary(),
        "complete a task (verification)": complete.summary(),
        "start an application": start.summary(),
    }
    return figures


def explain(world: World, app: Any, engine: Engine) -> str:
    """The PostgreSQL plans of the queries one inbox page and one status page run."""
    if engine.dialect.name != "postgresql":
        return ""
    captured: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM task" in statement:
            captured.append((statement, params))

    with world.factory() as s:
        verifier = s.get(User, world.staff["verifikator1"])
        pick = s.execute(
            select(Lamaran.id, Lamaran.user_id).where(Lamaran.nomor_peserta.like("%-K%")).limit(1)
        ).one()
        owner = s.get(User, pick[1])
        assert verifier is not None and owner is not None
        s.expunge_all()
    staff, applicant = app.test_client(), app.test_client()
    login(staff, verifier)
    login(applicant, owner)
    event.listen(engine, "before_cursor_execute", grab)
    try:
        staff.get("/tugas/tim")
        inbox_count = len(captured)
        applicant.get(f"/pelamar/lamaran/{pick[0]}")
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    parts: list[str] = []
    with engine.connect() as conn:
        for i, (statement, params) in enumerate(captured):
            label = "inbox page" if i < inbox_count else "status page"
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + statement, params
            )
            lines = [r[0] for r in plan]
            sql = " ".join(statement.split())
            parts.append(
                f"-- {label}: {sql[:300]}{'…' if len(sql) > 300 else ''}\n" + "\n".join(lines)
            )
        conn.rollback()
    return "\n\n".join(parts)


def table(figures: list[Figures]) -> list[str]:
    """The markdown table: one row per operation, p50/p95 per size."""
    ops = list(figures[0].results)
    head = "| operation | " + " | ".join(f"{f.size:,} p50 / p95 ms" for f in figures) + " |"
    lines = [head, "|---|" + "---:|" * len(figures)]
    for op in ops:
        cells = [f"{f.results[op][0]:.1f} / {f.results[op][1]:.1f}" for f in figures]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Generate, measure at each size, print the table (and record it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", help="database URL (default: a temp SQLite file)")
    ap.add_argument(
        "--reset", action="store_true", help="drop and recreate the schema (PostgreSQL)"
    )
    ap.add_argument("--sizes", default="10000,30000,100000", help="instance counts to measure at")
    ap.add_argument("--formasi", type=int, default=200, help="formasi (templates: 3 per formasi)")
    ap.add_argument("--samples", type=int, default=100, help="timed calls per operation and size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="a smoke run under a minute")
    ap.add_argument("--record", action="store_true", help="write results to docs/benchmarks.md")
    ap.add_argument("--plans", action="store_true", help="print the query plans (PostgreSQL)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.quick:
        sizes, args.formasi, args.samples = [1000, 3000], 10, 20
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/scale.db"
        if url.startswith("postgresql") and not args.reset:
            ap.error("PostgreSQL runs need --reset (it drops the schema): use a throwaway database")
        engine, world = setup(url, args.formasi, args.reset)
        app = make_app(url, engine)
        clock = SqlClock(engine)
        results: list[Figures] = []
        for size in sizes:
            have = len(world.templates) + world.clones + world.started
            if size > have:
                clone(world, size - have, rng)
            results.append(measure(world, app, clock, size, args.samples, rng))
            print("\n".join(table(results)))
        plans = explain(world, app, engine) if args.plans or args.record else ""
        engine.dispose()
    lines = table(results)
    print("\n".join(lines))
    if plans and args.plans:
        print(plans)
    if args.record:
        command = command_line("bench/scale.py", argv if argv is not None else sys.argv[1:])
        backend = (
            "PostgreSQL (local, default settings)"
            if url.startswith("postgresql")
            else "SQLite file (WAL)"
        )
        content = (
            f"Database: {backend}; {args.formasi} formasi, {len(world.templates)} real templates, "
            f"{args.samples} timed calls per operation and size.\n\n" + "\n".join(lines)
        )
        if plans:
            content += (
                "\n\nQuery plans at the largest size (EXPLAIN ANALYZE):\n\n```\n" + plans + "\n```"
            )
        record(SECTION, command.strip(), content)


if __name__ == "__main__":
    main()

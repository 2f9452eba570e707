"""Storage: bytes per finished `lamaran` instance in PostgreSQL, all tables, and 4M projected.

Runs one real selection through the engine (no cloning): N applicants register and upload
their documents, the verifier finds half of them TMS, registration closes (timer), the
committee announces, the TMS applicants let the objection window pass (timer) and the MS ones
fail the SKD (a real score file through the import task). Every application then ends. For
the rows those finished instances own in every table (instance, tasks, audit trail, lamaran,
message subscriptions, documents, notifications, the applicant's account), it sums the heap
bytes PostgreSQL stores (`pg_column_size` of each row plus its 4-byte line pointer) and the
index entries those rows occupy (each index's key bytes plus the 8-byte tuple header and line
pointer, at btree's 90 % fill; partial indexes only where the row matches their predicate).

    .venv/bin/python bench/storage.py --url postgresql+psycopg://USER@HOST/DB --reset --record
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import command_line, progress, record  # noqa: E402
from bench.scale import apply, open_formasi, open_task, setup, submit  # noqa: E402
from engine.models import Instance, User, utcnow  # noqa: E402
from engine.recruitment import Formasi, Lamaran  # noqa: E402
from engine.timers import fire_timers  # noqa: E402
from engine.users import add_user  # noqa: E402

SECTION = "## Storage per finished instance (PostgreSQL)"
KODE = "S-00001"
PROJECTION = 4_000_000
# Tables whose rows belong to one instance, and the column naming it.
OWNED = {
    "process_instance": "id",
    "task": "instance_id",
    "audit_entry": "instance_id",
    "lamaran": "instance_id",
    "message_subscription": "instance_id",
    "document": "instance_id",
    "notification": "instance_id",
}


def run_selection(factory: Any, applicants: int, password_hash: str) -> list[int]:
    """One formasi run to the end for every applicant; the finished lamaran instance ids."""
    with factory() as s, s.begin():
        panitia = s.scalar(select(User).where(User.username == "panitia1"))
        formasi_id = open_formasi(s, panitia, KODE, days=1)
    ids: list[int] = []
    niks: list[tuple[str, str, bool]] = []
    for i in range(applicants):
        ms = i % 2 == 0
        with factory() as s, s.begin():
            verifier = s.scalar(select(User).where(User.username == "verifikator1"))
            nik, nama = f"37{i:014d}", f"Pelamar Uji {i:05d}"
            user = add_user(s, nik, ["pelamar"], full_name=nama, password_hash=password_hash)
            instance_id = apply(s, user, KODE, "menunggu" if ms else "verifikasi", verifier)
            if not ms:
                task = open_task(s, instance_id, "verifikasi_administrasi")
                data = {"memenuhi_syarat": False, "alasan_ktp": "KTP tidak terbaca"}
                submit(s, task, verifier, data)
            ids.append(instance_id)
            niks.append((nik, nama, ms))
        progress("apply", i + 1, applicants)
    now = utcnow()
    with factory() as s, s.begin():
        seleksi = s.scalar(select(Formasi.instance_id).where(Formasi.id == formasi_id))
        assert seleksi is not None
        assert fire_timers(s, seleksi, now + timedelta(days=2)) == ["pendaftaran_ditutup"]
    with factory() as s, s.begin():
        panitia = s.scalar(select(User).where(User.username == "panitia1"))
        submit(s, open_task(s, seleksi, "umumkan_administrasi"), panitia, {})
    for i, instance_id in enumerate(ids):
        if not niks[i][2]:
            with factory() as s, s.begin():
                fire_timers(s, instance_id, now + timedelta(days=6))
    rows = ["NIK,NAMA,TWK,TIU,TKP"] + [f"{n},{m},60,110,190" for n, m, ms in niks if ms]
    with factory() as s, s.begin():
        panitia = s.scalar(select(User).where(User.username == "panitia1"))
        csv = ("\n".join(rows) + "\n").encode()
        task = open_task(s, seleksi, "unggah_nilai_skd")
        submit(s, task, panitia, {}, {"berkas_skd": ("skd.csv", csv)})
    with factory() as s:
        return list(
            s.scalars(
                select(Instance.id).where(Instance.id.in_(ids), Instance.state == "completed")
            )
        )


def _indexes(session: Session, table: str) -> list[tuple[str, list[str], str | None]]:
    """Each index of a table: name, key column names, predicate (or None)."""
    rows = session.execute(
        text(
            "SELECT c.relname, "
            "array(SELECT a.attname FROM unnest(i.indkey) k JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = k), "
            "pg_get_expr(i.indpred, i.indrelid) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).all()
    return [(name, list(cols), pred) for name, cols, pred in rows]


def measure(session: Session, ids: list[int]) -> dict[str, tuple[int, int, int]]:
    """Per table: rows, heap bytes and index bytes owned by the finished instances."""
    owned = dict(OWNED)
    out: dict[str, tuple[int, int, int]] = {}
    users = list(session.scalars(select(Lamaran.user_id).where(Lamaran.instance_id.in_(ids))))
    where = {name: f"t.{column} = ANY(:ids)" for name, column in owned.items()}
    where["user_account"] = "t.id = ANY(:users)"
    where["user_role"] = "t.user_id = ANY(:users)"
    params = {"ids": ids, "users": users}
    for table, condition in where.items():
        heap = session.execute(
            text(
                f"SELECT count(*), coalesce(sum(pg_column_size(t.*) + 4), 0) FROM {table} t "
                f"WHERE {condition}"
            ),
            params,
        ).one()
        index_bytes = 0
        for _name, cols, pred in _indexes(session, table):
            extra = f" AND ({pred})" if pred else ""
            width = " + ".join(f"coalesce(pg_column_size(t.{c}), 0)" for c in cols) or "0"
            entries = session.execute(
                text(
                    f"SELECT coalesce(sum(12 + ({width})), 0) FROM {table} t "
                    f"WHERE {condition}{extra}"
                ),
                params,
            ).scalar_one()
            index_bytes += int(int(entries) / 0.9)
        out[table] = (int(heap[0]), int(heap[1]), index_bytes)
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the selection, measure, print (and record)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", required=True, help="a PostgreSQL URL (postgresql+psycopg://...)")
    ap.add_argument("--reset", action="store_true", help="drop and recreate the schema first")
    ap.add_argument("--applicants", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="a smoke run (20 applicants)")
    ap.add_argument("--record", action="store_true", help="write results to docs/benchmarks.md")
    args = ap.parse_args(argv)
    if not args.reset:
        ap.error("the bench needs --reset (it drops the schema): use a throwaway database")
    n = 20 if args.quick else args.applicants
    engine: Engine
    engine, world = setup(args.url, 0, True)
    ids = run_selection(world.factory, n, world.password_hash)
    with world.factory() as s:
        tables = measure(s, ids)
    engine.dispose()
    finished = len(ids)
    lines = [
        "| table | rows per instance | heap B | index B | total B per instance |",
        "|---|---:|---:|---:|---:|",
    ]
    total = 0.0
    for table, (rows, heap, index) in sorted(tables.items(), key=lambda t: -t[1][1]):
        per = (heap + index) / finished
        total += per
        lines.append(
            f"| {table} | {rows / finished:.1f} | {heap / finished:.0f} | "
            f"{index / finished:.0f} | {per:.0f} |"
        )
    lines.append(f"| **all** | | | | **{total:.0f}** |")
    summary = (
        f"{finished} of {n} applications finished (half TMS after the objection window, half "
        f"failing SKD): {total:,.0f} B ({total / 1024:.1f} KiB) per finished instance; "
        f"{PROJECTION:,} applications: {total * PROJECTION / 1024**3:.1f} GiB of rows and "
        "indexes (before PostgreSQL's free space, WAL and backups)."
    )
    print("\n".join(lines))
    print(summary)
    if args.record:
        command = command_line("bench/storage.py", argv if argv is not None else sys.argv[1:])
        record(SECTION, command.strip(), "\n".join(lines) + "\n\n" + summary)


if __name__ == "__main__":
    main()

"""Recruitment (seleksi CASN): formasi, applications, SKD/SKB results and the ranking services.

One `seleksi_formasi` instance runs the selection of a formasi; one `lamaran` instance per
applicant follows an application. In process data `formasi_id` is the formasi's `kode`
(e.g. "F-001"): it is the correlation value of the announcements both processes exchange.
Every rule number (score ranges, 3 x quota, tie-break order, weights, maxima) comes in as a
parameter from the diagram or from a DMN table; none is written here. CSV score imports
live in `engine.recruitment_import`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import flushed_connection
from engine.errors import InvalidInput
from engine.models import Base, DecisionVersion, Instance, utcnow
from engine.services import ServiceContext, service

JENIS_SELEKSI = ("cpns", "pppk")
JALUR = ("umum", "cumlaude", "diaspora", "disabilitas")
# Stages of a formasi; each service moves it one stage on (see NEXT_STAGE).
STAGES = ("draf", "dibuka", "ditutup", "skd", "skb", "selesai")
NEXT_STAGE = {"dibuka": "ditutup", "ditutup": "skd", "skd": "skb", "skb": "selesai"}
# States of an application; the test results are kept in their own columns.
LAMARAN_STATES = ("terdaftar", "ms", "tms", "sanggah", "batal", "usul_nip")
TRANSITIONS = {
    "terdaftar": {"ms", "tms", "batal"},
    "tms": {"sanggah"},
    "sanggah": {"ms", "tms"},
    "ms": {"usul_nip"},
}
SKD_PARTS = ("twk", "tiu", "tkp")
TIE_KEYS = (*SKD_PARTS, "skb")
SKD_DECISION = "skd_kelulusan"


class Formasi(Base):
    """An open position with a quota; one `seleksi_formasi` instance runs its selection."""

    __tablename__ = "formasi"

    id: Mapped[int] = mapped_column(primary_key=True)
    kode: Mapped[str] = mapped_column(String(32), unique=True)
    jabatan: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(200), default="")
    kuota: Mapped[int]
    jenis_seleksi: Mapped[str] = mapped_column(String(8))  # cpns | pppk
    pendidikan_min: Mapped[str] = mapped_column(String(32), default="")
    dokumen_wajib: Mapped[list[Any]]  # documents beyond KTP, ijazah, transkrip, pas foto
    dibuka: Mapped[date | None]
    ditutup: Mapped[date | None]
    ditutup_pada: Mapped[datetime | None]  # naive UTC: end of the closing day, local time
    dibuka_pada: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="draf")
    instance_id: Mapped[int | None] = mapped_column(index=True)  # the committee rule joins it
    versi_aturan: Mapped[dict[str, Any]]  # decision versions the selection is bound to
    nomor_terakhir: Mapped[int] = mapped_column(default=0)  # last registration number given
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lamaran(Base):
    """An application of one applicant (by NIK) to one formasi, with its test results."""

    __tablename__ = "lamaran"
    __table_args__ = (UniqueConstraint("formasi_id", "nik"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    formasi_id: Mapped[int] = mapped_column(ForeignKey("formasi.id"), index=True)
    nik: Mapped[str] = mapped_column(String(16), index=True)
    # The NIK while the application is active: one active application per person (unique),
    # cleared when the selection ends, so the database itself refuses a second one.
    nik_aktif: Mapped[str | None] = mapped_column(String(16), unique=True)
    nama: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(index=True)  # the committee rule joins it
    nomor_peserta: Mapped[str] = mapped_column(String(48), unique=True)
    jalur: Mapped[str] = mapped_column(String(16))
    pendidikan: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="terdaftar")
    alasan_tms: Mapped[dict[str, Any] | None]  # per rejected document: the reason
    twk: Mapped[int | None]
    tiu: Mapped[int | None]
    tkp: Mapped[int | None]
    skd_total: Mapped[int | None]
    skd_lulus: Mapped[bool | None]
    skd_alasan: Mapped[str | None] = mapped_column(String(255))
    peringkat_skd: Mapped[int | None]
    masuk_skb: Mapped[bool | None]
    skb_nilai: Mapped[float | None]
    nilai_akhir: Mapped[float | None]
    peringkat_akhir: Mapped[int | None]
    lulus_akhir: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def get_formasi(session: Session, kode: str, *, lock: bool = False) -> Formasi:
    """The formasi with this kode; raises InvalidInput when there is none."""
    query = select(Formasi).where(Formasi.kode == str(kode))
    formasi = session.scalar(query.with_for_update() if lock else query)
    if formasi is None:
        raise InvalidInput(f"formasi {kode} tidak ada")
    return formasi


def get_lamaran(session: Session, nomor_peserta: str) -> Lamaran:
    """The application with this registration number; raises InvalidInput when there is none."""
    row = session.scalar(select(Lamaran).where(Lamaran.nomor_peserta == str(nomor_peserta)))
    if row is None:
        raise InvalidInput(f"nomor peserta {nomor_peserta} tidak ada")
    return row


def lamaran_of(session: Session, formasi: Formasi) -> list[Lamaran]:
    """The applications to a formasi, by registration number."""
    return list(
        session.scalars(
            select(Lamaran).where(Lamaran.formasi_id == formasi.id).order_by(Lamaran.nomor_peserta)
        )
    )


def _require_stage(formasi: Formasi, *stages: str) -> None:
    if formasi.status not in stages:
        raise InvalidInput(
            f"formasi {formasi.kode} sedang dalam tahap '{formasi.status}', "
            f"bukan {' / '.join(repr(s) for s in stages)}"
        )


def _local_moment(day: date, clock_time: str, zone: str) -> datetime:
    """A local wall-clock moment of a day as naive UTC (how the database stores times)."""
    try:
        moment = datetime.fromisoformat(f"{day.isoformat()}T{clock_time}{zone}")
    except ValueError as exc:
        raise InvalidInput(f"zona waktu {zone!r} tidak valid (contoh: +07:00)") from exc
    offset = moment.utcoffset() or timedelta(0)
    return moment.replace(tzinfo=None) - offset


def _as_date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} bukan tanggal (YYYY-MM-DD)") from exc


def _decision_in_force(session: Session, key: str) -> int:
    """The newest deployed version of a decision: a selection keeps the rule it started with."""
    version = session.scalar(
        select(func.max(DecisionVersion.version)).where(DecisionVersion.key == key)
    )
    if version is None:
        raise InvalidInput(f"tabel keputusan '{key}' belum di-deploy")
    return int(version)


# --- the selection of a formasi ---------------------------------------------------------


@service("buat_formasi")
def buat_formasi(
    ctx: ServiceContext,
    kode: str,
    jabatan: str,
    kuota: int,
    jenis_seleksi: str,
    unit: str = "",
    pendidikan_min: str = "",
    dokumen_wajib: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Record a formasi (stage 'draf') and bind it to the SKD decision version in force now."""
    kode = str(kode).strip()
    if not kode or len(kode) > 32:
        raise InvalidInput("kode formasi wajib diisi (paling banyak 32 karakter)")
    if not isinstance(kuota, int) or isinstance(kuota, bool) or kuota < 1:
        raise InvalidInput(f"kuota formasi {kode} harus bilangan bulat positif, bukan {kuota!r}")
    if jenis_seleksi not in JENIS_SELEKSI:
        raise InvalidInput(f"jenis seleksi {jenis_seleksi!r} tidak dikenal ({JENIS_SELEKSI})")
    if ctx.session.scalar(select(Formasi.id).where(Formasi.kode == kode)) is not None:
        raise InvalidInput(f"formasi {kode} sudah ada")
    formasi = Formasi(
        kode=kode,
        jabatan=str(jabatan),
        unit=str(unit or ""),
        kuota=kuota,
        jenis_seleksi=jenis_seleksi,
        pendidikan_min=str(pendidikan_min or ""),
        dokumen_wajib=[str(d) for d in dokumen_wajib or []],
        status="draf",
        instance_id=ctx.instance_id,
        versi_aturan={SKD_DECISION: _decision_in_force(ctx.session, SKD_DECISION)},
    )
    ctx.session.add(formasi)
    ctx.session.flush()
    return {"formasi_id": formasi.kode, "status": formasi.status}


@service("buka_pendaftaran")
def buka_pendaftaran(
    ctx: ServiceContext, formasi_id: str, dibuka: str, ditutup: str, zona_waktu: str
) -> dict[str, Any]:
    """Open registration from the start of `dibuka` to the end of `ditutup` (local time)."""
    formasi = get_formasi(ctx.session, formasi_id, lock=True)
    _require_stage(formasi, "draf")
    start, end = _as_date(dibuka, "tanggal dibuka"), _as_date(ditutup, "tanggal ditutup")
    if end < start:
        raise InvalidInput(f"tanggal ditutup {end} sebelum tanggal dibuka {start}")
    formasi.dibuka, formasi.ditutup = start, end
    formasi.dibuka_pada = _local_moment(start, "00:00:00", zona_waktu)
    formasi.ditutup_pada = _local_moment(end, "23:59:59", zona_waktu)
    formasi.status = "dibuka"
    ctx.session.flush()
    return {
        "dibuka": start.isoformat(),
        "ditutup": end.isoformat(),
        # An ISO moment with its offset: the closing timers of both processes wait for it.
        "ditutup_pada": f"{end.isoformat()}T23:59:59{zona_waktu}",
    }


@service("tahap_seleksi")
def tahap_seleksi(ctx: ServiceContext, formasi_id: str, tahap: str) -> dict[str, Any]:
    """Move a formasi on to its next stage; 'selesai' frees its applicants' NIKs."""
    formasi = get_formasi(ctx.session, formasi_id, lock=True)
    if NEXT_STAGE.get(formasi.status) != tahap:
        raise InvalidInput(
            f"formasi {formasi.kode} tidak dapat pindah dari tahap '{formasi.status}' "
            f"ke tahap '{tahap}'"
        )
    formasi.status = tahap
    if tahap == "selesai":
        for row in lamaran_of(ctx.session, formasi):
            row.nik_aktif = None
    ctx.session.flush()
    return {"formasi_id": formasi.kode, "status": tahap}


@service("rekap_administrasi")
def rekap_administrasi(ctx: ServiceContext, formasi_id: str) -> dict[str, Any]:
    """Counts per application state; `siap` once every application has been checked."""
    formasi = get_formasi(ctx.session, formasi_id)
    counts = dict(
        ctx.session.execute(
            select(Lamaran.status, func.count())
            .where(Lamaran.formasi_id == formasi.id)
            .group_by(Lamaran.status)
        ).all()
    )
    waiting = int(counts.get("terdaftar", 0))
    return {
        "jumlah": sum(int(n) for n in counts.values()),
        "belum_diverifikasi": waiting,
        "ms": int(counts.get("ms", 0)),
        "tms": int(counts.get("tms", 0)),
        # An announcement reaches only the applications already waiting for it.
        "siap": waiting == 0,
    }


# --- one application ---------------------------------------------------------------------


def check_registration(session: Session, kode: str, nik: str, now: datetime) -> Formasi:
    """Why an applicant may not apply (InvalidInput), or the formasi open to them."""
    if not (isinstance(nik, str) and len(nik) == 16 and nik.isascii() and nik.isdigit()):
        raise InvalidInput(f"NIK {nik!r} harus 16 angka")
    formasi = get_formasi(session, kode, lock=True)  # serialises numbering per formasi
    opens, closes = formasi.dibuka_pada, formasi.ditutup_pada
    if formasi.status != "dibuka" or not opens or not closes or not opens <= now <= closes:
        raise InvalidInput(f"pendaftaran formasi {formasi.kode} tidak sedang dibuka")
    other = session.execute(
        select(Formasi.kode)
        .join(Lamaran, Lamaran.formasi_id == Formasi.id)
        .where((Lamaran.nik_aktif == nik) | ((Lamaran.nik == nik) & (Formasi.id == formasi.id)))
    ).first()
    if other is not None:
        raise InvalidInput(
            f"NIK {nik} sudah terdaftar pada formasi {other[0]}: "
            "setiap pelamar hanya boleh melamar satu formasi"
        )
    return formasi


@service("daftar_lamaran")
def daftar_lamaran(
    ctx: ServiceContext,
    formasi_id: str,
    nik: str,
    nama: str,
    jalur: str,
    pendidikan: str = "",
) -> dict[str, Any]:
    """Register an application (the instance's starter is the applicant); its number."""
    nik = str(nik).strip()
    if jalur not in JALUR:
        raise InvalidInput(f"jalur {jalur!r} tidak dikenal ({', '.join(JALUR)})")
    if not str(nama).strip():
        raise InvalidInput("nama pelamar wajib diisi")
    formasi = check_registration(ctx.session, formasi_id, nik, ctx.now)
    closes = formasi.ditutup_pada or ctx.now  # set: registration is open
    user_id = None
    if ctx.instance_id is not None:
        user_id = ctx.session.scalar(
            select(Instance.started_by_id).where(Instance.id == ctx.instance_id)
        )
    formasi.nomor_terakhir += 1
    row = Lamaran(
        formasi_id=formasi.id,
        nik=nik,
        nik_aktif=nik,
        nama=str(nama).strip()[:200],
        user_id=user_id,
        instance_id=ctx.instance_id,
        nomor_peserta=f"{formasi.kode}-{formasi.nomor_terakhir:05d}",
        jalur=jalur,
        pendidikan=str(pendidikan or "")[:32],
        status="terdaftar",
    )
    ctx.session.add(row)
    ctx.session.flush()
    return {
        "nomor_peserta": row.nomor_peserta,
        "jabatan": formasi.jabatan,
        "dokumen_wajib": list(formasi.dokumen_wajib),
        "ditutup_pada": f"{closes.isoformat()}+00:00",  # the upload task's deadline timer
    }


def _status_update(status: str) -> Any:
    """UPDATE lamaran to `status` where the transition is allowed, returning the result."""
    values: dict[str, Any] = {"status": status, "updated_at": bindparam("p_now")}
    if status == "ms":
        values["alasan_tms"] = None
    if status == "batal":
        values["nik_aktif"] = None
    allowed_from = sorted(src for src, targets in TRANSITIONS.items() if status in targets)
    return (
        update(Lamaran)
        .where(Lamaran.nomor_peserta == bindparam("p_nomor"), Lamaran.status.in_(allowed_from))
        .values(values)
        .returning(Lamaran.nomor_peserta, Lamaran.status, Lamaran.alasan_tms)
    )


_STATUS_UPDATES = {
    status: _status_update(status) for targets in TRANSITIONS.values() for status in targets
}


def _set_status(
    session: Session, nomor_peserta: str, status: str, now: datetime
) -> dict[str, Any] | None:
    """The status change as one statement; None when no row allowed it (nothing written)."""
    found = (
        flushed_connection(session)
        .execute(_STATUS_UPDATES[status], {"p_nomor": nomor_peserta, "p_now": now})
        .first()
    )
    if found is None:
        return None
    for obj in list(session.identity_map.values()):  # a copy loaded earlier in this step
        if isinstance(obj, Lamaran) and obj.nomor_peserta == nomor_peserta:
            session.expire(obj)
    return {
        "nomor_peserta": found.nomor_peserta,
        "status": found.status,
        "alasan": found.alasan_tms,
    }


@service("status_lamaran")
def status_lamaran(
    ctx: ServiceContext,
    nomor_peserta: str,
    status: str,
    alasan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a verification, objection or NIP result; TMS needs a reason per document."""
    if status != "tms" and status in _STATUS_UPDATES:
        # Every verification passes here: one conditional UPDATE instead of load, check, flush.
        # No row back: unknown number or a transition not allowed, reported as before.
        done = _set_status(ctx.session, str(nomor_peserta), status, ctx.now)
        if done is not None:
            return done
    row = get_lamaran(ctx.session, nomor_peserta)
    if status not in TRANSITIONS.get(row.status, set()):
        raise InvalidInput(
            f"lamaran {row.nomor_peserta} tidak dapat berubah dari '{row.status}' ke '{status}'"
        )
    if status == "tms":
        reasons = {
            str(k): str(v).strip() for k, v in (alasan or {}).items() if v and str(v).strip()
        }
        if not reasons:
            raise InvalidInput(f"lamaran {row.nomor_peserta}: TMS wajib disertai alasan")
        # A rejected objection keeps the original reasons and adds the committee's answer.
        row.alasan_tms = {**(row.alasan_tms or {}), **reasons}
    elif status == "ms":
        row.alasan_tms = None
    row.status = status
    if status == "batal":
        row.nik_aktif = None
    ctx.session.flush()
    return {"nomor_peserta": row.nomor_peserta, "status": row.status, "alasan": row.alasan_tms}


def result_of(row: Lamaran) -> dict[str, Any]:
    """What an applicant may read about their own application."""
    return {
        "nomor_peserta": row.nomor_peserta,
        "status": row.status,
        "alasan_tms": row.alasan_tms,
        "twk": row.twk,
        "tiu": row.tiu,
        "tkp": row.tkp,
        "skd_total": row.skd_total,
        "skd_lulus": row.skd_lulus,
        "skd_alasan": row.skd_alasan,
        "peringkat_skd": row.peringkat_skd,
        "masuk_skb": row.masuk_skb,
        "skb_nilai": row.skb_nilai,
        "nilai_akhir": row.nilai_akhir,
        "peringkat_akhir": row.peringkat_akhir,
        "lulus_akhir": row.lulus_akhir,
    }


@service("hasil_lamaran")
def hasil_lamaran(ctx: ServiceContext, nomor_peserta: str) -> dict[str, Any]:
    """The state and results of an application, as announced."""
    return result_of(get_lamaran(ctx.session, nomor_peserta))


# The scoring services (hitung_skd, peringkat_skd, nilai_akhir) live in their own module;
# loading it here registers them with every import of this one.
import engine.recruitment_scores  # noqa: E402, F401
from engine import recruitment_import  # noqa: E402,F401  registers the import services

"""Employee records the rules read and processes update: rank, predicates, JP, training,
mentoring."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, utcnow

PREDICATES = ("Sangat Baik", "Baik", "Butuh Perbaikan", "Kurang", "Sangat Kurang")
POTENTIALS = ("rendah", "menengah", "tinggi")  # a talent assessment's potential (9-box X axis)
ENROLMENT_STATES = ("diminta", "terima", "daftar_tunggu", "tolak", "hadir", "tidak_hadir")


class Employee(Base):
    """The civil-servant record of a user (pegawai): NIP, rank and since when, education."""

    __tablename__ = "employee"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    nip: Mapped[str | None] = mapped_column(String(18), unique=True)
    jenis: Mapped[str] = mapped_column(String(8), default="pns")  # pns | pppk | cpns
    golongan: Mapped[str | None] = mapped_column(String(8))  # e.g. III/a
    tmt_golongan: Mapped[date | None]  # in this rank since
    pendidikan: Mapped[str | None] = mapped_column(String(32))  # e.g. S1
    jabatan: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployeePredicate(Base):
    """An annual performance predicate (SKP), read by the promotion rules."""

    __tablename__ = "employee_predicate"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    tahun: Mapped[int] = mapped_column(primary_key=True)
    predikat: Mapped[str] = mapped_column(String(20))
    source_instance_id: Mapped[int | None]


class EmployeePotential(Base):
    """A yearly potential assessment (talent management): the 9-box grid's other axis."""

    __tablename__ = "employee_potential"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    tahun: Mapped[int] = mapped_column(primary_key=True)
    potensi: Mapped[str] = mapped_column(String(10))
    dasar: Mapped[str] = mapped_column(String(200), default="")  # e.g. the assessment centre


class JpCredit(Base):
    """Training hours (JP) credited to an employee; the yearly total is their sum."""

    __tablename__ = "jp_credit"
    __table_args__ = (Index("ix_jp_credit_user_year", "user_id", "tahun"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    tahun: Mapped[int]
    jp: Mapped[int]
    keterangan: Mapped[str] = mapped_column(String(255), default="")
    source_instance_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DisciplinarySanction(Base):
    """A disciplinary sanction (hukuman disiplin); active ones block promotion."""

    __tablename__ = "disciplinary_sanction"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    tingkat: Mapped[str] = mapped_column(String(16))  # ringan | sedang | berat
    mulai: Mapped[date]
    selesai: Mapped[date | None]
    keterangan: Mapped[str] = mapped_column(String(255), default="")


class Training(Base):
    """A training catalogue entry."""

    __tablename__ = "training"

    id: Mapped[int] = mapped_column(primary_key=True)
    kode: Mapped[str] = mapped_column(String(32), unique=True)
    judul: Mapped[str] = mapped_column(String(255))
    jenis: Mapped[str] = mapped_column(String(32))  # teknis | manajerial | ...
    jp: Mapped[int]
    mulai: Mapped[date]
    selesai: Mapped[date]
    kuota: Mapped[int]
    biaya: Mapped[int]  # rupiah per participant


class TrainingEnrolment(Base):
    """An employee's place (or wait) in a training."""

    __tablename__ = "training_enrolment"
    __table_args__ = (UniqueConstraint("training_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(ForeignKey("training.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingBudget(Base):
    """The agency's training budget for a year (rupiah)."""

    __tablename__ = "training_budget"

    tahun: Mapped[int] = mapped_column(primary_key=True)
    total: Mapped[int]


class MentoringRecord(Base):
    """A finished mentoring on the mentee's record: goals, sessions, final evaluations and
    the supervisor's sign-off (DOMAIN §3)."""

    __tablename__ = "mentoring_record"
    __table_args__ = (Index("ix_mentoring_record_mentee_selesai", "mentee_id", "selesai_pada"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(unique=True)  # one record per mentoring
    topik: Mapped[str] = mapped_column(String(200), default="")
    tujuan: Mapped[list[Any]]  # the agreed development goals, one string each
    jumlah_sesi: Mapped[int]
    # Final evaluations: achievement on the 1-5 scale and notes, by mentor and by mentee.
    capaian_mentor: Mapped[int | None]
    catatan_mentor: Mapped[str] = mapped_column(Text, default="")
    rekomendasi: Mapped[str] = mapped_column(Text, default="")  # the mentor's, for what next
    capaian_mentee: Mapped[int | None]
    catatan_mentee: Mapped[str] = mapped_column(Text, default="")
    disetujui_atasan: Mapped[bool]
    catatan_atasan: Mapped[str] = mapped_column(Text, default="")
    selesai_pada: Mapped[datetime] = mapped_column(default=utcnow)

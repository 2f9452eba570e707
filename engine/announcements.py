"""Public announcements of a formasi's final results, with a checksum anyone can recompute.

When a formasi's selection is final (stage ``selesai``) an HR admin publishes its results.
The published list is stored as the exact bytes offered for download, with their SHA-256,
the decision versions that computed the results, who published and when. It names each
applicant only by registration number (nomor peserta), never by NIK or name.

The file (``hasil.csv``): UTF-8 without BOM, lines ending in LF (``\\n``, also after the
last line), comma-separated, no quoting (no value contains a comma). The first line is
``HEADER``; then one line per application, ordered by nomor peserta: integer scores as
plain digits, SKB and final scores with exactly three decimals (``.`` as the separator), an
empty field where there is no score, and the outcome code (``OUTCOMES``). The checksum is
``sha256sum hasil.csv`` of exactly those bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import audit
from engine.errors import InvalidInput, NotAllowed
from engine.models import Base, Instance, ProcessVersion, User, utcnow
from engine.recruitment import Formasi, Lamaran, get_formasi

PUBLISHER_ROLES = frozenset({"admin", "admin_bkpsdm"})
FINAL_STAGE = "selesai"
HEADER = "nomor_peserta,twk,tiu,tkp,skd_total,skb_nilai,nilai_akhir,peringkat_akhir,hasil"
OUTCOMES = (
    "lulus",
    "tidak_lulus",
    "tidak_masuk_skb",
    "tidak_lulus_skd",
    "tidak_memenuhi_syarat",
    "batal",
)


class Announcement(Base):
    """One publication of a formasi's final results (the newest is the one shown)."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    formasi_id: Mapped[int] = mapped_column(ForeignKey("formasi.id"), index=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64))
    rules: Mapped[dict[str, Any]]  # decision key -> version that computed the results
    content: Mapped[str] = mapped_column(Text)  # the downloadable file, exactly
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]


def outcome_of(row: Lamaran) -> str:
    """The announced outcome code of an application."""
    if row.status == "batal":
        return "batal"
    if row.lulus_akhir:
        return "lulus"
    if row.masuk_skb:
        return "tidak_lulus"
    if row.skd_lulus:
        return "tidak_masuk_skb"
    if row.status in ("ms", "usul_nip"):
        return "tidak_lulus_skd"
    return "tidak_memenuhi_syarat"


def _number(value: Any, decimals: bool = False) -> str:
    if value is None:
        return ""
    return f"{float(value):.3f}" if decimals else str(int(value))


def results_file(rows: list[Lamaran]) -> str:
    """The published list as text (see the module docstring for the exact format)."""
    lines = [HEADER]
    for row in sorted(rows, key=lambda r: r.nomor_peserta):
        lines.append(
            ",".join(
                (
                    row.nomor_peserta,
                    _number(row.twk),
                    _number(row.tiu),
                    _number(row.tkp),
                    _number(row.skd_total),
                    _number(row.skb_nilai, decimals=True),
                    _number(row.nilai_akhir, decimals=True),
                    _number(row.peringkat_akhir),
                    outcome_of(row),
                )
            )
        )
    return "\n".join(lines) + "\n"


def checksum(content: str) -> str:
    """SHA-256 (hex) of the file's UTF-8 bytes."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def rules_of(session: Session, formasi: Formasi) -> dict[str, Any]:
    """Decision versions behind a formasi's results: its SKD rule and its process's pins."""
    rules: dict[str, Any] = {}
    if formasi.instance_id is not None:
        pinned = session.scalar(
            select(ProcessVersion.dependencies)
            .join(Instance, Instance.process_version_id == ProcessVersion.id)
            .where(Instance.id == formasi.instance_id)
        )
        rules.update((pinned or {}).get("decisions") or {})
    rules.update(formasi.versi_aturan or {})
    return dict(sorted(rules.items()))


def publish(session: Session, actor: User, kode: str, now: datetime) -> Announcement:
    """Publish a formasi's final results (HR admins only; the selection must be final)."""
    if not actor.role_names & PUBLISHER_ROLES:
        raise NotAllowed(f"{actor.username} tidak boleh mengumumkan hasil seleksi")
    formasi = get_formasi(session, kode)
    if formasi.status != FINAL_STAGE:
        raise InvalidInput(
            f"formasi {formasi.kode}: hasil belum final (tahap '{formasi.status}'), "
            "belum dapat diumumkan"
        )
    rows = list(session.scalars(select(Lamaran).where(Lamaran.formasi_id == formasi.id)))
    content = results_file(rows)
    row = Announcement(
        formasi_id=formasi.id,
        published_at=now,
        published_by=actor.username,
        rules=rules_of(session, formasi),
        content=content,
        sha256=checksum(content),
        rows=len(rows),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor.username,
        "announced",
        detail={"formasi": formasi.kode, "sha256": row.sha256, "baris": row.rows},
    )
    return row


def latest(session: Session, kode: str) -> tuple[Formasi, Announcement] | None:
    """A formasi and its newest announcement, or None when nothing is published for it."""
    found = session.execute(
        select(Formasi, Announcement)
        .join(Announcement, Announcement.formasi_id == Formasi.id)
        .where(Formasi.kode == str(kode))
        .order_by(Announcement.published_at.desc(), Announcement.id.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1])


def published(session: Session) -> list[dict[str, Any]]:
    """Every formasi with a published announcement, with its newest publication."""
    newest: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        select(Formasi.kode, Formasi.jabatan, Announcement.published_at, Announcement.sha256)
        .join(Announcement, Announcement.formasi_id == Formasi.id)
        .order_by(Announcement.published_at, Announcement.id)
    )
    for kode, jabatan, at, sha in rows:
        newest[kode] = {"formasi": kode, "jabatan": jabatan, "diumumkan": at, "sha256": sha}
    return [newest[k] for k in sorted(newest)]


def parse_line(line: str) -> dict[str, str]:
    """One data line of the file as a dict (for readers and tests)."""
    return dict(zip(HEADER.split(","), line.split(","), strict=True))

"""Scoring a formasi: SKD pass/fail by the DMN in force, the SKD ranking that admits at most
a multiple of the quota to SKB, and the final score (SKD and SKB weighted) with its ranking.

Every number (the multiple, the weights, the maxima, the tie-break order) comes in from the
diagram or a DMN table. Split from engine.recruitment, which keeps the formasi and the
applications; these services are registered when that module loads this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.recruitment import (
    SKD_DECISION,
    SKD_PARTS,
    TIE_KEYS,
    Lamaran,
    _require_stage,
    get_formasi,
    lamaran_of,
)
from engine.services import ServiceContext, service


def hitung_skd(session: Session, kode: str) -> dict[str, Any]:
    """Evaluate the SKD passing rule for every eligible applicant and store pass and reason."""
    from engine.decisions import decide

    formasi = get_formasi(session, kode)
    _require_stage(formasi, "skd")
    version = (formasi.versi_aturan or {}).get(SKD_DECISION)
    passed = total = 0
    for row in lamaran_of(session, formasi):
        if row.status != "ms":
            continue
        total += 1
        if row.twk is None or row.tiu is None or row.tkp is None:
            row.skd_lulus, row.skd_alasan = False, "Tidak mengikuti SKD (tidak ada nilai)"
            continue
        result = decide(
            session,
            SKD_DECISION,
            {"jalur": row.jalur, "twk": row.twk, "tiu": row.tiu, "tkp": row.tkp},
            version=version,
        )
        row.skd_lulus = result.get("lulus") is True
        row.skd_alasan = str(result.get("alasan") or "")[:255]
        passed += row.skd_lulus
    session.flush()
    return {"peserta": total, "lulus": passed}


def _tie_key(row: Lamaran, order: Sequence[str]) -> tuple[Any, ...]:
    """Higher is better for every score; the registration number decides last."""
    values = {"twk": row.twk, "tiu": row.tiu, "tkp": row.tkp, "skb": row.skb_nilai}
    return (*(-(values[k] or 0) for k in order), row.nomor_peserta)


def _check_order(urutan_seri: Sequence[str], allowed: Sequence[str]) -> list[str]:
    order = [str(k) for k in urutan_seri or []]
    unknown = [k for k in order if k not in allowed]
    if unknown or len(set(order)) != len(order):
        raise InvalidInput(f"urutan seri {order!r}: pakai sebagian dari {list(allowed)}, sekali")
    return order


def peringkat_skd(
    session: Session, kode: str, kali_kuota: int, urutan_seri: Sequence[str]
) -> dict[str, Any]:
    """Rank SKD passers by total, ties by `urutan_seri` then number; kali_kuota x kuota go on."""
    formasi = get_formasi(session, kode)
    _require_stage(formasi, "skd")
    order = _check_order(urutan_seri, SKD_PARTS)
    if not isinstance(kali_kuota, int) or kali_kuota < 1:
        raise InvalidInput(f"kali_kuota harus bilangan bulat positif, bukan {kali_kuota!r}")
    seats = kali_kuota * formasi.kuota
    rows = lamaran_of(session, formasi)
    for row in rows:
        row.peringkat_skd, row.masuk_skb = None, False
    passers = sorted(
        (r for r in rows if r.status == "ms" and r.skd_lulus),
        key=lambda r: (-(r.skd_total or 0), *_tie_key(r, order)),
    )
    for rank, row in enumerate(passers, start=1):
        row.peringkat_skd, row.masuk_skb = rank, rank <= seats
    session.flush()
    return {"lulus_skd": len(passers), "masuk_skb": min(seats, len(passers)), "batas": seats}


def _final_score(
    row: Lamaran, bobot_skd: Fraction, bobot_skb: Fraction, skd_maks: int, skb_maks: int
) -> Fraction:
    skb = Fraction(Decimal(str(row.skb_nilai)))
    return Fraction(row.skd_total or 0, skd_maks) * bobot_skd + skb / skb_maks * bobot_skb


def _rounded(value: Fraction, places: int = 3) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def nilai_akhir(
    session: Session,
    kode: str,
    bobot_skd: float,
    bobot_skb: float,
    skd_maks: int,
    skb_maks: int,
    urutan_seri: Sequence[str],
) -> dict[str, Any]:
    """Final = SKD/skd_maks x bobot_skd + SKB/skb_maks x bobot_skb; the top kuota pass."""
    formasi = get_formasi(session, kode)
    _require_stage(formasi, "skb")
    order = _check_order(urutan_seri, TIE_KEYS)
    if skd_maks <= 0 or skb_maks <= 0:
        raise InvalidInput("nilai maksimum SKD dan SKB harus positif")
    w_skd, w_skb = Fraction(str(bobot_skd)), Fraction(str(bobot_skb))
    rows = lamaran_of(session, formasi)
    scored: list[tuple[Fraction, Lamaran]] = []
    for row in rows:
        row.nilai_akhir, row.peringkat_akhir, row.lulus_akhir = None, None, None
        if not row.masuk_skb:
            continue
        row.lulus_akhir = False  # in SKB: passes only with a score and a place in the quota
        if row.skb_nilai is not None:
            scored.append((_final_score(row, w_skd, w_skb, skd_maks, skb_maks), row))
    scored.sort(key=lambda item: (-item[0], *_tie_key(item[1], order)))
    ranking = []
    for rank, (score, row) in enumerate(scored, start=1):
        row.nilai_akhir, row.peringkat_akhir = _rounded(score), rank
        row.lulus_akhir = rank <= formasi.kuota
        ranking.append(
            {
                "peringkat": rank,
                "nomor_peserta": row.nomor_peserta,
                "nama": row.nama,
                "skd_total": row.skd_total,
                "skb_nilai": row.skb_nilai,
                "nilai_akhir": row.nilai_akhir,
                "lulus": row.lulus_akhir,
            }
        )
    session.flush()
    return {"kuota": formasi.kuota, "peringkat": ranking}


@service("hitung_skd")
def _hitung_skd(ctx: ServiceContext, formasi_id: str) -> dict[str, Any]:
    """Service: the SKD passing rule for every eligible applicant of a formasi."""
    return hitung_skd(ctx.session, formasi_id)


@service("peringkat_skd")
def _peringkat_skd(
    ctx: ServiceContext, formasi_id: str, kali_kuota: int, urutan_seri: Sequence[str]
) -> dict[str, Any]:
    """Service: rank the SKD passers and mark who goes on to SKB."""
    return peringkat_skd(ctx.session, formasi_id, kali_kuota, urutan_seri)


@service("nilai_akhir")
def _nilai_akhir(
    ctx: ServiceContext,
    formasi_id: str,
    bobot_skd: float,
    bobot_skb: float,
    skd_maks: int,
    skb_maks: int,
    urutan_seri: Sequence[str],
) -> dict[str, Any]:
    """Service: integrate SKD and SKB scores, rank, and mark who passes."""
    return nilai_akhir(
        ctx.session, formasi_id, bobot_skd, bobot_skb, skd_maks, skb_maks, urutan_seri
    )

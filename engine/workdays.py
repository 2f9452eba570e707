"""Working days: deadlines the rules count in working days skip weekends and national holidays.

The holidays are configuration kept in the database (table `hari_libur`), loaded from a CSV
(`tanggal,nama`, e.g. workflows/hari_libur.csv) with `jenjang libur impor`, so every web and
worker process counts the same days. Diagrams use `hari_kerja(n)` in a timer's timeDate or a
user task's dueDate: n working days after now, at the same time of day (Asia/Jakarta dates).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import services
from engine.errors import InvalidInput
from engine.models import Base

LOCAL = ZoneInfo("Asia/Jakarta")  # a working day is a date where the agency works
MAX_DAYS = 366


class Holiday(Base):
    """A national holiday or joint leave day (cuti bersama): not a working day."""

    __tablename__ = "hari_libur"

    tanggal: Mapped[date] = mapped_column(primary_key=True)
    nama: Mapped[str] = mapped_column(String(200))


def holidays(session: Session, start: date, end: date) -> set[date]:
    """The holidays from start to end (inclusive)."""
    return set(session.scalars(select(Holiday.tanggal).where(Holiday.tanggal.between(start, end))))


def add_working_days(session: Session, start: datetime, days: int) -> datetime:
    """`days` working days after `start` (naive UTC), at the same local time of day."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise InvalidInput(f"hari_kerja: days must be a whole number from 0 to {MAX_DAYS}")
    local = start.replace(tzinfo=UTC).astimezone(LOCAL)
    # Enough calendar days for `days` working days even with long holiday runs.
    off = holidays(session, local.date(), local.date() + timedelta(days=days * 3 + 30))
    day, left = local.date(), days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    moment = datetime.combine(day, local.timetz())
    return moment.astimezone(UTC).replace(tzinfo=None)


def hari_kerja(days: int) -> str:
    """Script helper: the ISO time (UTC) `days` working days after the current step's now."""
    ctx = services.current()
    if ctx is None:
        raise InvalidInput("hari_kerja() can only be used while a process runs")
    moment = add_working_days(ctx.session, ctx.now, days)
    return moment.replace(tzinfo=UTC).isoformat()


def parse_csv(text: str, source: str) -> list[tuple[date, str]]:
    """Rows `tanggal,nama` (ISO dates, header optional); a bad line is named with its number."""
    rows: list[tuple[date, str]] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or not "".join(fields).strip() or fields[0].strip().startswith("#"):
            continue
        if fields[0].strip().lower() == "tanggal":  # the header
            continue
        if len(fields) < 2 or not fields[1].strip():
            raise InvalidInput(f"{source}: line {number}: expected 'tanggal,nama'")
        try:
            day = date.fromisoformat(fields[0].strip())
        except ValueError:
            raise InvalidInput(
                f"{source}: line {number}: '{fields[0].strip()}' is not a date (YYYY-MM-DD)"
            ) from None
        rows.append((day, fields[1].strip()[:200]))
    return rows


def import_holidays(session: Session, rows: list[tuple[date, str]]) -> int:
    """Add or rename holidays (idempotent); how many were new."""
    new = 0
    for day, name in rows:
        existing = session.get(Holiday, day)
        if existing is None:
            session.add(Holiday(tanggal=day, nama=name))
            new += 1
        else:
            existing.nama = name
    session.flush()
    return new


def list_holidays(session: Session, year: int | None = None) -> list[Holiday]:
    """Holidays in date order, of one year or all."""
    query = select(Holiday).order_by(Holiday.tanggal)
    if year is not None:
        query = query.where(Holiday.tanggal.between(date(year, 1, 1), date(year, 12, 31)))
    return list(session.scalars(query))

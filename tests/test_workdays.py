"""Working days skip weekends and configured holidays; `jenjang libur` loads the list."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.workdays import add_working_days, import_holidays, list_holidays, parse_csv

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


def wib(text: str) -> datetime:
    """A WIB (UTC+7) wall-clock time as the naive UTC the engine stores."""
    return datetime.fromisoformat(text + "+07:00").astimezone(UTC).replace(tzinfo=None)


def test_working_days_skip_weekends(session: Session) -> None:
    # Thursday 09:00 WIB + 3 working days: Friday, Monday, Tuesday.
    assert add_working_days(session, wib("2026-11-26T09:00"), 3) == wib("2026-12-01T09:00")
    assert add_working_days(session, wib("2026-11-26T09:00"), 0) == wib("2026-11-26T09:00")


def test_working_days_skip_configured_holidays(session: Session) -> None:
    import_holidays(
        session, [(date(2026, 12, 24), "Cuti bersama Natal"), (date(2026, 12, 25), "Natal")]
    )
    session.commit()
    # Wednesday 23 Dec + 3: 24, 25 are holidays, 26-27 a weekend: 28, 29, 30.
    assert add_working_days(session, wib("2026-12-23T09:00"), 3) == wib("2026-12-30T09:00")


def test_the_local_date_counts_not_the_utc_one(session: Session) -> None:
    # Friday 06:00 WIB is still Thursday in UTC: one working day later is Monday, not Friday.
    assert add_working_days(session, wib("2026-11-27T06:00"), 1) == wib("2026-11-30T06:00")


@pytest.mark.parametrize("days", [-1, 1.5, True, 400])
def test_a_bad_number_of_days_is_refused(session: Session, days: object) -> None:
    with pytest.raises(InvalidInput, match="hari_kerja: days must be a whole number"):
        add_working_days(session, wib("2026-11-26T09:00"), days)  # type: ignore[arg-type]


def test_the_shipped_holiday_list_parses_and_imports_idempotently(session: Session) -> None:
    rows = parse_csv((WORKFLOWS / "hari_libur.csv").read_text(encoding="utf-8"), "hari_libur.csv")
    assert (date(2026, 8, 17), "Hari Kemerdekaan Republik Indonesia") in rows
    assert import_holidays(session, rows) == len(rows)
    assert import_holidays(session, rows) == 0
    assert list_holidays(session, 2026)[0].tanggal == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tanggal,nama\n2026-02-30,Salah\n", "libur.csv: line 2: '2026-02-30' is not a date"),
        ("2026-01-01\n", "libur.csv: line 1: expected 'tanggal,nama'"),
    ],
)
def test_a_bad_holiday_line_is_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_csv(text, "libur.csv")

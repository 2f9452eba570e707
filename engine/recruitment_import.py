"""Importing SKD and SKB scores from the test centre's CSV files, all or nothing.

`check_skd_csv` / `check_skb_csv` read a whole file and report every problem with its line
(`baris 7: NIK 3372... tidak terdaftar pada formasi F-001`) and, per applicant, the scores
it would change; `apply_skd_csv` / `apply_skb_csv` write them only when the file has no
problem at all. The score ranges come from the diagram's data (`rentang_nilai`), never from
here. Rows of a later file replace the scores of the applicants it names; others keep theirs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.models import Instance
from engine.recruitment import Formasi, Lamaran, get_formasi, lamaran_of
from engine.services import ServiceContext, service

ALIASES = {"NO_PESERTA": "NOMOR_PESERTA", "NOPESERTA": "NOMOR_PESERTA", "NAMA_PESERTA": "NAMA"}
SKD_COLUMNS = (("NIK",), ("TWK",), ("TIU",), ("TKP",))
SKD_OPTIONAL = ("NAMA", "NOMOR_PESERTA", "TOTAL")
SKB_COLUMNS = (("NIK",), ("NILAI", "SKB"))
SKB_OPTIONAL = ("NAMA", "NOMOR_PESERTA")
INTEGER = re.compile(r"[+-]?[0-9]{1,6}")
DECIMAL = re.compile(r"[+-]?[0-9]{1,6}(?:[.,][0-9]{1,3})?")
ACTIVE = ("running", "waiting", "error")  # an instance not yet ended
MAX_REPORTED = 100  # problems put into task data; the check itself keeps them all
Score = int | float | None


@dataclass(frozen=True)
class ImportProblem:
    """One problem of a file: the line (1 = the header) and what is wrong."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"baris {self.line}: {self.message}"


@dataclass(frozen=True)
class ScoreChange:
    """What a valid row changes for one applicant: old and new scores."""

    line: int
    nik: str
    nomor_peserta: str
    nama: str
    old: dict[str, Score]
    new: dict[str, Score]

    @property
    def changed(self) -> bool:
        """Whether the row changes any score."""
        return self.old != self.new


@dataclass
class ImportCheck:
    """The outcome of reading a file: problems (nothing may be applied) or the changes."""

    formasi: str
    kind: str  # skd | skb
    problems: list[ImportProblem] = field(default_factory=list)
    changes: list[ScoreChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        """True when the whole file may be applied."""
        return not self.problems

    @property
    def errors(self) -> list[str]:
        """The problems as lines a user reads."""
        return [str(p) for p in self.problems]

    def summary(self) -> dict[str, Any]:
        """The result a service task keeps in the task data (bounded in size)."""
        shown = self.errors[:MAX_REPORTED]
        if len(self.problems) > MAX_REPORTED:
            shown.append(f"... dan {len(self.problems) - MAX_REPORTED} kesalahan lain")
        return {
            "valid": self.ok,
            "diterapkan": self.applied,
            "jumlah_baris": len(self.changes),
            "jumlah_berubah": sum(c.changed for c in self.changes),
            "kesalahan": shown,
            "peringatan": list(self.warnings),
        }


def _decode(content: bytes | str) -> tuple[str | None, ImportProblem | None]:
    if isinstance(content, str):
        return content.removeprefix("\ufeff"), None
    try:
        return bytes(content).decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError as exc:
        line = bytes(content)[: exc.start].count(b"\n") + 1
        return None, ImportProblem(line, "berkas bukan teks UTF-8 (simpan sebagai CSV UTF-8)")


def _rows(text: str) -> tuple[list[tuple[int, list[str]]], ImportProblem | None]:
    """(line, cells) per non-empty row; ';' or ',' as the header uses (Excel writes both)."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    except csv.Error as exc:
        return rows, ImportProblem(reader.line_num, f"baris CSV tidak terbaca ({exc})")
    return rows, None


def _header(
    cells: list[str], line: int, columns: Sequence[Sequence[str]], optional: Sequence[str]
) -> tuple[list[str], list[ImportProblem]]:
    """Column names; each entry of `columns` is a required column and its alternatives."""
    names = [ALIASES.get(n, n) for n in (c.upper().replace(" ", "_") for c in cells)]
    known = [*(n for alternatives in columns for n in alternatives), *optional]
    problems = []
    for index, name in enumerate(names, start=1):
        if not name:
            problems.append(ImportProblem(line, f"kolom ke-{index} tidak bernama"))
        elif name not in known:
            allowed = ", ".join(known)
            problems.append(
                ImportProblem(line, f"kolom {cells[index - 1]!r} tidak dikenal ({allowed})")
            )
        elif names.index(name) != index - 1:
            problems.append(ImportProblem(line, f"kolom {name} muncul dua kali"))
    missing = []
    for alternatives in columns:
        given = [n for n in alternatives if n in names]
        if not given:
            missing.append(" atau ".join(alternatives))
        elif len(given) > 1:
            problems.append(
                ImportProblem(line, f"pakai salah satu kolom {' atau '.join(given)}, bukan semua")
            )
    if missing:
        problems.append(ImportProblem(line, f"kolom wajib tidak ada: {', '.join(missing)}"))
    return names, problems


def _range(ranges: Mapping[str, Any], key: str) -> tuple[Decimal, Decimal]:
    try:
        low, high = ranges[key]
        return Decimal(str(low)), Decimal(str(high))
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise InvalidInput(f"rentang nilai {key!r} tidak ada atau tidak valid: {ranges!r}") from exc


def _number(
    raw: str, column: str, bounds: tuple[Decimal, Decimal], whole: bool
) -> tuple[Decimal | None, str | None]:
    pattern = INTEGER if whole else DECIMAL
    if not pattern.fullmatch(raw):
        kind = "bilangan bulat" if whole else "angka (paling banyak 3 desimal)"
        return None, f"nilai {column} {raw!r} bukan {kind}"
    value = Decimal(raw.replace(",", "."))
    low, high = bounds
    if not low <= value <= high:
        return None, f"nilai {column} {raw} di luar rentang {low}–{high}"
    return value, None


class _Reader:
    """Reads one file against one formasi's applicants; collects problems and changes."""

    def __init__(self, session: Session, kode: str, kind: str, stage: str) -> None:
        self.formasi: Formasi = get_formasi(session, kode)
        if self.formasi.status != stage:
            raise InvalidInput(
                f"nilai {kind.upper()} formasi {self.formasi.kode} hanya dapat diimpor pada "
                f"tahap '{stage}' (sekarang: '{self.formasi.status}')"
            )
        self.rows = lamaran_of(session, self.formasi)
        self.by_nik = {r.nik: r for r in self.rows}
        self.check = ImportCheck(self.formasi.kode, kind)
        self.seen: dict[str, int] = {}

    def problem(self, line: int, message: str) -> None:
        self.check.problems.append(ImportProblem(line, message))

    def read(
        self, content: bytes | str, columns: Sequence[Sequence[str]], optional: Sequence[str]
    ) -> list[tuple[int, dict[str, str]]] | None:
        """The data rows as {column: text}, or None when the file cannot be read at all."""
        text, problem = _decode(content)
        if problem is not None or text is None:
            self.check.problems.append(problem or ImportProblem(1, "berkas kosong"))
            return None
        rows, problem = _rows(text)
        if problem is not None:
            self.check.problems.append(problem)
            return None
        if not rows:
            self.problem(1, "berkas kosong")
            return None
        header_line, header = rows[0]
        names, problems = _header(header, header_line, columns, optional)
        if problems:
            self.check.problems.extend(problems)
            return None
        if len(rows) == 1:
            self.problem(header_line + 1, "berkas tidak berisi baris nilai")
        out = []
        for line, cells in rows[1:]:
            if len(cells) != len(names):
                self.problem(line, f"ada {len(cells)} kolom, seharusnya {len(names)}")
                continue
            out.append((line, dict(zip(names, cells, strict=True))))
        return out

    def applicant(self, line: int, values: dict[str, str], eligible: str) -> Lamaran | None:
        """The applicant a row names, if the row may give them scores."""
        nik = values["NIK"]
        if not (len(nik) == 16 and nik.isascii() and nik.isdigit()):
            self.problem(line, f"NIK {nik!r} harus 16 angka")
            return None
        if nik in self.seen:
            self.problem(line, f"NIK {nik} sudah ada di baris {self.seen[nik]}")
            return None
        self.seen[nik] = line
        row = self.by_nik.get(nik)
        kode = self.formasi.kode
        if row is None:
            self.problem(line, f"NIK {nik} tidak terdaftar pada formasi {kode}")
            return None
        if eligible == "skd" and row.status != "ms":
            self.problem(line, f"NIK {nik} bukan peserta SKD formasi {kode} (status: {row.status})")
            return None
        if eligible == "skb" and not row.masuk_skb:
            self.problem(line, f"NIK {nik} tidak termasuk peserta SKB formasi {kode}")
            return None
        number = values.get("NOMOR_PESERTA")
        if number and number != row.nomor_peserta:
            self.problem(
                line, f"nomor peserta {number} bukan milik NIK {nik} ({row.nomor_peserta})"
            )
            return None
        return row


def objections_open(session: Session, rows: Sequence[Lamaran]) -> int:
    """TMS applications whose objection window is open, or whose objection awaits its answer."""
    waiting = [r.instance_id for r in rows if r.status == "tms" and r.instance_id is not None]
    active = (
        set(
            session.scalars(
                select(Instance.id).where(Instance.id.in_(waiting), Instance.state.in_(ACTIVE))
            )
        )
        if waiting
        else set()
    )
    return sum(r.status == "sanggah" or r.instance_id in active for r in rows)


def _missing(rows: Sequence[Lamaran], named: set[str], what: str) -> list[str]:
    if not rows:
        return []
    numbers = sorted(r.nomor_peserta for r in rows if r.nik not in named)
    if not numbers:
        return []
    listed = ", ".join(numbers[:10]) + (" ..." if len(numbers) > 10 else "")
    return [f"{len(numbers)} peserta belum memiliki nilai {what}: {listed}"]


def check_skd_csv(
    session: Session, formasi_kode: str, content: bytes | str, ranges: Mapping[str, Any]
) -> ImportCheck:
    """Read an SKD file (NIK, TWK, TIU, TKP; optional NAMA, NOMOR_PESERTA, TOTAL)."""
    bounds = {part: _range(ranges, part) for part in ("twk", "tiu", "tkp")}
    reader = _Reader(session, formasi_kode, "skd", "skd")
    pending = objections_open(session, reader.rows)
    if pending:
        # Those accepted later would miss the SKD announcement: it reaches only who waits.
        reader.problem(
            1, f"{pending} lamaran TMS masih dalam masa sanggah atau menunggu jawaban sanggah"
        )
    for line, values in reader.read(content, SKD_COLUMNS, SKD_OPTIONAL) or []:
        row = reader.applicant(line, values, "skd")
        scores: dict[str, Score] = {}
        for part in ("twk", "tiu", "tkp"):
            value, error = _number(values[part.upper()], part.upper(), bounds[part], whole=True)
            if error:
                reader.problem(line, error)
            scores[part] = int(value) if value is not None else None
        if row is None or None in scores.values():
            continue
        total = sum(int(v or 0) for v in scores.values())
        given = values.get("TOTAL")
        if given and given != str(total):
            reader.problem(line, f"TOTAL {given} tidak sama dengan TWK + TIU + TKP = {total}")
            continue
        old: dict[str, Score] = {"twk": row.twk, "tiu": row.tiu, "tkp": row.tkp}
        old["skd_total"] = row.skd_total
        reader.check.changes.append(
            ScoreChange(
                line, row.nik, row.nomor_peserta, row.nama, old, {**scores, "skd_total": total}
            )
        )
    reader.check.problems.sort(key=lambda p: p.line)  # stable: a line's problems keep their order
    if reader.check.ok:
        named = {c.nik for c in reader.check.changes}
        eligible = [r for r in reader.rows if r.status == "ms" and r.skd_total is None]
        reader.check.warnings += _missing(eligible, named, "SKD")
    return reader.check


def check_skb_csv(
    session: Session, formasi_kode: str, content: bytes | str, ranges: Mapping[str, Any]
) -> ImportCheck:
    """Read an SKB file (NIK and NILAI or SKB; optional NAMA, NOMOR_PESERTA)."""
    bounds = _range(ranges, "skb")
    reader = _Reader(session, formasi_kode, "skb", "skb")
    for line, values in reader.read(content, SKB_COLUMNS, SKB_OPTIONAL) or []:
        row = reader.applicant(line, values, "skb")
        column = "NILAI" if "NILAI" in values else "SKB"
        value, error = _number(values[column], column, bounds, whole=False)
        if error:
            reader.problem(line, error)
        if row is None or value is None:
            continue
        reader.check.changes.append(
            ScoreChange(
                line,
                row.nik,
                row.nomor_peserta,
                row.nama,
                {"skb": row.skb_nilai},
                {"skb": float(value)},
            )
        )
    reader.check.problems.sort(key=lambda p: p.line)
    if reader.check.ok:
        named = {c.nik for c in reader.check.changes}
        shortlist = [r for r in reader.rows if r.masuk_skb and r.skb_nilai is None]
        reader.check.warnings += _missing(shortlist, named, "SKB")
    return reader.check


def _by_nik(session: Session, kode: str) -> dict[str, Lamaran]:
    return {r.nik: r for r in lamaran_of(session, get_formasi(session, kode))}


def apply_skd_csv(
    session: Session, formasi_kode: str, content: bytes | str, ranges: Mapping[str, Any]
) -> ImportCheck:
    """Check an SKD file and, only if it is valid throughout, store its scores."""
    check = check_skd_csv(session, formasi_kode, content, ranges)
    if not check.ok:
        return check
    rows = _by_nik(session, formasi_kode)
    for change in check.changes:
        row = rows[change.nik]
        row.twk, row.tiu, row.tkp = (int(change.new[k] or 0) for k in ("twk", "tiu", "tkp"))
        row.skd_total = int(change.new["skd_total"] or 0)
        # Scores changed: what was derived from the old ones is no longer true.
        row.skd_lulus = row.skd_alasan = row.peringkat_skd = row.masuk_skb = None
    session.flush()
    check.applied = True
    return check


def apply_skb_csv(
    session: Session, formasi_kode: str, content: bytes | str, ranges: Mapping[str, Any]
) -> ImportCheck:
    """Check an SKB file and, only if it is valid throughout, store its scores."""
    check = check_skb_csv(session, formasi_kode, content, ranges)
    if not check.ok:
        return check
    rows = _by_nik(session, formasi_kode)
    for change in check.changes:
        row = rows[change.nik]
        row.skb_nilai = change.new["skb"]
        row.nilai_akhir = row.peringkat_akhir = row.lulus_akhir = None
    session.flush()
    check.applied = True
    return check


@service("impor_skd")
def impor_skd(
    ctx: ServiceContext, formasi_id: str, isi_csv: str, rentang: Mapping[str, Any]
) -> dict[str, Any]:
    """Service: store an SKD file if valid; `valid` False sends the committee back to it."""
    return apply_skd_csv(ctx.session, formasi_id, isi_csv, rentang).summary()


@service("impor_skb")
def impor_skb(
    ctx: ServiceContext, formasi_id: str, isi_csv: str, rentang: Mapping[str, Any]
) -> dict[str, Any]:
    """Service: store an SKB file if valid; `valid` False sends the committee back to it."""
    return apply_skb_csv(ctx.session, formasi_id, isi_csv, rentang).summary()

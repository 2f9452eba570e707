"""What each report shows and who may see it: the data and tables of the report pages
(webui/reports.py) and of their JSON (webui/api_reports.py), built from engine.reports and
engine.reports_hr. Rule numbers come from configuration (see webui/reports.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import (
    abort,
    current_app,
)
from flask_babel import gettext as _

from engine import reports, reports_hr
from engine.decisions import is_deployed
from engine.errors import InvalidInput
from engine.hr import PREDICATES
from engine.models import User, utcnow
from webui.db import get_db
from webui.exports import Table

HR_ADMIN = frozenset({"admin", "admin_bkpsdm"})
OWNER, SUPERVISOR = "pemilik_proses", "atasan"
PROCESS_REPORTS = ("rekrutmen", "waktu", "heatmap")
HR_REPORTS = ("pelatihan", "kinerja")
REPORTS = PROCESS_REPORTS + HR_REPORTS
FORMATS = ("csv", "xlsx")
DEFAULT_PROMOTION_KINDS = ("reguler", "prestasi")
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_LISTED = 500  # rows shown on a page; the downloads carry them all


@dataclass(frozen=True)
class Scope:
    """Which reports a user may see, and the unit they are limited to (None: all units)."""

    reports: frozenset[str]
    unit_id: int | None


def scope_of(user: User) -> Scope:
    """The reports this user may see."""
    roles = user.role_names
    if roles & HR_ADMIN:
        return Scope(frozenset(REPORTS), None)
    allowed: set[str] = set()
    if OWNER in roles:
        allowed.update(PROCESS_REPORTS)
    unit = None
    if SUPERVISOR in roles and user.unit_id is not None:
        allowed.update(HR_REPORTS)
        unit = user.unit_id
    return Scope(frozenset(allowed), unit)


def require(user: User, report: str) -> Scope:
    """The user's scope if they may see the report; NotFound-like 404 otherwise."""
    scope = scope_of(user)
    if report not in scope.reports:
        abort(404)
    return scope


# -- arguments ------------------------------------------------------------------------------


def year_arg(args: Mapping[str, str], default: int) -> int:
    """The `tahun` argument (a year), or the default."""
    raw = (args.get("tahun") or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise InvalidInput(f"tahun: {raw[:20]!r} bukan tahun ({MIN_YEAR}-{MAX_YEAR})")
    return int(raw)


def text_arg(args: Mapping[str, str], name: str, limit: int = 255) -> str | None:
    """An optional text argument, stripped (None when empty); too long is an error."""
    raw = (args.get(name) or "").strip()
    if len(raw) > limit:
        raise InvalidInput(f"{name}: paling banyak {limit} karakter")
    return raw or None


def distribution_limits() -> dict[str, float]:
    """Max % per predicate from configuration (or the environment); empty: no rule."""
    configured = current_app.config.get("PREDIKAT_BATAS_DISTRIBUSI")
    if configured is None:
        raw = os.environ.get("JENJANG_PREDIKAT_BATAS_DISTRIBUSI", "").strip()
        try:
            configured = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise InvalidInput("JENJANG_PREDIKAT_BATAS_DISTRIBUSI: bukan JSON yang valid") from exc
    if not isinstance(configured, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in configured.values()
    ):
        raise InvalidInput("PREDIKAT_BATAS_DISTRIBUSI: harus objek {predikat: persen maksimum}")
    return {str(k): float(v) for k, v in configured.items()}


# -- the reports' data and tables (shared with the JSON API) -------------------------------


def stage_labels() -> dict[str, str]:
    """The funnel stages as people read them."""
    return {
        "terdaftar": _("Registered"),
        "memenuhi_syarat": _("Administratively eligible"),
        "sanggah_diajukan": _("Objections filed"),
        "sanggah_diterima": _("Objections accepted"),
        "lulus_skd": _("Passed SKD"),
        "ikut_skb": _("Went on to SKB"),
        "lulus_akhir": _("Passed finally"),
        "diangkat": _("Appointed (NIP proposed)"),
    }


def funnel(args: Mapping[str, str], scope: Scope) -> tuple[dict[str, Any], list[Table]]:
    """The recruitment funnel and its tables."""
    data = reports.recruitment_funnel(get_db(), text_arg(args, "formasi", 32))
    labels = stage_labels()
    stages = data["tahap"]
    overall = Table(
        "funnel",
        _("Recruitment funnel"),
        [_("Stage"), _("Applications"), _("Percent of registered")],
        [
            [labels[s], data["keseluruhan"]["jumlah"][s], data["keseluruhan"]["persen"][s]]
            for s in stages
        ],
    )
    shares = ("memenuhi_syarat", "lulus_skd", "lulus_akhir")
    share_labels = [_("%% %(stage)s", stage=labels[s]) for s in shares]

    def figures(row: dict[str, Any]) -> list[Any]:
        counts = [row["jumlah"][s] for s in stages]
        return [*counts, *(row["persen"][s] for s in shares)]

    per_formasi = Table(
        "per_formasi",
        _("By formasi"),
        [_("Formasi"), _("Position"), *(labels[s] for s in stages), *share_labels],
        [[r["formasi"], r["jabatan"], *figures(r)] for r in data["per_formasi"]],
    )
    per_level = Table(
        "per_education",
        _("By education"),
        [_("Education"), *(labels[s] for s in stages), *share_labels],
        [[r["pendidikan"] or "—", *figures(r)] for r in data["per_pendidikan"]],
    )
    return data, [overall, per_formasi, per_level]


def hours(seconds: float | None) -> float | None:
    """Seconds as hours with one decimal."""
    return None if seconds is None else round(seconds / 3600, 1)


def task_times(args: Mapping[str, str], scope: Scope) -> tuple[dict[str, Any], list[Table]]:
    """Time in stage per task, the slowest open tasks, and overdue tasks."""
    session, now = get_db(), utcnow()
    key = text_arg(args, "proses")
    data: dict[str, Any] = {
        "waktu": reports.task_durations(session, now, key),
        "terlama": reports.slowest_open(session, now, key),
        "terlambat": reports.overdue_tasks(session, now),
    }
    stage = Table(
        "time_in_stage",
        _("Time in stage"),
        [
            _("Process"),
            _("Version"),
            _("Task"),
            _("Done"),
            _("Median (hours)"),
            _("p90 (hours)"),
            _("Open"),
            _("Oldest open (hours)"),
        ],
        [
            [
                r["proses"],
                r["versi"],
                r["nama"],
                r["selesai"],
                hours(r["median_detik"]),
                hours(r["p90_detik"]),
                r["terbuka"],
                hours(r["terbuka_terlama_detik"]),
            ]
            for r in data["waktu"]
        ],
    )
    slowest = Table(
        "slowest_open",
        _("Slowest open tasks"),
        [_("Process"), _("Task"), _("Case"), _("Held by"), _("Age (hours)")],
        [
            [
                r["proses"],
                r["nama"],
                r["kunci_bisnis"] or "—",
                r["pemegang"] or r["peran"] or "—",
                hours(r["umur_detik"]),
            ]
            for r in data["terlama"]
        ],
    )
    late = data["terlambat"]
    per_unit = Table(
        "overdue_by_unit",
        _("Overdue tasks by unit"),
        [_("Unit"), _("Overdue"), _("Most days late")],
        [
            [r["unit"] or _("(not claimed)"), r["terlambat"], r["terlambat_hari_maks"]]
            for r in late["per_unit"]
        ],
    )
    per_person = Table(
        "overdue_by_person",
        _("Overdue tasks by person"),
        [_("Person"), _("Unit"), _("Overdue"), _("Most days late")],
        [
            [
                r["nama"]
                if r["pengguna"]
                else _("Role %(role)s, not claimed", role=r["peran"] or "—"),
                r["unit"] or "—",
                r["terlambat"],
                r["terlambat_hari_maks"],
            ]
            for r in late["per_orang"]
        ],
    )
    return data, [stage, slowest, per_unit, per_person]


def version_arg(args: Mapping[str, str]) -> int | None:
    """The `versi` argument (a process version id), or None."""
    raw = (args.get("versi") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput(f"versi: {raw[:20]!r} bukan nomor versi proses")
    return int(raw)


def heatmap(args: Mapping[str, str], scope: Scope) -> tuple[dict[str, Any], list[Table]]:
    """The heatmap of one process version (the newest deployed one by default)."""
    session = get_db()
    versions = reports.process_versions(session)
    chosen = version_arg(args)
    if chosen is None and versions:
        chosen = versions[0]["id"]
    data: dict[str, Any] = {"versi_tersedia": versions, "peta": None}
    table = Table(
        "heatmap",
        _("Bottlenecks"),
        [_("Element"), _("Task"), _("Median wait (hours)"), _("Open"), _("Done")],
    )
    if chosen is not None:
        found = reports.heatmap(session, chosen, utcnow())
        data["peta"] = found
        table.rows = [
            [element, f["nama"], hours(f["median_detik"]), f["terbuka"], f["selesai"]]
            for element, f in sorted(found["elemen"].items())
        ]
    return data, [table]


def training(args: Mapping[str, str], scope: Scope) -> tuple[dict[str, Any], list[Table]]:
    """JP against the target, requests and feedback per training, for a year."""
    session = get_db()
    year = year_arg(args, utcnow().year)
    target = int(current_app.config["JP_TARGET_TAHUNAN"])
    data: dict[str, Any] = {
        "jp": reports_hr.training_hours(session, year, target, scope.unit_id),
        "permintaan": reports_hr.training_requests(session, year),
        "umpan_balik": reports_hr.training_feedback(session, year),
    }
    per_unit = Table(
        "jp_by_unit",
        _("JP by unit"),
        [
            _("Unit"),
            _("Employees"),
            _("Total JP"),
            _("Average JP"),
            _("Reached the target"),
            _("Percent reached"),
        ],
        [
            [
                r["unit"] or "—",
                r["pegawai"],
                r["jp_total"],
                r["jp_rata_rata"],
                r["tercapai"],
                r["persen_tercapai"],
            ]
            for r in data["jp"]["per_unit"]
        ],
    )
    per_person = Table(
        "jp_by_employee",
        _("JP by employee"),
        [_("Employee"), _("Unit"), _("JP"), _("Target"), _("Missing JP")],
        [
            [r["nama"], r["unit"] or "—", r["jp"], r["target"], r["kurang"]]
            for r in data["jp"]["per_pegawai"]
        ],
    )
    tables = [per_unit, per_person]
    if scope.unit_id is None:  # requests and feedback are agency-wide: HR only
        tables.append(
            Table(
                "requests",
                _("Training requests"),
                [_("Code"), _("Training"), _("Quota"), _("Approved"), _("Waiting"), _("Rejected")],
                [
                    [r["kode"], r["judul"], r["kuota"], r["disetujui"], r["menunggu"], r["ditolak"]]
                    for r in data["permintaan"]
                ],
            )
        )
        tables.append(
            Table(
                "feedback",
                _("Feedback per training"),
                [_("Code"), _("Training"), _("Answers"), _("Material"), _("Method"), _("Trainer")],
                [
                    [
                        r["kode"],
                        r["judul"],
                        r["umpan_balik"],
                        r["nilai_materi"],
                        r["nilai_metode"],
                        r["nilai_pengajar"],
                    ]
                    for r in data["umpan_balik"]
                ],
            )
        )
    else:
        data["permintaan"], data["umpan_balik"] = [], []
    return data, tables


def performance(args: Mapping[str, str], scope: Scope) -> tuple[dict[str, Any], list[Table]]:
    """Predicate distribution per unit for a year, and who is eligible for promotion today."""
    session = get_db()
    today = utcnow().date()
    year = year_arg(args, today.year - 1)
    kinds = tuple(
        current_app.config.get("KENAIKAN_PANGKAT_JENIS_LAPORAN") or DEFAULT_PROMOTION_KINDS
    )
    data: dict[str, Any] = {
        "distribusi": reports_hr.predicate_distribution(
            session, year, distribution_limits(), scope.unit_id
        ),
        # Without the eligibility decision deployed the page still shows the rest.
        "layak_naik_pangkat": (
            reports_hr.promotion_eligible(session, today, kinds, scope.unit_id)
            if is_deployed(session, reports_hr.PROMOTION_DECISION)
            else None
        ),
        # The 9-box grid needs the kotak_talenta decision; without it the rest still shows.
        "sembilan_kotak": (
            reports_hr.talent_grid(session, year, scope.unit_id)
            if is_deployed(session, reports_hr.TALENT_DECISION)
            else None
        ),
    }

    def verdict(row: dict[str, Any]) -> str:
        if row["sesuai"] is None:
            return _("No rule configured")
        if row["sesuai"]:
            return _("Within the limits")
        return _("Over the limit: %(predicates)s", predicates=", ".join(row["melanggar"]))

    distribution = Table(
        "predicates",
        _("Predicate distribution"),
        [_("Unit"), _("Appraised"), *PREDICATES, _("Distribution rule")],
        [
            [r["unit"] or "—", r["jumlah"], *(r["per_predikat"][p] for p in PREDICATES), verdict(r)]
            for r in data["distribusi"]["per_unit"]
        ],
    )
    eligible = Table(
        "eligible",
        _("Eligible for promotion"),
        [_("Employee"), _("Unit"), _("Rank"), _("Years in rank"), _("Kind")],
        [
            [
                r["nama"],
                r["unit"] or "—",
                r["golongan"] or "—",
                r["masa_kerja_golongan_tahun"],
                ", ".join(r["jenis"]),
            ]
            for r in (data["layak_naik_pangkat"] or {}).get("pegawai", [])
        ],
    )
    tables = [distribution, eligible]
    grid = data["sembilan_kotak"]
    if grid is not None:
        tables.append(
            Table(
                "talent_grid",
                _("Talent grid (9-box)"),
                [_("Box"), _("Employees")],
                [[box, grid["per_kotak"][str(box)]] for box in range(9, 0, -1)],
            )
        )
        tables.append(
            Table(
                "talent_pool",
                _("Succession pool (boxes 7 to 9)"),
                [_("Employee"), _("Unit"), _("Predicate"), _("Potential"), _("Box")],
                [
                    [r["nama"], r["unit"] or "—", r["predikat"], r["potensi"], r["kotak"]]
                    for r in grid["kelompok_suksesi"]
                ],
            )
        )
    return data, tables


Builder = Callable[[Mapping[str, str], Scope], tuple[dict[str, Any], list[Table]]]
BUILDERS: dict[str, Builder] = {
    "rekrutmen": funnel,
    "waktu": task_times,
    "heatmap": heatmap,
    "pelatihan": training,
    "kinerja": performance,
}

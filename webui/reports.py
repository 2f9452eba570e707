"""Report pages (/laporan): recruitment funnel, time in stage and overdue tasks, the bottleneck
heatmap, training, performance and promotion; every table downloads as CSV or Excel.

Who sees what (anyone else gets 404, as for the rest of the app):

- HR admins (``admin``, ``admin_bkpsdm``): every report, for the whole agency; they also
  publish a formasi's final results on the public announcement page.
- Process owners (``pemilik_proses``): the process reports (funnel, time in stage, heatmap).
- Supervisors (``atasan`` with an org unit): training and performance of their own unit.

Rule numbers come from configuration: ``JP_TARGET_TAHUNAN`` (the yearly JP target),
``PREDIKAT_BATAS_DISTRIBUSI`` (max % per predicate, a JSON object, also read from the
environment variable ``JENJANG_PREDIKAT_BATAS_DISTRIBUSI``; none by default) and
``KENAIKAN_PANGKAT_JENIS_LAPORAN`` (the promotion kinds checked). The same data is served as
JSON by webui/api_reports.py through the builders in webui/report_data.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from engine import announcements
from engine.errors import InvalidInput
from engine.hr import PREDICATES
from engine.models import utcnow
from engine.recruitment import Formasi
from webui.auth import current_account
from webui.db import get_db
from webui.exports import Table, csv_response, xlsx_response
from webui.report_data import (
    BUILDERS,
    FORMATS,
    MAX_LISTED,
    REPORTS,
    hours,
    require,
    scope_of,
    stage_labels,
    text_arg,
)

bp = Blueprint("reports", __name__, url_prefix="/laporan")

# -- pages ------------------------------------------------------------------------------------


def titles() -> dict[str, str]:
    """Each report's title."""
    return {
        "rekrutmen": _("Recruitment funnel"),
        "waktu": _("Time in stage and overdue tasks"),
        "heatmap": _("Bottleneck heatmap"),
        "pelatihan": _("Training"),
        "kinerja": _("Performance and promotion"),
    }


def export(report: str, tables: list[Table], fmt: str) -> ResponseReturnValue:
    """A CSV (one table, `tabel`) or Excel (every table) download of a report."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format: {fmt[:10]!r} tidak dikenal (csv atau xlsx)")
    name = f"laporan-{report}-{utcnow():%Y%m%d}"
    if fmt == "xlsx":
        return xlsx_response(tables, name)
    wanted = request.args.get("tabel") or tables[0].name
    table = next((t for t in tables if t.name == wanted), None)
    if table is None:
        raise InvalidInput(f"tabel: {wanted[:40]!r} tidak ada di laporan ini")
    return csv_response(table, f"{name}-{table.name}")


def vendor_viewer() -> bool:
    """Whether bpmn-js's viewer was vendored into static/vendor (``make vendor``)."""
    static = Path(current_app.static_folder or "")
    return (static / "vendor" / "bpmn-js" / "bpmn-navigated-viewer.production.min.js").is_file()


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """The reports this user may see."""
    scope = scope_of(current_account())
    if not scope.reports:
        abort(404)
    return render_template(
        "reports/index.html",
        reports=[r for r in REPORTS if r in scope.reports],
        titles=titles(),
        published=announcements.published(get_db()),
    )


def show(report: str) -> ResponseReturnValue:
    """One report as a page, or as a download with ?format=csv|xlsx."""
    user = current_account()
    scope = require(user, report)
    data, tables = BUILDERS[report](request.args, scope)
    fmt = request.args.get("format")
    if fmt:
        return export(report, tables, fmt)
    extra: dict[str, Any] = {}
    if report == "rekrutmen":
        extra["formasi"] = (
            get_db().execute(select(Formasi.kode, Formasi.status).order_by(Formasi.kode)).all()
        )
        extra["may_publish"] = bool(user.role_names & announcements.PUBLISHER_ROLES)
        extra["labels"] = stage_labels()
    if report == "heatmap":
        extra["viewer"] = vendor_viewer()
        figures = (data["peta"] or {}).get("elemen", {}).values()
        extra["heat_max"] = max((f["median_detik"] or 0 for f in figures), default=0)
    return render_template(
        "reports/report.html",
        charts=charts(report, data),
        report=report,
        title=titles()[report],
        data=data,
        tables=tables,
        max_rows=MAX_LISTED,
        args=request.args,
        unit_only=scope.unit_id is not None,
        **extra,
    )


def charts(report: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The bar charts a report page draws above its tables."""
    if report == "rekrutmen":
        labels = stage_labels()
        overall = data["keseluruhan"]["jumlah"]
        items = [(labels[s], overall[s]) for s in data["tahap"]]
        return [{"title": _("Applications per stage"), "items": items, "suffix": ""}]
    if report == "waktu":
        items = [
            (f"{r['proses']} v{r['versi']}: {r['nama']}", hours(r["median_detik"]) or 0)
            for r in data["waktu"]
        ]
        items = sorted(items, key=lambda i: -i[1])[:15]
        return [{"title": _("Median hours per task (slowest 15)"), "items": items, "suffix": ""}]
    if report == "pelatihan":
        items = [(r["unit"] or "—", r["persen_tercapai"]) for r in data["jp"]["per_unit"]]
        return [
            {
                "title": _("Employees who reached the JP target, by unit"),
                "items": items,
                "suffix": " %",
            }
        ]
    if report == "kinerja":
        totals = dict.fromkeys(PREDICATES, 0)
        for row in data["distribusi"]["per_unit"]:
            for predicate, n in row["per_predikat"].items():
                totals[predicate] += n
        return [{"title": _("Predicates, all units"), "items": list(totals.items()), "suffix": ""}]
    return []


CHART_WIDTH = 330  # SVG units of the longest bar


@bp.app_template_global()
def bar_rows(items: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Bars scaled to the largest value."""
    top = max((float(v or 0) for _label, v in items), default=0.0)
    return [
        {
            "label": str(label),
            "value": v,
            "width": round(CHART_WIDTH * float(v or 0) / top, 1) if top else 0,
        }
        for label, v in items
    ]


@bp.app_template_filter("angka")
def number(value: Any) -> str:
    """A number in the reader's language (Indonesian: 1.234,5); None as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):
        return format_decimal(value)
    return str(value)


@bp.app_template_filter("reject_format")
def without_format(args: dict[str, Any]) -> dict[str, Any]:
    """The page's arguments without the download ones."""
    return {k: v for k, v in args.items() if k not in ("format", "tabel")}


def _page(report: str) -> Callable[[], ResponseReturnValue]:
    def view() -> ResponseReturnValue:
        return show(report)

    view.__doc__ = f"The {report} report."
    return login_required(view)


# One route per report, without URL arguments: the report's name is not anyone's data.
for _name in REPORTS:
    bp.add_url_rule(f"/{_name}", endpoint=_name, view_func=_page(_name), methods=["GET"])


@bp.post("/rekrutmen/umumkan")
@login_required
def publish() -> ResponseReturnValue:
    """Publish a formasi's final results on the public announcement page (HR admins)."""
    user = current_account()
    require(user, "rekrutmen")
    kode = text_arg(request.form, "formasi", 32)
    if not kode:
        raise InvalidInput("formasi: pilih formasi yang hasilnya diumumkan")
    row = announcements.publish(get_db(), user, kode, utcnow())
    flash(
        _("Results of %(formasi)s published (SHA-256 %(sha)s).", formasi=kode, sha=row.sha256),
        "success",
    )
    return redirect(url_for("public.announcement", formasi=kode), 303)


@bp.app_context_processor
def reports_globals() -> dict[str, Any]:
    """Whether the navigation shows the reports entry."""
    if not current_user.is_authenticated:
        return {"reports_nav": False}
    try:
        return {"reports_nav": bool(scope_of(current_account()).reports)}
    except SQLAlchemyError:  # an error page about the database still shows
        return {"reports_nav": False}

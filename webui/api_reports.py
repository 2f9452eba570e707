"""The reports as JSON under /api/reports/ (routes on the API blueprint: same bearer tokens).

Each answers what the matching page under /laporan shows, built by webui.reports with the
same arguments and the same rule of who sees what (anyone else: 404).
"""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from webui.api import bp, current_user
from webui.report_data import BUILDERS, require

# URL name -> report (the page's name under /laporan).
API_REPORTS = {
    "funnel": "rekrutmen",
    "task-times": "waktu",
    "heatmap": "heatmap",
    "training": "pelatihan",
    "performance": "kinerja",
}


def answer(report: str) -> ResponseReturnValue:
    """The report's data for the token's user."""
    scope = require(current_user(), report)
    data, _tables = BUILDERS[report](request.args, scope)
    return jsonify({"laporan": report, "data": data})


@bp.get("/reports/funnel")
def report_funnel() -> ResponseReturnValue:
    """Recruitment funnel (?formasi=KODE)."""
    return answer("rekrutmen")


@bp.get("/reports/task-times")
def report_task_times() -> ResponseReturnValue:
    """Time in stage, slowest open tasks, overdue tasks (?proses=KEY)."""
    return answer("waktu")


@bp.get("/reports/heatmap")
def report_heatmap() -> ResponseReturnValue:
    """A process version's diagram and figures per element (?versi=ID)."""
    return answer("heatmap")


@bp.get("/reports/training")
def report_training() -> ResponseReturnValue:
    """JP against the target, requests and feedback (?tahun=YYYY)."""
    return answer("pelatihan")


@bp.get("/reports/performance")
def report_performance() -> ResponseReturnValue:
    """Predicate distribution and promotion eligibility (?tahun=YYYY)."""
    return answer("kinerja")

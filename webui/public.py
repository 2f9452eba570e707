"""The public announcement pages (/pengumuman): no login.

A formasi's final results appear here once an HR admin has published them: registration
numbers (never NIK or names), scores, the outcome, the versions of the decision tables that
computed them, and the SHA-256 of the downloadable list (engine.announcements documents its
exact bytes), so anyone can check that the list they hold is the one published.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from engine import announcements
from webui.db import get_db

bp = Blueprint("public", __name__, url_prefix="/pengumuman")
MAX_KODE = 32


def outcome_labels() -> dict[str, str]:
    """The outcome codes of the list as people read them."""
    return {
        "lulus": _("Passed"),
        "tidak_lulus": _("Not passed"),
        "tidak_masuk_skb": _("Not in the SKB quota"),
        "tidak_lulus_skd": _("Did not pass SKD"),
        "tidak_memenuhi_syarat": _("Not eligible"),
        "batal": _("Withdrawn"),
    }


def _announcement() -> tuple[Any, Any]:
    kode = (request.args.get("formasi") or "").strip()
    if not kode or len(kode) > MAX_KODE:
        abort(404)
    found = announcements.latest(get_db(), kode)
    if found is None:
        abort(404)
    return found


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every formasi whose final results are published."""
    return render_template("reports/public_index.html", rows=announcements.published(get_db()))


@bp.get("/hasil")
def announcement() -> ResponseReturnValue:
    """A formasi's published results, with the rules' versions and the list's checksum."""
    formasi, row = _announcement()
    lines = row.content.rstrip("\n").split("\n")[1:]
    return render_template(
        "reports/public.html",
        formasi=formasi,
        row=row,
        results=[announcements.parse_line(line) for line in lines],
        outcome_labels=outcome_labels(),
    )


@bp.get("/hasil.csv")
def download() -> ResponseReturnValue:
    """The published list, byte for byte as its checksum was computed."""
    formasi, row = _announcement()
    return Response(
        row.content.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="hasil-{formasi.kode}.csv"',
            "X-Content-SHA256": row.sha256,
        },
    )

"""/admin/panitia: who sits on each formasi's selection committee (routes on admin.bp).

A committee member (role panitia_seleksi) sees and works only the tasks of the formasi they
sit on; a formasi with nobody seated is open to every panitia_seleksi. engine.committee
checks the rules and writes the audit rows; this page only shows and submits.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine.committee import COMMITTEE_ROLE, add_member, committee_of, remove_member
from engine.errors import JenjangError
from engine.models import User, UserRole
from engine.recruitment import Formasi
from webui.admin import bp, hr_admin
from webui.db import get_db


@bp.get("/panitia")
@login_required
def committees() -> ResponseReturnValue:
    """Every formasi with its committee, and a form to seat or unseat a member."""
    hr_admin()
    session = get_db()
    rows = session.scalars(select(Formasi).order_by(Formasi.kode)).all()
    members = {f.kode: committee_of(session, f.kode) for f in rows}
    candidates = session.scalars(
        select(User.username)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == COMMITTEE_ROLE, User.active.is_(True))
        .order_by(User.username)
    ).all()
    return render_template(
        "admin/committees.html", rows=rows, members=members, candidates=candidates
    )


@bp.post("/panitia/<kode>")
@login_required
def change_committee(kode: str) -> ResponseReturnValue:
    """Seat (action=tambah) or unseat (action=hapus) a member; the reason on refusal."""
    actor = hr_admin()
    session = get_db()
    username = request.form.get("username", "").strip()
    action = request.form.get("action", "")
    if action not in ("tambah", "hapus") or not username:
        flash(_("Choose a committee member from the list."), "error")
        return redirect(url_for("admin.committees"), 303)
    try:
        if action == "tambah":
            changed = add_member(session, actor, kode, username)
            message = _("%(user)s now sits on the committee of %(kode)s.", user=username, kode=kode)
        else:
            changed = remove_member(session, actor, kode, username)
            message = _("%(user)s left the committee of %(kode)s.", user=username, kode=kode)
    except JenjangError as exc:
        session.rollback()
        flash(_("Not changed: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("admin.committees"), 303)
    flash(message if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("admin.committees"), 303)

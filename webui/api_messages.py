"""`POST /api/messages/{name}`: a message from outside (e.g. BKN's technical approval).

Routes on the /api blueprint (same bearer tokens). Only an admin or an integration account
(role `integrasi`) may send: a message moves other people's processes on.
"""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from engine.messages import send_message
from webui.api import bp, current_user, fail, json_body, object_field, text
from webui.db import get_db

SENDER_ROLES = {"admin", "integrasi"}


@bp.post("/messages/<name>")
def send(name: str) -> ResponseReturnValue:
    """Deliver a message to the instances waiting for it, or keep it for a while (202)."""
    user = current_user()
    if not user.role_names & SENDER_ROLES:
        fail(403, text("You may not do this."))
    body = json_body()
    correlation = object_field(body, "correlation")
    data = object_field(body, "data")
    sent = send_message(get_db(), name, correlation, data, user)
    answer = {
        "message": name,
        "delivered": sent.delivered,
        "kept_until": sent.kept_until.isoformat(timespec="seconds") if sent.kept_until else None,
    }
    return answer, (200 if sent.delivered else 202)

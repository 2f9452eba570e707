"""Labels that many task forms share, so that each is translated once."""

from __future__ import annotations

from forms.i18n import lazy_gettext as _l

APPROVED = _l("Approved")
APPROVE = _l("Approve")
REJECT = _l("Reject")
DECISION = _l("Decision")
REASON = _l("Reason")
NOTES = _l("Notes")
START_DATE = _l("Start date")
END_DATE = _l("End date")

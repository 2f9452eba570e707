"""The SMTP settings, read from the environment (only the web/CLI layer reads it).

- ``JENJANG_SMTP_HOST``: the mail server; unset means no email is sent (it stays queued).
- ``JENJANG_SMTP_PORT``: default 587 with STARTTLS, 465 with SSL, 25 without TLS.
- ``JENJANG_SMTP_TLS``: ``starttls`` (default), ``ssl`` or ``none``.
- ``JENJANG_SMTP_USER`` / ``JENJANG_SMTP_PASSWORD``: login, when the server asks for one.
- ``JENJANG_MAIL_FROM``: the sender address (required with a host).
- ``JENJANG_MAIL_MAX_ATTEMPTS`` (default 8) and ``JENJANG_MAIL_RETRY_SECONDS`` (default 60,
  doubled after each failed try, at most 6 hours): how patiently a failed email is retried.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from engine.errors import InvalidInput
from engine.mail import MAX_ATTEMPTS, RETRY_SECONDS, TLS_MODES, MailConfig

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, not '{raw}'")
    return int(raw)


def mail_config_from_env(env: Mapping[str, str] | None = None) -> MailConfig | None:
    """The SMTP settings, or None when JENJANG_SMTP_HOST is unset; InvalidInput names a bad one."""
    env = os.environ if env is None else env
    host = env.get("JENJANG_SMTP_HOST", "").strip()
    if not host:
        return None
    tls = env.get("JENJANG_SMTP_TLS", "").strip().lower() or "starttls"
    if tls not in TLS_MODES:
        raise InvalidInput(f"JENJANG_SMTP_TLS must be one of {', '.join(TLS_MODES)}, not '{tls}'")
    sender = env.get("JENJANG_MAIL_FROM", "").strip()
    if "@" not in sender:
        raise InvalidInput(
            "JENJANG_MAIL_FROM must be the sender's email address (needed with JENJANG_SMTP_HOST)"
        )
    return MailConfig(
        host=host,
        sender=sender,
        port=_number(env, "JENJANG_SMTP_PORT", DEFAULT_PORTS[tls], 1, 65535),
        tls=tls,
        user=env.get("JENJANG_SMTP_USER", "").strip() or None,
        password=env.get("JENJANG_SMTP_PASSWORD") or None,
        max_attempts=_number(env, "JENJANG_MAIL_MAX_ATTEMPTS", MAX_ATTEMPTS, 1, 100),
        retry_seconds=_number(env, "JENJANG_MAIL_RETRY_SECONDS", RETRY_SECONDS, 1, 86400),
    )

"""`jenjang mail …`: send the due emails of the outbox, see what is pending or failed."""

from __future__ import annotations

from typing import Any

import click

from engine.db import session_factory
from engine.mail import deliver_due, describe, failed_mail, outbox_counts, requeue
from engine.models import utcnow
from webui.cli import Context, cli, emit, fail, pass_ctx
from webui.cli_ops import parse_now
from webui.mailconfig import mail_config_from_env


@cli.group("mail")
def mail_group() -> None:
    """The email outbox (SMTP settings: JENJANG_SMTP_* and JENJANG_MAIL_FROM)."""


@mail_group.command("send-due")
@click.option("--now", "now_text", help="Act as if it were this ISO time (UTC).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@pass_ctx
def send_due(ctx: Context, now_text: str | None, limit: int) -> None:
    """Send the emails that are due (one transaction each); failures are retried later."""
    config = mail_config_from_env()
    if config is None:
        fail("JENJANG_SMTP_HOST is not set: no mail server to send through (emails stay queued)")
    moment = parse_now(now_text) if now_text else utcnow()
    report = deliver_due(session_factory(ctx.engine), config, moment, limit)
    for error in report.errors:
        click.echo(error, err=True)
    click.echo(f"sent {report.sent}, to retry later {report.retried}, given up {report.failed}")


@mail_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """How many emails are pending, sent and failed, and the failed ones with their error."""
    with ctx.transaction() as s:
        value = {"counts": outbox_counts(s), "failed": [describe(r) for r in failed_mail(s)]}

    def text(v: dict[str, Any]) -> str:
        c = v["counts"]
        lines = [f"pending {c['pending']}, sent {c['sent']}, failed {c['failed']}"]
        lines += [
            f"failed #{r['id']} to {r['to']} after {r['attempts']} attempts: {r['last_error']}"
            for r in v["failed"]
        ]
        return "\n".join(lines)

    emit(value, as_json, text)


@mail_group.command("retry")
@click.argument("mail_id", type=int)
@pass_ctx
def retry(ctx: Context, mail_id: int) -> None:
    """Give a failed email a fresh set of attempts (after fixing the address or server)."""
    with ctx.transaction() as s:
        requeue(s, mail_id, utcnow())
    click.echo(f"email {mail_id} queued again")

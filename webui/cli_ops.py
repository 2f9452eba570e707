"""`jenjang message`, `worker`, `audit verify` and `serve`: what an operator runs beside
the web app (webui/cli.py holds the group, the helpers and the process commands)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from engine import audit
from engine.db import session_factory, writer
from engine.errors import JenjangError
from engine.mail import deliver_due
from engine.messages import send_message
from engine.models import utcnow
from engine.sources import one_line
from engine.timers import SYSTEM_ACTOR, SystemActor
from engine.users import get_user
from engine.worker import run_pass
from webui.cli import Context, cli, fail, parse_json, pass_ctx
from webui.mailconfig import mail_config_from_env


@cli.command("message")
@click.argument("name")
@click.option(
    "--correlation", required=True, help='Correlation values, e.g. {"formasi_id": "F-1"}.'
)
@click.option("--data", help="Message data as a JSON object.")
@click.option("--as", "actor", default="sistem", help="Who sends it (recorded in the audit).")
@pass_ctx
def message_cmd(ctx: Context, name: str, correlation: str, data: str | None, actor: str) -> None:
    """Send a message from outside (e.g. BKN's answer) to the instances waiting for it."""
    values = parse_json(correlation, "correlation")
    payload = parse_json(data, "data")
    with ctx.transaction() as s:
        sender = get_user(s, actor) if actor != SYSTEM_ACTOR else SystemActor()
        sent = send_message(s, name, values, payload, sender)
    if sent.delivered:
        click.echo(f"message {name} delivered to {sent.delivered} instance(s)")
    else:
        until = sent.kept_until.isoformat(timespec="seconds") if sent.kept_until else "-"
        click.echo(f"message {name}: nothing waits for it yet; kept until {until} (UTC)")


@cli.command("worker")
@click.option("--once", is_flag=True, help="Run what is due now and exit.")
@click.option("--now", "now_text", help="Act as if it were this ISO time (UTC), e.g. to catch up.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@pass_ctx
def worker_cmd(ctx: Context, once: bool, now_text: str | None, interval: float) -> None:
    """Run due timer jobs (one transaction each) and expire kept messages; --once: one pass."""
    fixed = parse_now(now_text) if now_text else None
    factory = session_factory(writer(ctx.engine))  # SQLite: BEGIN IMMEDIATE, never stale
    try:
        mail = mail_config_from_env()
    except JenjangError as exc:
        fail(str(exc))
    while True:
        moment = fixed or utcnow()
        try:
            report = run_pass(factory, moment)
            sent = deliver_due(factory, mail, moment, limit=1000) if mail else None
        except (JenjangError, SQLAlchemyError) as exc:
            if once:
                fail(f"worker pass failed: {exc}")
            click.echo(f"worker: pass failed, trying again: {one_line(exc)}", err=True)
            time.sleep(interval)
            continue
        for instance_id, fired in report.fired:
            if fired:
                click.echo(f"instance {instance_id}: fired {', '.join(fired)}")
        for instance_id, reason in report.retrying:
            click.echo(f"instance {instance_id}: timer job failed, will retry: {reason}", err=True)
        for instance_id, reason in report.failed:
            click.echo(
                f"instance {instance_id}: timer job gave up, instance in error: {reason}", err=True
            )
        if report.expired_messages:
            click.echo(f"{report.expired_messages} kept message(s) expired")
        if sent is not None and (sent.sent or sent.retried or sent.failed):
            click.echo(f"email: {sent.sent} sent, {sent.retried} to retry, {sent.failed} failed")
        if once:
            return
        time.sleep(interval)


def parse_now(text: str) -> datetime:
    """An ISO time from --now as naive UTC, or a one-line error."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--now '{text}' is not an ISO date/time (e.g. 2026-12-01T08:00:00)")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@cli.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check the audit chain; names the first changed or deleted row."""
    with ctx.transaction() as s:
        result = audit.verify(s)
    if not result.ok:
        fail(result.message)
    click.echo(result.message)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
def serve_cmd(host: str, port: int, threads: int) -> None:
    """Serve the web app with waitress (not Flask's debug server)."""
    from waitress import serve

    from webui.app import create_app

    # Plain http on this machine only: the session cookie may go without HTTPS, unless
    # JENJANG_SESSION_COOKIE_SECURE says otherwise. Anywhere else it is HTTPS-only.
    if host in LOCAL_HOSTS and not os.environ.get("JENJANG_SESSION_COOKIE_SECURE"):
        os.environ["JENJANG_SESSION_COOKIE_SECURE"] = "0"
    app = create_app()
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Jenjang serves on http://{shown}:{port}/ (Ctrl+C stops it)")
    serve(app, host=host, port=port, threads=threads, ident="jenjang")

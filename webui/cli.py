"""The `jenjang` command line: operators, tests and later issues drive the engine through it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

import forms
from engine.db import make_engine, session_factory, upgrade
from engine.decisions import decide
from engine.deploy import deploy
from engine.errors import DeploymentRejected, JenjangError
from engine.queries import instance_summary, list_processes, list_tasks
from engine.runtime import (
    cancel_instance,
    claim_task,
    complete_task,
    get_instance,
    get_task,
    retry_instance,
    start_instance,
    unclaim_task,
)
from engine.sources import one_line
from engine.users import add_user, get_user
from webui.engine_settings import configure_from_env


def instance_path() -> Path:
    """The app's own folder (secret key, uploads): JENJANG_INSTANCE_PATH, or ./instance."""
    return Path(os.environ.get("JENJANG_INSTANCE_PATH") or Path.cwd() / "instance")


def database_url() -> str:
    """JENJANG_DATABASE_URL, or a SQLite file under ./instance/."""
    url = os.environ.get("JENJANG_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path.cwd() / 'instance' / 'jenjang.db'}"


class Context:
    """Lazily opened database for one CLI invocation."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine for JENJANG_DATABASE_URL."""
        if self._engine is None:
            self._engine = make_engine(database_url())
        return self._engine

    def close(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session and one transaction: committed on success, rolled back on error."""
        with session_factory(self.engine)() as session, session.begin():
            yield session


def fail(message: str) -> NoReturn:
    """Print one line on stderr and exit 2."""
    click.echo(f"jenjang: {one_line(message)}", err=True)
    sys.exit(2)


def parse_json(text: str | None, what: str) -> dict[str, Any]:
    """A JSON object from an option, or a one-line error."""
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--{what} is not valid JSON: {exc.msg} at character {exc.pos}")
    if not isinstance(value, dict):
        fail(f"--{what} must be a JSON object")
    return value


def emit(value: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print JSON or a human-readable form."""
    if as_json or text is None:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text(value))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group()
def cli() -> None:
    """Jenjang: BPM engine for ASN career processes."""
    try:
        configure_from_env()
    except JenjangError as exc:
        fail(str(exc))


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("init")
@pass_ctx
def db_init(ctx: Context) -> None:
    """Create or migrate the database (idempotent)."""
    upgrade(ctx.engine)
    click.echo(f"database ready: {ctx.engine.url.render_as_string(hide_password=True)}")


@cli.group()
def users() -> None:
    """Users, roles and the org chart."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, help="Role (lane) the user holds; repeat or comma-separate."
)
@click.option("--unit", help="Org unit code (created if missing).")
@click.option("--supervisor", help="Username of the direct supervisor (atasan).")
@click.option("--full-name", default="", help="Display name.")
@click.option("--email", help="Email address.")
@pass_ctx
def users_add(
    ctx: Context,
    name: str,
    roles: tuple[str, ...],
    unit: str | None,
    supervisor: str | None,
    full_name: str,
    email: str | None,
) -> None:
    """Add a user with roles, unit and supervisor."""
    role_list = [r.strip() for value in roles for r in value.split(",") if r.strip()]
    with ctx.transaction() as s:
        user = add_user(
            s, name, role_list, unit=unit, supervisor=supervisor, full_name=full_name, email=email
        )
        click.echo(f"added {user.username} ({', '.join(sorted(user.role_names)) or 'no roles'})")


def _expand(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".bpmn", ".dmn"))
            if not found:
                fail(f"{raw}: no .bpmn or .dmn files in this folder")
            files += [(str(p), p.read_bytes()) for p in found]
        elif path.is_file():
            files.append((str(path), path.read_bytes()))
        else:
            fail(f"{raw}: no such file or folder")
    return files


@cli.command("deploy")
@click.argument("paths", nargs=-1, required=True)
@click.option("--as", "actor", default="system", help="Who deploys (recorded in the audit).")
@pass_ctx
def deploy_cmd(ctx: Context, paths: tuple[str, ...], actor: str) -> None:
    """Validate and deploy BPMN/DMN files (all or nothing)."""
    files = _expand(paths)
    try:
        with ctx.transaction() as s:
            result = deploy(s, files, actor)
    except DeploymentRejected as exc:
        for problem in exc.problems:
            prefix = "" if problem.severity == "error" else "warning: "
            click.echo(f"{prefix}{problem}", err=True)
        sys.exit(2)
    for item in result.items:
        click.echo(str(item))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@cli.command("processes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def processes_cmd(ctx: Context, as_json: bool) -> None:
    """List deployed processes and decisions."""
    with ctx.transaction() as s:
        rows = list_processes(s)

    def text(rows: list[dict[str, Any]]) -> str:
        return (
            "\n".join(
                f"{r['kind']:8} {r['key']:30} v{r['version']:<3} "
                + (f"{r['active_instances']} active" if r["kind"] == "process" else "")
                for r in rows
            )
            or "nothing deployed"
        )

    emit(rows, as_json, text)


@cli.command("start")
@click.argument("key")
@click.option("--business-key", help="A key people recognise (e.g. NIK and formasi).")
@click.option("--data", help="Initial data as a JSON object.")
@click.option("--as", "actor", required=True, help="Acting user.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def start_cmd(
    ctx: Context, key: str, business_key: str | None, data: str | None, actor: str, as_json: bool
) -> None:
    """Start an instance of the latest version of a process."""
    payload = parse_json(data, "data")
    with ctx.transaction() as s:
        inst = start_instance(s, key, get_user(s, actor), payload, business_key)
        summary = instance_summary(s, inst.id)
    emit(summary, as_json, _instance_text)


def _task_line(t: dict[str, Any]) -> str:
    who = t["assignee"] or (f"role {t['role']}" if t["role"] else "starter")
    claimed = f" claimed by {t['claimed_by']}" if t["claimed_by"] and not t["completed_at"] else ""
    due = f" due {t['due_at']}" if t["due_at"] else ""
    return f"{t['id']:>6}  {t['process']}#{t['instance_id']}  {t['name']} [{who}]{claimed}{due}"


@cli.command("tasks")
@click.option("--role", help="Only tasks of this role.")
@click.option("--user", help="Only tasks this user may act on.")
@click.option("--instance", type=int, help="Only tasks of this instance.")
@click.option("--all", "include_done", is_flag=True, help="Include completed tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def tasks_cmd(
    ctx: Context,
    role: str | None,
    user: str | None,
    instance: int | None,
    include_done: bool,
    as_json: bool,
) -> None:
    """List open tasks (an inbox)."""
    with ctx.transaction() as s:
        who = get_user(s, user) if user else None
        rows = list_tasks(s, role=role, user=who, instance_id=instance, include_done=include_done)
    emit(rows, as_json, lambda rs: "\n".join(_task_line(t) for t in rs) or "no tasks")


@cli.command("claim")
@click.argument("task", type=int)
@click.option("--as", "actor", required=True, help="Acting user.")
@pass_ctx
def claim_cmd(ctx: Context, task: int, actor: str) -> None:
    """Claim a task."""
    with ctx.transaction() as s:
        claim_task(s, task, get_user(s, actor))
    click.echo(f"task {task} claimed by {actor}")


@cli.command("unclaim")
@click.argument("task", type=int)
@click.option("--as", "actor", required=True, help="Acting user.")
@pass_ctx
def unclaim_cmd(ctx: Context, task: int, actor: str) -> None:
    """Give a claimed task back to its role."""
    with ctx.transaction() as s:
        unclaim_task(s, task, get_user(s, actor))
    click.echo(f"task {task} unclaimed")


def _documents(specs: tuple[str, ...]) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    for spec in specs:
        field, sep, path = spec.partition("=")
        if not sep or not field or not path:
            fail(f"--file '{spec}': write FIELD=PATH, e.g. ktp=scan-ktp.pdf")
        try:
            files[field] = (Path(path).name, Path(path).read_bytes())
        except OSError as exc:
            fail(f"--file {field}: {path}: {exc.strerror or exc}")
    return files


@cli.command("complete")
@click.argument("task", type=int)
@click.option("--as", "actor", required=True, help="Acting user.")
@click.option("--data", help="Submitted data as a JSON object.")
@click.option("--file", "files", multiple=True, help="A document for the form: FIELD=PATH.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def complete_cmd(
    ctx: Context, task: int, actor: str, data: str | None, files: tuple[str, ...], as_json: bool
) -> None:
    """Complete a task through its form (the data is validated first); the instance runs on."""
    payload = parse_json(data, "data")
    documents = _documents(files)
    locale = os.environ.get("JENJANG_LOCALE", "id")
    with ctx.transaction() as s:
        row = get_task(s, task)
        meta = get_instance(s, row.instance_id).process_version.task_meta.get(row.element_id, {})
        result = forms.validate(
            row.form_key, payload, documents, locale=locale, fields=meta.get("fields") or None
        )
        if not result.ok:
            problems = "; ".join(f"{f}: {' '.join(m)}" for f, m in result.errors.items())
            fail(f"task {task}: {problems}")
        outcome = complete_task(s, task, get_user(s, actor), result.data)
        summary = instance_summary(s, outcome.instance_id)
    emit(summary, as_json, _instance_text)


@cli.command("cancel")
@click.argument("instance", type=int)
@click.option("--as", "actor", required=True, help="Acting admin.")
@click.option("--reason", required=True, help="Why the instance is cancelled.")
@pass_ctx
def cancel_cmd(ctx: Context, instance: int, actor: str, reason: str) -> None:
    """Cancel an instance (admin)."""
    with ctx.transaction() as s:
        cancel_instance(s, instance, get_user(s, actor), reason)
    click.echo(f"instance {instance} cancelled")


@cli.command("retry")
@click.argument("instance", type=int)
@click.option("--as", "actor", required=True, help="Acting admin.")
@click.option("--data", help="Corrected data as a JSON object.")
@pass_ctx
def retry_cmd(ctx: Context, instance: int, actor: str, data: str | None) -> None:
    """Retry an instance in error after correcting its data (admin)."""
    payload = parse_json(data, "data")
    with ctx.transaction() as s:
        inst = retry_instance(s, instance, get_user(s, actor), payload)
        state, err = inst.state, inst.error_message
    click.echo(f"instance {instance} is {state}" + (f": {err}" if err else ""))


def _instance_text(v: dict[str, Any]) -> str:
    lines = [
        f"instance {v['id']}  {v['process']} v{v['version']}  {v['state']}"
        + (f"  business key {v['business_key']}" if v["business_key"] else ""),
    ]
    if v["error"]:
        lines.append(f"error at {v['error']['element']}: {v['error']['message']}")
    lines.append("open tasks:" if v["open_tasks"] else "no open tasks")
    lines += ["  " + _task_line(t) for t in v["open_tasks"]]
    lines.append("history:")
    lines += [
        f"  {h['at']}  {h['actor']:12} {h['action']:10} {h['element'] or ''}" for h in v["history"]
    ]
    return "\n".join(lines)


@cli.command("show")
@click.argument("instance", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show_cmd(ctx: Context, instance: int, as_json: bool) -> None:
    """State, version, open tasks and history of an instance."""
    with ctx.transaction() as s:
        summary = instance_summary(s, instance)
    emit(summary, as_json, _instance_text)


@cli.command("decide")
@click.argument("decision_id")
@click.option("--data", required=True, help="Input data as a JSON object.")
@click.option("--version", type=int, help="A specific version (default: latest).")
@pass_ctx
def decide_cmd(ctx: Context, decision_id: str, data: str, version: int | None) -> None:
    """Evaluate a deployed DMN decision; prints its outputs as JSON."""
    payload = parse_json(data, "data")
    with ctx.transaction() as s:
        result = decide(s, decision_id, payload, version)
    click.echo(json.dumps(result, ensure_ascii=False, default=str))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every error is one line on stderr with exit status 2."""
    import webui.cli_backup  # registers `jenjang backup` and `jenjang restore`
    import webui.cli_documents
    import webui.cli_hr
    import webui.cli_libur
    import webui.cli_mail
    import webui.cli_ops
    import webui.cli_processes
    import webui.cli_run  # noqa: F401  each registers its commands on `cli`

    ctx = Context()
    try:
        cli.main(args=argv, prog_name="jenjang", standalone_mode=False, obj=ctx)
    except click.exceptions.Abort:
        fail("aborted")
    except click.ClickException as exc:
        fail(exc.format_message())
    except JenjangError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"database error: {one_line(exc.orig) if exc.orig else one_line(exc)}")
    except SQLAlchemyError as exc:
        fail(f"database error: {one_line(exc)}")
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    finally:
        ctx.close()


if __name__ == "__main__":
    # `python -m webui.cli` runs this file as __main__, a second copy of the module: the
    # commands of webui/cli_*.py register on webui.cli's group, so run that module's main.
    from webui.cli import main as registered_main

    registered_main()

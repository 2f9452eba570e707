"""`jenjang migrate`: move running instances of one process version to another."""

from __future__ import annotations

import sys

import click

from engine.errors import JenjangError
from engine.migration import migrate_instance, plan_migration
from engine.users import get_user
from webui.cli import Context, cli, emit, fail, pass_ctx


@cli.command("migrate")
@click.argument("key")
@click.option("--from", "source", type=int, required=True, help="The version they run on.")
@click.option("--to", "target", type=int, required=True, help="The version to move them to.")
@click.option(
    "--instance", "instances", type=int, multiple=True, help="Only these instances (repeat)."
)
@click.option("--dry-run", is_flag=True, help="Only list which instances can move, and why not.")
@click.option("--as", "actor", help="Who moves them (an admin or process owner; audited).")
@click.option("--reason", help="Why (recorded in the audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def migrate_cmd(
    ctx: Context,
    key: str,
    source: int,
    target: int,
    instances: tuple[int, ...],
    dry_run: bool,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Move instances of KEY from version --from to --to (all running ones by default).

    An instance moves when every element it stands at exists in the target version; each
    moves in its own transaction. Exit status 2 when any chosen instance did not move.
    """
    if not dry_run and not actor:
        fail("--as: name the admin or process owner who moves the instances")
    with ctx.transaction() as s:
        plan = plan_migration(s, key, source, target, list(instances) or None)
        if actor:
            get_user(s, actor)  # an unknown name fails before anything moves
    results = [c.as_dict() for c in plan.candidates]
    if not dry_run:
        for item in results:
            if not item["can_move"]:
                continue
            try:
                with ctx.transaction() as s:
                    migrate_instance(
                        s, item["instance_id"], get_user(s, str(actor)), key, source, target, reason
                    )
                item["moved"] = True
            except JenjangError as exc:
                item["can_move"], item["reasons"] = False, [str(exc)]
    emit(results, as_json, lambda rows: _text(rows, source, target, dry_run))
    if not dry_run and any(not r.get("moved") for r in results):
        sys.exit(2)


def _text(rows: list[dict[str, object]], source: int, target: int, dry_run: bool) -> str:
    if not rows:
        return f"no running instance on v{source}"
    lines = []
    for row in rows:
        head = f"instance {row['instance_id']}"
        if row.get("moved"):
            lines.append(f"{head}: moved v{source} -> v{target}")
        elif row["can_move"]:
            lines.append(f"{head}: can move to v{target}")
        else:
            reasons = row["reasons"]
            text = "; ".join(reasons) if isinstance(reasons, list) else str(reasons)
            lines.append(f"{head}: {'cannot move' if dry_run else 'not moved'}: {text}")
    return "\n".join(lines)

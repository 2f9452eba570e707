"""`jenjang libur …`: the holidays working-day deadlines skip (configuration, in the database)."""

from __future__ import annotations

from pathlib import Path

import click

from engine.workdays import import_holidays, list_holidays, parse_csv
from webui.cli import Context, cli, fail, pass_ctx


@cli.group("libur")
def libur() -> None:
    """National holidays and joint leave days (not working days)."""


@libur.command("impor")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def libur_impor(ctx: Context, path: Path) -> None:
    """Load holidays from a CSV `tanggal,nama` (idempotent: known dates are renamed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read: {exc}")
    rows = parse_csv(text, str(path))
    with ctx.transaction() as s:
        new = import_holidays(s, rows)
    click.echo(f"{path}: {len(rows)} holiday(s), {new} new")


@libur.command("daftar")
@click.option("--tahun", type=int, help="Only this year.")
@pass_ctx
def libur_daftar(ctx: Context, tahun: int | None) -> None:
    """List the holidays."""
    with ctx.transaction() as s:
        for day in list_holidays(s, tahun):
            click.echo(f"{day.tanggal.isoformat()}  {day.nama}")

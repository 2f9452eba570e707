"""`jenjang dokumen bersihkan`: remove uploaded files no document row refers to."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from engine.documents import sweep_orphans
from engine.models import utcnow
from webui.cli import Context, cli, fail, instance_path, pass_ctx


def upload_folder() -> Path:
    """The web app's default upload folder: <JENJANG_INSTANCE_PATH or ./instance>/uploads."""
    return instance_path() / "uploads"


@cli.group("dokumen")
def dokumen() -> None:
    """Uploaded documents."""


@dokumen.command("bersihkan")
@click.option(
    "--folder", type=click.Path(path_type=Path), help="Upload folder (default: the app's)."
)
@click.option(
    "--umur-jam", "hours", default=24.0, show_default=True, help="Only files older than this."
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@pass_ctx
def bersihkan(ctx: Context, folder: Path | None, hours: float, dry_run: bool) -> None:
    """Remove files left by uploads whose request failed (no document row refers to them)."""
    if hours < 1:
        fail("--umur-jam must be at least 1: a younger file may belong to a request still running")
    root = folder or upload_folder()
    with ctx.transaction() as s:
        gone = sweep_orphans(s, root, timedelta(hours=hours), utcnow(), dry_run=dry_run)
    for path in gone:
        click.echo(str(path))
    verb = "would be removed" if dry_run else "removed"
    click.echo(f"{root}: {len(gone)} orphan file(s) {verb}")

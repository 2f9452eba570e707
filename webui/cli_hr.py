"""`jenjang demo`, `jenjang pegawai …` and `jenjang pelatihan …`: the HR admin's records."""

from __future__ import annotations

import os
from typing import Any

import click
from sqlalchemy import select

from engine.committee import add_member, committee_of, remove_member
from engine.demo import seed, seed_instances
from engine.hr import Training
from engine.records import (
    add_sanction,
    add_training,
    employee_record,
    set_potential,
    set_predicate,
    update_employee,
)
from engine.users import get_user
from webui.cli import Context, cli, emit, pass_ctx

DEFAULT_DEMO_PASSWORD = "jenjang-demo"


@cli.command("demo")
@pass_ctx
def demo_cmd(ctx: Context) -> None:
    """Create the demo agency (Pemerintah Kota Surakarta) with users for every role."""
    password = os.environ.get("JENJANG_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
    with ctx.transaction() as s:
        result = seed(s, password)
        started = seed_instances(s) if result.users else []
    if not result.users:
        click.echo("demo data is already there")
        return
    click.echo(f"demo agency created: {len(result.users)} users, {len(result.trainings)} trainings")
    if started:
        click.echo(f"instances in flight: {', '.join(started)}")
    click.echo(f"demo logins (password: {password}): {', '.join(result.users)}")


@cli.group("pegawai")
def pegawai() -> None:
    """Employee records (rank, predicates, sanctions) kept by the HR admin."""


@pegawai.command("show")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def pegawai_show(ctx: Context, username: str, as_json: bool) -> None:
    """An employee's record as the rules read it this year."""
    with ctx.transaction() as s:
        record = employee_record(s, username)

    def text(r: dict[str, Any]) -> str:
        return "\n".join(f"{k:28} {v}" for k, v in r.items())

    emit(record, as_json, text)


@pegawai.command("set")
@click.argument("username")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@click.option("--nip")
@click.option("--golongan", help="e.g. III/a")
@click.option("--tmt-golongan", help="In this rank since (YYYY-MM-DD).")
@click.option("--pendidikan")
@click.option("--jabatan")
@pass_ctx
def pegawai_set(ctx: Context, username: str, actor: str, **fields: Any) -> None:
    """Set NIP, rank and since when, education or position."""
    with ctx.transaction() as s:
        update_employee(s, get_user(s, actor), username, **fields)
    click.echo(f"record of {username} updated")


@pegawai.command("predikat")
@click.argument("username")
@click.argument("tahun", type=int)
@click.argument("predikat")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@pass_ctx
def pegawai_predikat(ctx: Context, username: str, tahun: int, predikat: str, actor: str) -> None:
    """Record an annual performance predicate."""
    with ctx.transaction() as s:
        set_predicate(s, get_user(s, actor), username, tahun, predikat)
    click.echo(f"predikat {tahun} of {username}: {predikat}")


@pegawai.command("potensi")
@click.argument("username")
@click.argument("tahun", type=int)
@click.argument("potensi")
@click.option("--dasar", default="", help="What the assessment rests on (e.g. assessment centre).")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@pass_ctx
def pegawai_potensi(
    ctx: Context, username: str, tahun: int, potensi: str, dasar: str, actor: str
) -> None:
    """Record a yearly potential assessment (rendah, menengah, tinggi) for the 9-box grid."""
    with ctx.transaction() as s:
        set_potential(s, get_user(s, actor), username, tahun, potensi, dasar)
    click.echo(f"potensi {tahun} of {username}: {potensi}")


@pegawai.command("sanksi")
@click.argument("username")
@click.option("--tingkat", required=True, help="ringan, sedang or berat")
@click.option("--mulai", required=True, help="YYYY-MM-DD")
@click.option("--selesai", help="YYYY-MM-DD")
@click.option("--keterangan", default="")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@pass_ctx
def pegawai_sanksi(
    ctx: Context,
    username: str,
    tingkat: str,
    mulai: str,
    selesai: str | None,
    keterangan: str,
    actor: str,
) -> None:
    """Record a disciplinary sanction."""
    with ctx.transaction() as s:
        add_sanction(s, get_user(s, actor), username, tingkat, mulai, selesai, keterangan)
    click.echo(f"sanction recorded for {username}")


@cli.group("pelatihan")
def pelatihan() -> None:
    """The training catalogue."""


@pelatihan.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def pelatihan_list(ctx: Context, as_json: bool) -> None:
    """List the catalogue."""
    with ctx.transaction() as s:
        rows = [
            {
                "kode": t.kode,
                "judul": t.judul,
                "jenis": t.jenis,
                "jp": t.jp,
                "mulai": t.mulai.isoformat(),
                "kuota": t.kuota,
                "biaya": t.biaya,
            }
            for t in s.scalars(select(Training).order_by(Training.mulai, Training.kode))
        ]
    emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(f"{r['kode']:14} {r['jp']:>3} JP  {r['mulai']}  {r['judul']}" for r in rs)
            or "empty"
        ),
    )


@pelatihan.command("add")
@click.argument("kode")
@click.option("--judul", required=True)
@click.option("--jenis", required=True, help="teknis, manajerial, sosial_kultural, kepemimpinan")
@click.option("--jp", type=int, required=True)
@click.option("--mulai", required=True, help="YYYY-MM-DD")
@click.option("--selesai", required=True, help="YYYY-MM-DD")
@click.option("--kuota", type=int, required=True)
@click.option("--biaya", type=int, required=True, help="Rupiah per participant")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@pass_ctx
def pelatihan_add(ctx: Context, kode: str, actor: str, **fields: Any) -> None:
    """Add a training to the catalogue."""
    with ctx.transaction() as s:
        add_training(s, get_user(s, actor), kode=kode, **fields)
    click.echo(f"training {kode} added")


@cli.group("formasi")
def formasi_group() -> None:
    """Formasi of the CASN selection: who sits on each committee."""


@formasi_group.command("panitia")
@click.argument("kode")
@click.argument("username")
@click.option("--hapus", is_flag=True, help="Take the user off the committee.")
@click.option("--as", "actor", required=True, help="Acting HR admin.")
@pass_ctx
def formasi_panitia(ctx: Context, kode: str, username: str, hapus: bool, actor: str) -> None:
    """Seat a panitia_seleksi user on a formasi's committee (or take them off with --hapus)."""
    with ctx.transaction() as s:
        admin = get_user(s, actor)
        if hapus:
            changed = remove_member(s, admin, kode, username)
        else:
            changed = add_member(s, admin, kode, username)
        members = committee_of(s, kode)
    verb = "removed from" if hapus else "added to"
    state = "" if changed else " (nothing to change)"
    click.echo(f"{username} {verb} the committee of {kode}{state}")
    click.echo(f"committee of {kode}: {', '.join(members) or '(none: open to every panitia)'}")

"""The `jenjang` CLI: the commands of the engine issue, and one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from webui.cli import main

ROOT = Path(__file__).resolve().parents[1]


class Cli:
    """Runs `jenjang` in-process (exactly main()'s error handling) against the test database."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        self.capsys.readouterr()
        old = os.environ.get("JENJANG_DATABASE_URL")
        os.environ["JENJANG_DATABASE_URL"] = self.url
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            if old is None:
                del os.environ["JENJANG_DATABASE_URL"]
            else:
                os.environ["JENJANG_DATABASE_URL"] = old
        out = self.capsys.readouterr()
        proc = subprocess.CompletedProcess(list(args), code, out.out, out.err)
        if ok:
            assert code == 0, out.err
        return proc


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(db_url, capsys)


def test_console_script_reports_errors_in_one_line(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "JENJANG_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "webui.cli", "show", "7"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (2, "jenjang: instance 7 does not exist\n")


def test_full_journey_through_the_cli(cli: Cli) -> None:
    cli("db", "init")
    cli("db", "init")  # idempotent
    cli("users", "add", "atasan1", "--role", "atasan", "--unit", "bidang_a")
    cli("users", "add", "pegawai1", "--role", "pegawai", "--supervisor", "atasan1")
    added = cli("users", "add", "admin1", "--role", "admin,pemilik_proses", "--role", "ppk")
    assert added.stdout.strip() == "added admin1 (admin, pemilik_proses, ppk)"
    out = cli("deploy", str(DATA / "cuti.bpmn"), str(DATA / "nilai.dmn")).stdout
    assert out.splitlines() == ["deployed predikat_nilai v1", "deployed cuti v1"]
    assert "unchanged cuti v1" in cli("deploy", str(DATA / "cuti.bpmn")).stdout
    procs = json.loads(cli("processes", "--json").stdout)
    assert {(p["kind"], p["key"], p["version"]) for p in procs} == {
        ("process", "cuti", 1),
        ("decision", "predikat_nilai", 1),
    }
    started = json.loads(
        cli(
            "start",
            "cuti",
            "--as",
            "pegawai1",
            "--data",
            '{"hari": 2}',
            "--business-key",
            "C-1",
            "--json",
        ).stdout
    )
    assert started["state"] == "running" and started["business_key"] == "C-1"
    [task] = json.loads(cli("tasks", "--user", "pegawai1", "--json").stdout)
    assert task["name"] == "Isi permohonan cuti"
    cli("claim", str(task["id"]), "--as", "pegawai1")
    cli("complete", str(task["id"]), "--as", "pegawai1", "--data", "{}")
    [approval] = json.loads(cli("tasks", "--role", "atasan", "--json").stdout)
    assert approval["assignee"] == "atasan1"
    done = json.loads(
        cli(
            "complete",
            str(approval["id"]),
            "--as",
            "atasan1",
            "--data",
            '{"disetujui": true}',
            "--json",
        ).stdout
    )
    assert done["state"] == "completed"
    shown = cli("show", str(started["id"])).stdout
    assert "completed" in shown and "history:" in shown
    assert json.loads(cli("decide", "predikat_nilai", "--data", '{"skor": 65}').stdout) == {
        "predikat": "Cukup",
        "lulus": True,
    }
    assert cli("audit", "verify").stdout.strip().startswith("audit trail intact")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("start", "nope", "--as", "admin1"), "jenjang: process 'nope' is not deployed"),
        (("start", "cuti", "--as", "ghost"), "jenjang: user 'ghost' does not exist"),
        (("complete", "999", "--as", "admin1", "--data", "{}"), "jenjang: task 999 does not exist"),
        (
            ("complete", "1", "--as", "admin1", "--data", "{bad"),
            "jenjang: --data is not valid JSON",
        ),
        (("decide", "nope", "--data", "{}"), "jenjang: decision 'nope' is not deployed"),
        (("show", "42"), "jenjang: instance 42 does not exist"),
        (("users", "add", "Bad Name"), "jenjang: username 'Bad Name'"),
        (("deploy", "/no/such/file.bpmn"), "jenjang: /no/such/file.bpmn: no such file or folder"),
        (("start",), "jenjang: Missing argument 'KEY'"),
    ],
)
def test_errors_are_one_line_with_exit_2(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli("db", "init")
    cli("users", "add", "admin1", "--role", "admin")
    cli("deploy", str(DATA / "cuti.bpmn"))
    proc = cli(*args, ok=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_rejected_deploy_prints_path_element_reason(cli: Cli, tmp_path: Path) -> None:
    cli("db", "init")
    bad = tmp_path / "bad.bpmn"
    bad.write_text((DATA / "cuti.bpmn").read_text().replace("sisa = 12 - hari", "import os"))
    proc = cli("deploy", str(bad), ok=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}: hitung: script does not compile")
    assert json.loads(cli("processes", "--json").stdout) == []


def test_complete_goes_through_the_task_form_with_documents(cli: Cli, tmp_path: Path) -> None:
    cli("db", "init")
    cli("deploy", str(ROOT / "workflows"))
    cli("demo")
    [upload] = json.loads(cli("tasks", "--user", "pelamar1", "--json").stdout)
    assert upload["form_key"] == "lamaran.unggah_dokumen"
    refused = cli("complete", str(upload["id"]), "--as", "pelamar1", "--data", "{}", ok=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert refused.stderr.startswith(f"jenjang: task {upload['id']}: ktp: ")
    pdf, jpeg = tmp_path / "scan.pdf", tmp_path / "foto.jpg"
    pdf.write_bytes(b"%PDF-1.4\n%demo\n")
    jpeg.write_bytes(b"\xff\xd8\xff\xe0demo")
    files = [f"ktp={pdf}", f"ijazah={pdf}", f"transkrip={pdf}", f"pas_foto={jpeg}"]
    args = [arg for spec in files for arg in ("--file", spec)]
    done = json.loads(
        cli(
            "complete", str(upload["id"]), "--as", "pelamar1", "--data", "{}", *args, "--json"
        ).stdout
    )
    assert done["open_tasks"][0]["element_id"] == "verifikasi_administrasi"
    bad = cli("complete", "1", "--as", "panitia1", "--file", "ktp", ok=False)
    assert bad.stderr.strip() == "jenjang: --file 'ktp': write FIELD=PATH, e.g. ktp=scan-ktp.pdf"

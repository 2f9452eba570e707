"""HTTP under load: gunicorn (2 workers) on 127.0.0.1 and a bounded asyncio/httpx client.

Generates applications as bench/scale.py does (real templates, cloned), serves
`webui.app:create_app()` with gunicorn on a free port, logs in staff (JSON API bearer tokens)
and applicants (the login form, with its CSRF token), then for a fixed duration runs a mix:
verifiers completing verification tasks through `POST /api/tasks/<id>/complete` and applicants
opening their status page `/pelamar/lamaran/<id>`. Every client loop stops at the deadline or
after --max-requests, whichever comes first; gunicorn is always stopped at the end.

    .venv/bin/python bench/http_load.py --url postgresql+psycopg://USER@HOST/DB --reset --record
    .venv/bin/python bench/http_load.py --quick       # SQLite temp file, a few seconds of load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import command_line, percentile, progress, record  # noqa: E402
from bench.scale import PASSWORD, clone, setup  # noqa: E402
from engine.models import TaskModel, User  # noqa: E402
from engine.recruitment import Lamaran  # noqa: E402

SECTION = "## HTTP under load (gunicorn, 2 workers)"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
READY_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str, port: int, workers: int, tmp: str) -> subprocess.Popen[bytes]:
    """gunicorn serving the app; returns once it answers (or raises, having stopped it)."""
    env = {
        **os.environ,
        "JENJANG_DATABASE_URL": url,
        "JENJANG_SECRET_KEY": "bench-secret",
        "JENJANG_SESSION_COOKIE_SECURE": "0",
        "JENJANG_INSTANCE_PATH": tmp,
    }
    log = open(Path(tmp) / "gunicorn.log", "wb")  # noqa: SIM115  closed with the process
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "256",
            "--timeout",
            "60",
            "webui.app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/masuk", timeout=2, trust_env=False).status_code
                == 200
            ):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(proc)
    tail = (Path(tmp) / "gunicorn.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"gunicorn did not start:\n{tail}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn (its master and workers: the process group it leads)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@dataclass
class Results:
    """Latencies per kind of request, errors, and the timed window."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        """One finished request."""
        self.latencies.setdefault(kind, []).append(seconds)
        if not ok:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if len(self.samples) < 5:
                self.samples.append(f"{kind}: {detail[:200]}")


async def login_form(client: httpx.AsyncClient, username: str) -> None:
    """Log in through the login page (CSRF token included), as a browser does."""
    page = await client.get("/masuk")
    match = CSRF_RE.search(page.text)
    data = {"username": username, "password": PASSWORD}
    if match:
        data["csrf_token"] = match.group(1)
    answer = await client.post("/masuk", data=data)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login of {username} failed: {answer.status_code}")


class Http:
    """A small HTTP/1.1 client on asyncio streams for the timed loop: the load generator shares
    the 2 cores with the server and PostgreSQL, and httpx cost about 2.5 ms of CPU per request
    (a third of a core at 150 requests/s); this costs a fraction of that. gunicorn's sync
    workers close the connection after each answer, so each request connects anew."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body) of one request."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            head += [f"{k}: {v}" for k, v in headers.items()]
            head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(head).encode("latin-1") + body)
            raw = await reader.read(-1)  # the server closes after the answer
        finally:
            writer.close()
        header, _, content = raw.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in header.lower():
            content = _unchunk(content)
        return status, content


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


async def run_load(
    base: str,
    tasks: list[int],
    applicants: list[tuple[str, int]],
    staff: str,
    concurrency: int,
    share: float,
    duration: float,
    max_requests: int,
) -> Results:
    """The timed mix; every loop ends at the deadline, at max_requests or when tasks run out.

    Logging in (a token for the verifier, the login form for applicants) uses httpx before the
    clock starts; the timed requests use `Http`."""
    results = Results()
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, trust_env=False) as api:
        answer = await api.post("/api/tokens", json={"username": staff, "password": PASSWORD})
        answer.raise_for_status()
        staff_headers = {
            "Authorization": f"Bearer {answer.json()['token']}",
            "Content-Type": "application/json",
        }
    sessions: list[tuple[dict[str, str], int]] = []
    for username, lamaran_id in applicants:
        async with httpx.AsyncClient(base_url=base, timeout=timeout, trust_env=False) as client:
            await login_form(client, username)
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        sessions.append(({"Cookie": cookie}, lamaran_id))
    host, port = base.removeprefix("http://").split(":")
    http = Http(host, int(port))
    body = json.dumps({"data": {"memenuhi_syarat": True}}).encode()
    queue = list(tasks)
    sent = 0
    deadline = time.monotonic() + duration
    rng = random.Random(11)
    shown = [-1]

    async def user_loop(index: int) -> None:
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            if rng.random() < share and queue:
                task_id = queue.pop()
                t0 = time.perf_counter()
                path = f"/api/tasks/{task_id}/complete"
                status, text = await http.request("POST", path, staff_headers, body)
                results.add("complete", time.perf_counter() - t0, status == 200, text.decode())
            else:
                headers, lamaran_id = sessions[rng.randrange(len(sessions))]
                t0 = time.perf_counter()
                status, _ = await http.request("GET", f"/pelamar/lamaran/{lamaran_id}", headers)
                results.add("status", time.perf_counter() - t0, status == 200, str(status))
            elapsed = int(duration - max(0.0, deadline - time.monotonic()))
            if index == 0 and elapsed > shown[0]:
                shown[0] = elapsed
                progress("load", elapsed, int(duration))

    started = time.perf_counter()
    await asyncio.gather(*(user_loop(i) for i in range(concurrency)))
    results.seconds = time.perf_counter() - started
    progress("load", int(duration), int(duration))
    return results


def report(results: Results) -> list[str]:
    """The table: requests/s and latency percentiles per kind, and errors."""
    lines = [
        "| requests | count | per second | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    every: list[float] = []
    for kind in sorted(results.latencies):
        values = results.latencies[kind]
        every += values
        lines.append(_row(kind, values, results.errors.get(kind, 0), results.seconds))
    lines.append(_row("all", every, sum(results.errors.values()), results.seconds))
    return lines


def _row(kind: str, values: list[float], errors: int, seconds: float) -> str:
    if not values:
        return f"| {kind} | 0 | 0 | - | - | - | {errors} |"
    rate = len(values) / seconds if seconds else 0.0
    p50, p95, p99 = (percentile(values, p) * 1000 for p in (50, 95, 99))
    return f"| {kind} | {len(values)} | {rate:.1f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {errors} |"


def main(argv: list[str] | None = None) -> None:
    """Generate, serve, load, report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", help="database URL (default: a temp SQLite file)")
    ap.add_argument(
        "--reset", action="store_true", help="drop and recreate the schema (PostgreSQL)"
    )
    ap.add_argument("--applications", type=int, default=30000, help="instances generated first")
    ap.add_argument("--formasi", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    ap.add_argument("--share", type=float, default=0.5, help="share of requests completing tasks")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of timed load")
    ap.add_argument("--max-requests", type=int, default=100_000, help="stop after this many")
    ap.add_argument("--applicants", type=int, default=50, help="applicants logged in")
    ap.add_argument("--quick", action="store_true", help="a smoke run under a minute")
    ap.add_argument("--record", action="store_true", help="write results to docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.applications, args.formasi, args.duration, args.applicants = 1500, 5, 8.0, 10
        args.concurrency = min(args.concurrency, 8)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/http.db"
        if url.startswith("sqlite"):
            # SQLite has one writer: a second web process gets "database is locked" when its
            # read transaction turns into a write. Embedded Jenjang runs one process.
            args.workers = 1
        if url.startswith("postgresql") and not args.reset:
            ap.error("PostgreSQL runs need --reset (it drops the schema): use a throwaway database")
        engine, world = setup(url, args.formasi, args.reset)
        clone(world, max(0, args.applications - len(world.templates)), random.Random(3))
        with world.factory() as s:
            tasks = list(
                s.scalars(
                    select(TaskModel.id)
                    .where(
                        TaskModel.element_id == "verifikasi_administrasi",
                        TaskModel.completed_at.is_(None),
                    )
                    .order_by(func.random())
                )
            )
            applicants = [
                (u, i)
                for u, i in s.execute(
                    select(User.username, Lamaran.id)
                    .join(Lamaran, Lamaran.user_id == User.id)
                    .where(Lamaran.nomor_peserta.like("%-K%"))
                    .order_by(func.random())
                    .limit(args.applicants)
                )
            ]
        engine.dispose()
        port = free_port()
        proc = start_server(url, port, args.workers, tmp)
        try:
            results = asyncio.run(
                run_load(
                    f"http://127.0.0.1:{port}",
                    tasks,
                    applicants,
                    "verifikator1",
                    args.concurrency,
                    args.share,
                    args.duration,
                    args.max_requests,
                )
            )
        finally:
            stop_server(proc)
    lines = report(results)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    summary = (
        f"{args.applications:,} applications ({len(tasks):,} open verification tasks), "
        f"{args.workers} gunicorn workers (sync), {args.concurrency} requests in flight, "
        f"{args.share:.0%} completions / {1 - args.share:.0%} status pages, "
        f"{results.seconds:.1f} s of load; load average after the run {load}."
    )
    print(summary)
    print("\n".join(lines))
    for sample in results.samples:
        print("error sample:", sample)
    if args.record:
        backend = "PostgreSQL (local)" if url.startswith("postgresql") else "SQLite file (WAL)"
        command = command_line("bench/http_load.py", argv if argv is not None else sys.argv[1:])
        # The mixed run and the completions-only run (the throughput target) each keep a section.
        section = SECTION if args.share < 1.0 else f"{SECTION}: completions only"
        record(section, command.strip(), f"Database: {backend}. {summary}\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()

"""Kill the web process and the worker (real processes, SIGKILL) at random points of a run of
scripted journeys; after restarts every instance is consistent, no timer fired twice, none lost.

`jenjang serve` (waitress) and `jenjang worker` run as child processes on the test database.
A driver walks ``JOURNEYS`` instances of tests/data/perjalanan_timer.bpmn through the JSON API
(start → complete "ajukan" → a 1-second timer fired by the worker → complete "periksa" → a
script → end). Meanwhile a killer sends SIGKILL to the web process or the worker at random
moments (seeded; the seed is in the failure message) and starts it again. The driver is
idempotent by observation: before each step it reads the database and does what is next, so a
request lost with a killed process is simply done again, or found done. At the end: every
journey has exactly one instance and it completed; every task was completed exactly once by
one request (one audit row, one completer); each timer fired exactly once; the task table
holds no open row; and `jenjang audit verify` passes.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.models import AuditEntry, Instance, TaskModel
from engine.passwords import hash_password
from tests.conftest import deploy_files, make_user

ROOT = Path(__file__).resolve().parents[1]
JOURNEYS = 20
KILLS = 10
PASSWORD = "kata-sandi-uji"
STAGGER = 0.3  # seconds between the starts of two journeys
DEADLINE = 50.0  # seconds for the whole run


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Child:
    """A `jenjang` child process that can be killed and started again."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.args, self.env, self.cwd, self.log = args, env, cwd, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start the process (its output goes to its log file)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "webui.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a power cut or the OOM killer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        """Kill it for good (the end of the test; not counted as one of the kills)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class Driver:
    """Walks the journeys through the API, one observed step at a time."""

    def __init__(self, base: str, engine: Engine) -> None:
        self.base, self.engine = base, engine
        self.token: str | None = None
        self.requests = Counter[str]()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One HTTP call; (0, None) when the server is not there (killed, restarting)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                self.requests[str(answer.status)] += 1
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            self.requests[str(exc.code)] += 1
            return exc.code, None
        except (OSError, http.client.HTTPException):  # refused, reset, cut off, timed out
            self.requests["no answer"] += 1
            return 0, None

    def login(self) -> bool:
        """Get a token (kept in the database: it survives restarts)."""
        status, body = self.call("POST", "/api/tokens", {"username": "staf1", "password": PASSWORD})
        if status == 201:
            self.token = body["token"]
        return self.token is not None

    def step(self, journey: int) -> bool:
        """Do the next step of one journey; True once it has completed."""
        key = f"J-{journey:03d}"
        with Session(self.engine) as s:
            inst = s.scalar(select(Instance).where(Instance.business_key == key))
            if inst is None:
                self.call("POST", "/api/processes/perjalanan/instances", {"business_key": key})
                return False
            if inst.state == "completed":
                return True
            task = s.scalar(
                select(TaskModel).where(
                    TaskModel.instance_id == inst.id, TaskModel.completed_at.is_(None)
                )
            )
        if task is not None:  # else the timer is pending: the worker's turn
            self.call("POST", f"/api/tasks/{task.id}/complete", {"data": {}})
        return False


def killer(children: list[Child], rng: random.Random, stop: threading.Event) -> None:
    """Kill one of the processes KILLS times at random moments, starting it again at once."""
    for n in range(KILLS):
        if stop.wait(rng.uniform(0.2, 1.0)):
            return
        victim = children[n % 2] if n < 2 else rng.choice(children)  # each dies at least once
        victim.kill()
        victim.start()


def wait_until_serving(driver: Driver, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.call("GET", "/api/openapi.json")[0] == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the web process did not start")


@pytest.mark.parametrize("db_engine", ["sqlite", "postgres"], indirect=True)
def test_killing_web_and_worker_at_random_loses_nothing_and_fires_no_timer_twice(
    db_engine: Engine, db_url: str, session: Session, tmp_path: Path
) -> None:
    deploy_files(session, "perjalanan_timer.bpmn")
    user = make_user(session, "staf1", "staf")
    user.password_hash = hash_password(PASSWORD)
    session.commit()
    seed = int(os.environ.get("JENJANG_CRASH_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    port = free_port()
    env = {
        **os.environ,
        "JENJANG_DATABASE_URL": db_url,
        "JENJANG_INSTANCE_PATH": str(tmp_path / "instance"),
        "JENJANG_SECRET_KEY": "crash-test",
        "PYTHONPATH": str(ROOT),
    }
    web = Child(
        ["serve", "--port", str(port), "--threads", "4"], env, tmp_path, tmp_path / "web.log"
    )
    worker = Child(["worker", "--interval", "0.2"], env, tmp_path, tmp_path / "worker.log")
    driver = Driver(f"http://127.0.0.1:{port}", db_engine)
    stop = threading.Event()
    chaos = threading.Thread(target=killer, args=([web, worker], rng, stop), daemon=True)
    done: set[int] = set()
    try:
        web.start()
        worker.start()
        wait_until_serving(driver)
        assert driver.login()
        chaos.start()
        begin = time.monotonic()
        while (len(done) < JOURNEYS or chaos.is_alive()) and time.monotonic() < begin + DEADLINE:
            # Journeys begin STAGGER s apart, so that kills fall in every phase of the run.
            ready = int((time.monotonic() - begin) / STAGGER) + 1
            for journey in rng.sample(range(min(ready, JOURNEYS)), min(ready, JOURNEYS)):
                if journey not in done and driver.step(journey):
                    done.add(journey)
            time.sleep(0.05)
        stop.set()
        chaos.join(timeout=10)
    finally:
        stop.set()
        web.stop()
        worker.stop()
    context = f"seed {seed}, kills web {web.kills} worker {worker.kills}, {driver.requests}"
    assert len(done) == JOURNEYS, (context, stuck(session), tail(tmp_path))
    assert web.kills + worker.kills == KILLS and web.kills and worker.kills, context
    check_consistency(session, context)


def stuck(session: Session) -> list[tuple[Any, ...]]:
    """The instances that did not complete, with what the worker knows of them."""
    session.rollback()
    rows = session.execute(
        select(
            Instance.business_key,
            Instance.state,
            Instance.error_message,
            Instance.next_timer_at,
            Instance.timer_attempts,
        ).where(Instance.state != "completed")
    ).all()
    retries = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "timer_retry")
    ).all()
    return [tuple(r) for r in rows] + [("timer_retry", d) for d in retries]


def tail(folder: Path) -> str:
    """The last lines of the children's logs."""
    return "\n".join(
        f"{log.name}: {line}"
        for log in sorted(folder.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()[-15:]
    )


def check_consistency(session: Session, context: str) -> None:
    """One completed instance per journey, each task and timer done exactly once."""
    session.rollback()
    per_key = Counter(session.scalars(select(Instance.business_key)))
    assert per_key == Counter({f"J-{j:03d}": 1 for j in range(JOURNEYS)}), context
    assert set(session.scalars(select(Instance.state))) == {"completed"}, context
    tasks = session.scalars(select(TaskModel)).all()
    assert len(tasks) == 2 * JOURNEYS, context
    assert all(t.completed_at is not None and t.completed_by_id for t in tasks), context
    completions = Counter(
        session.scalars(select(AuditEntry.task_id).where(AuditEntry.action == "completed"))
    )
    assert completions == Counter({t.id: 1 for t in tasks}), context
    timers = Counter(
        session.scalars(select(AuditEntry.instance_id).where(AuditEntry.action == "timer"))
    )
    assert sorted(timers.values()) == [1] * JOURNEYS, context
    ended = session.scalar(
        select(func.count()).where(AuditEntry.action.in_(["completed", "timer", "started"]))
    )
    assert ended == 4 * JOURNEYS, context
    verify = subprocess.run(
        [sys.executable, "-m", "webui.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "JENJANG_DATABASE_URL": session.get_bind().url.render_as_string(hide_password=False),
            "PYTHONPATH": str(ROOT),
        },
        timeout=60,
    )
    assert verify.returncode == 0, (verify.stderr, context)


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_the_workers_sqlite_transactions_take_the_write_lock_when_they_begin(
    db_engine: Engine,
) -> None:
    """A stale read then a write fails at once on SQLite; the worker's engine never reads stale:
    its BEGIN IMMEDIATE holds the write lock from the start (another writer must wait)."""
    import sqlite3

    from engine.db import writer

    path = db_engine.url.database
    assert path
    with writer(db_engine).connect() as conn, conn.begin():
        conn.exec_driver_sql("SELECT 1")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    with db_engine.connect() as conn, conn.begin():  # the web's engine: deferred, as before
        conn.exec_driver_sql("SELECT 1")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()

"""`jenjang run` (what `make run` starts): the web app and a worker; Ctrl+C stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

JENJANG = str(Path(sys.executable).parent / "jenjang")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    """Running, not exited (an exited child not yet reaped is a zombie: state Z)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_with_a_worker_and_a_signal_stops_both(
    tmp_path: Path, stop: signal.Signals
) -> None:
    env = {
        **os.environ,
        "JENJANG_DATABASE_URL": f"sqlite:///{tmp_path / 'jenjang.db'}",
        "JENJANG_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    subprocess.run([JENJANG, "db", "init"], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [JENJANG, "run", "--port", str(port), "--interval", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("worker started (pid "), first
        worker = int(first.split("pid ")[1].rstrip(")\n"))
        status = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/masuk", timeout=2) as r:
                    status = r.status
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        time.sleep(1.5)  # a worker that cannot start exits within this
        assert alive(worker), "the worker child is not running"
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "Jenjang stopped (web and worker)" in out
    assert not alive(worker)

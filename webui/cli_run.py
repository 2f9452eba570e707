"""`jenjang run`: the web app and one worker together, as `make run` starts them.

The worker runs as a child process (it needs its own database connections and loop); the
web app serves in this one. Ctrl+C or SIGTERM stops the server and then the worker, so no
process is left behind. A worker stopped mid-job loses nothing: its transaction rolls back
and the job stays due.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

import click

from webui.cli import cli
from webui.cli_ops import serve_cmd

STOP_TIMEOUT = 10.0  # seconds the worker gets to finish before it is killed


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--interval", default=5.0, show_default=True, help="Worker: seconds between polls.")
@click.pass_context
def run_cmd(ctx: click.Context, host: str, port: int, interval: float) -> None:
    """Serve the web app with a background worker beside it; Ctrl+C stops both."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "webui.cli", "worker", "--interval", str(interval)],
        # Ctrl+C reaches the whole terminal group: the worker is stopped by us, in order.
        start_new_session=True,
    )
    click.echo(f"worker started (pid {worker.pid})")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    try:
        ctx.invoke(serve_cmd, host=host, port=port)
    except KeyboardInterrupt:
        pass
    finally:
        worker.terminate()
        try:
            worker.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    click.echo("Jenjang stopped (web and worker)")

"""Helpers shared by the benchmarks: percentiles, a progress bar, the machine, recording."""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // max(1, total)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done >= total else ""
    print(f"\r{label:10} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def memory_gib() -> float:
    """Total memory of the machine in GiB (0 when it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine() -> str:
    """Date, cores, memory, Python and the load average: the line every section starts with."""
    load = "n/a"
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, {memory_gib():.0f} GiB, Python {platform.python_version()}, "
        f"load average {load}"
    )


def replace_section(text: str, section: str, body: str) -> str:
    """Text with the `## section` (up to the next `## ` heading) replaced by body, or appended."""
    heading = section + "\n"  # the whole heading line: one section's name may start another's
    if heading in text:
        head, _, rest = text.partition(heading)
        tail = rest.split("\n## ", 1)
        return head + body + ("\n## " + tail[1] if len(tail) > 1 else "")
    return text.rstrip("\n") + "\n\n" + body


def command_line(script: str, argv: list[str]) -> str:
    """The command as run, with the database URL (it may hold a password) left out."""
    shown, hide = [], False
    for arg in argv:
        shown.append(
            "URL" if hide else arg.split("=", 1)[0] + "=URL" if arg.startswith("--url=") else arg
        )
        hide = arg == "--url"
    return " ".join(["python", script, *shown])


def record(section: str, command: str, content: str) -> None:
    """Write a benchmark's section of docs/benchmarks.md in place."""
    body = f"{section}\n\nCommand: `{command}`  \nRun: {machine()}\n\n{content.rstrip()}\n"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    DOC.write_text(replace_section(text, section, body))


class Timer:
    """Collects durations in seconds: `with timer: ...`."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self._t0 = 0.0

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.values.append(time.perf_counter() - self._t0)

    def summary(self) -> tuple[float, float]:
        """p50 and p95 in milliseconds."""
        if not self.values:
            return 0.0, 0.0
        return percentile(self.values, 50) * 1000, percentile(self.values, 95) * 1000


def reset_schema(engine: Engine) -> None:
    """Drop and recreate the database's `public` schema (PostgreSQL): a throwaway database only."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))

"""The time and memory limit of one run, enforced with ``sys.settrace`` and loop checks."""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Callable
from typing import Any, NoReturn

from engine.sandbox.errors import SandboxError

TraceFunction = Callable[[types.FrameType, str, Any], Any]


def _resident_bytes() -> int:
    """Resident memory of this process (Linux); 0 where unknown, which disables the check."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MEMORY_CHECK_INTERVAL = 0.005  # seconds between two looks at the process memory


class _Run:
    """One execution: its deadline, its trace functions and whether it was stopped."""

    def __init__(self, time_limit: float, memory_limit: int, namespace: dict[str, Any]) -> None:
        clock = time.monotonic
        deadline = clock() + time_limit
        self.deadline = deadline
        self.reason = f"time limit of {time_limit} s exceeded"
        self.namespace = namespace
        self.aborted = False
        self.finished = False
        gettrace = sys.gettrace
        start_memory = _resident_bytes()
        memory_ceiling = start_memory + memory_limit if start_memory else 0
        next_check = 0.0  # the deadline or the next look at the memory, whichever is first

        # Closures, not methods: they run on every line of sandboxed code.
        def local_trace(frame: types.FrameType, event: str, arg: Any) -> Any:
            nonlocal next_check
            now = clock()
            if now > next_check:
                if now > deadline:
                    self.abort()
                next_check = min(now + _MEMORY_CHECK_INTERVAL, deadline)
                if memory_ceiling and _resident_bytes() > memory_ceiling:
                    self.abort(f"memory limit of {memory_limit // 2**20} MB exceeded")
            return local_trace

        def global_trace(frame: types.FrameType, event: str, arg: Any) -> Any:
            if frame.f_globals is not namespace:
                return None  # trusted code is not traced: it must not see a time-out to swallow
            if clock() > deadline:
                self.abort()
            return local_trace

        def check() -> None:
            if self.aborted or self.finished or gettrace() is not global_trace:
                self.slow_check()

        self.local_trace: TraceFunction = local_trace
        self.global_trace: TraceFunction = global_trace
        self.check: Callable[[], None] = check

    def abort(self, reason: str | None = None) -> NoReturn:
        self.aborted = True
        if reason is not None:
            self.reason = reason
        raise SandboxError(self.reason)

    def slow_check(self) -> None:
        """Stop code that runs after a time-out or after the run; re-arm a dropped tracer."""
        if self.finished:
            # e.g. a generator's finally block run by the garbage collector: closing it quietly
            # (GeneratorExit) stops the block without an "exception ignored" report.
            raise GeneratorExit("sandboxed code cannot run after its script has finished")
        if self.aborted:
            raise SandboxError(self.reason)
        if time.monotonic() > self.deadline:
            self.abort()
        # Python drops the trace function when it raises (e.g. RecursionError inside it): put
        # it back, also on the sandboxed frames that are already running.
        sys.settrace(self.global_trace)
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_globals is self.namespace:
                frame.f_trace = self.local_trace
            frame = frame.f_back

"""The sandbox for script tasks, conditions, timer and DMN expressions of uploaded diagrams.

Diagrams come from untrusted process owners, so their Python runs under RestrictedPython with
an extra policy:

* no imports, no class definitions, no ``with`` statements, no names or attributes starting
  with ``_`` (no ``().__class__.__base__.__subclasses__()`` walks), no ``str.format`` /
  ``format_map`` (no ``'{0.__class__}'.format(x)``), no ``open``/``eval``/``exec``/
  ``compile``/``globals``/``vars``/``type``/``getattr``/``__import__``;
* a whitelist of builtins plus helpers (``datetime``, ``date``, ``timedelta``, ``Decimal`` and
  whatever the engine adds);
* operators and methods that can build huge values (``*``, ``**``, ``<<``, ``+``, ``%``,
  f-string format specs, ``str.join``/``replace``/``ljust``…, ``list.extend``, ``range``,
  ``pow``, ``sum``, ``str``/``repr``) check the size of their result first;
* a time limit, enforced with ``sys.settrace`` (works in any thread) plus a check at the top of
  every loop body and exception handler, so a script cannot swallow the time-out; the tracer
  also stops a script when the process's memory grows by more than ``memory_limit``;
* a cap on the size of the task data a script leaves behind.

Limits of an in-process sandbox: a single C-level operation cannot be interrupted by the time
limit (for example building a set of 100,000 integers chosen to share one hash, or comparing two
deeply shared nested lists); the size guards make the obvious ones hard to build, but only a
separate process with resource limits is a hard bound on CPU and memory.
"""

from __future__ import annotations

from engine.sandbox.environment import DEFAULT_HELPERS, SandboxEnvironment, ScriptEngine
from engine.sandbox.errors import SandboxError
from engine.sandbox.policy import check_source
from engine.sandbox.sizes import MAX_INT_BITS, MAX_LENGTH

__all__ = [
    "DEFAULT_HELPERS",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "SandboxEnvironment",
    "SandboxError",
    "ScriptEngine",
    "check_source",
]

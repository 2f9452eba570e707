"""The SpiffWorkflow script environment and script engine that run everything in the sandbox."""

from __future__ import annotations

import sys
import traceback
import types
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from keyword import iskeyword
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.sandbox.errors import SandboxError
from engine.sandbox.guards import _BUILTINS, _STATIC_GUARDS, _DiscardingPrinter, _is_reserved
from engine.sandbox.limits import _Run
from engine.sandbox.policy import _CHECK, FILENAME, Mode, _compile, _one_line
from engine.sandbox.sizes import _CONTAINERS, _data_size, _is_code_or_object

DEFAULT_HELPERS: dict[str, Any] = {
    "datetime": datetime,
    "date": date,
    "timedelta": timedelta,
    "Decimal": Decimal,
}
"""Helpers every script and expression can use (the ``helpers`` argument adds/overrides)."""


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Runs scripts and evaluates expressions under the sandbox policy, on task data."""

    memory_limit: int = 256 * 2**20
    """How much the process's resident memory may grow while one script runs (Linux only).

    It is the process's memory, so other threads count too: keep it well above what scripts
    need. The size guards refuse single huge values; this stops loops that pile up many.
    """

    def __init__(
        self,
        helpers: dict[str, Any] | None = None,
        time_limit: float = 1.0,
        max_data_bytes: int = 1_000_000,
    ) -> None:
        merged = dict(DEFAULT_HELPERS)
        merged.update(helpers or {})
        for name in merged:
            if not isinstance(name, str) or not name.isidentifier() or iskeyword(name):
                raise ValueError(f"helper name {name!r} is not a Python identifier")
            if name.startswith("_"):
                raise ValueError(f"helper name {name!r} must not start with '_'")
        if time_limit <= 0:
            raise ValueError("time_limit must be positive")
        if max_data_bytes <= 0:
            raise ValueError("max_data_bytes must be positive")
        super().__init__(environment_globals=merged)
        self.globals: dict[str, Any]
        self.time_limit = float(time_limit)
        self.max_data_bytes = int(max_data_bytes)

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        """Evaluate an expression with task data and external context as names."""
        code = self._code(expression, "eval")
        namespace = self._namespace(context, external_context or {})
        result = self._run(code, namespace)
        if _is_code_or_object(result):
            raise SandboxError(f"expression result must be data, not {type(result).__name__}")
        if isinstance(result, _CONTAINERS):
            limit = self.max_data_bytes
            if _data_size(result, limit, "expression result") > limit:
                raise SandboxError(f"expression result larger than {limit} bytes")
        return result

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        """Run a script; its assignments land in ``context`` (the task data)."""
        external = external_context or {}
        self.check_for_overwrite(context, external)
        code = self._code(script, "exec")
        namespace = self._namespace(context, external)
        self._run(code, namespace)
        data: dict[str, Any] = {}
        for key, value in namespace.items():
            if isinstance(key, str) and _is_reserved(key):
                continue  # sandbox machinery; such keys of the original data are kept below
            if key in self.globals or key in external or _is_code_or_object(value):
                continue
            data[key] = value
        for key, value in context.items():
            if isinstance(key, str) and _is_reserved(key):
                data[key] = value
        if _data_size(data, self.max_data_bytes, "task data") > self.max_data_bytes:
            raise SandboxError(f"task data larger than {self.max_data_bytes} bytes")
        context.clear()
        context.update(data)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks are not supported: always raises SandboxError."""
        raise SandboxError(f"service tasks are not supported: {kwargs.get('operation_name')}")

    def check_for_overwrite(
        self, context: dict[str, Any], external_context: Mapping[str, Any]
    ) -> None:
        """Refuse task data that would shadow a helper or an external-context name."""
        clashes = set(self.globals).intersection(context)
        clashes.update(set(external_context).intersection(context))
        if clashes:
            raise ValueError(
                "You have task data that overwrites a predefined function(s). Please change the "
                f"following variable or field name(s) to something else: {sorted(clashes)}"
            )

    @staticmethod
    def _code(source: str, mode: Mode) -> types.CodeType:
        if not isinstance(source, str):
            raise SandboxError(f"{'expression' if mode == 'eval' else 'script'} must be text")
        return _compile(source, mode).code_or_raise()

    def _namespace(self, context: Mapping[str, Any], external: Mapping[str, Any]) -> dict[str, Any]:
        namespace = dict(self.globals)
        namespace.update(external)
        namespace.update(context)
        namespace.update(_STATIC_GUARDS)  # last: data must never replace a guard
        namespace["_print"] = _DiscardingPrinter()
        namespace["__builtins__"] = _BUILTINS
        return namespace

    def _run(self, code: types.CodeType, namespace: dict[str, Any]) -> Any:
        run = _Run(self.time_limit, self.memory_limit, namespace)
        namespace[_CHECK] = run.check
        previous = sys.gettrace()
        sys.settrace(run.global_trace)
        try:
            result = eval(code, namespace)  # restricted, guarded code object
        except BaseException as err:
            if run.aborted:
                if isinstance(err, SandboxError) and str(err) == run.reason:
                    raise
                raise SandboxError(run.reason) from err
            if isinstance(err, Exception | KeyboardInterrupt | SystemExit):
                raise
            raise SandboxError(f"{type(err).__name__} is not allowed") from err
        finally:
            run.finished = True
            sys.settrace(previous)
        if run.aborted:
            raise SandboxError(run.reason)
        return result


class ScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine whose scripts and expressions all run in the sandbox."""

    environment: SandboxEnvironment

    def __init__(
        self,
        helpers: dict[str, Any] | None = None,
        time_limit: float = 1.0,
        max_data_bytes: int = 1_000_000,
    ) -> None:
        super().__init__(environment=SandboxEnvironment(helpers, time_limit, max_data_bytes))

    def validate(self, expression: str) -> None:
        """Compile an expression with the sandbox compiler: SyntaxError or SandboxError if bad."""
        SandboxEnvironment._code(expression, "eval")

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        """Evaluate like PythonScriptEngine, adding the underlying reason to the error."""
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as wte:
            cause = wte.__context__
            if (
                isinstance(cause, Exception)
                and not isinstance(cause, SpiffWorkflowException)
                and wte.error_type == type(cause).__name__
                and str(wte).startswith("Error evaluating expression")
            ):
                wte.add_note(f"{type(cause).__name__}: {_one_line(str(cause))}")
            raise

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Service tasks are not supported: raises WorkflowTaskException."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except WorkflowTaskException:
            raise
        except Exception as err:
            raise WorkflowTaskException(
                f"service task failed: {err}", task=task, exception=err
            ) from err

    def create_task_exec_exception(
        self, task: Any, script: str, err: Exception
    ) -> SpiffWorkflowException:
        """Like PythonScriptEngine's, but robust to non-text exception arguments."""
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        if isinstance(err, SpiffWorkflowException):
            err.line_number = line_number
            err.error_line = error_line
            err.add_note(f"Python script error on line {line_number}: '{error_line}'")
            return err
        detail = type(err).__name__
        if err.args:
            detail += ":" + str(err.args[0])
        return WorkflowTaskException(
            detail, task=task, exception=err, line_number=line_number, error_line=error_line
        )

    def get_error_line_number_and_content(self, script: str, err: BaseException) -> tuple[int, str]:
        """The line of the script that failed (0 and '' if unknown)."""
        line_number = 0
        if isinstance(err, SyntaxError):
            line_number = err.lineno or 0
        elif isinstance(err, SandboxError) and err.line_number:
            line_number = err.line_number
        else:
            for frame in traceback.extract_tb(err.__traceback__):
                if frame.filename == FILENAME and frame.lineno:
                    line_number = frame.lineno
        lines = script.splitlines() if isinstance(script, str) else []
        if 0 < line_number <= len(lines):
            return line_number, lines[line_number - 1]
        return line_number, ""

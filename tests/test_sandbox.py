"""The script sandbox: what runs, what is refused, time and size limits, SpiffWorkflow wiring."""

from __future__ import annotations

import re
import sys
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import SandboxEnvironment, SandboxError, ScriptEngine, check_source

FAST = 0.3  # time limit (seconds) for the tests that run into it


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment(time_limit=FAST)


def run(env: SandboxEnvironment, script: str, **data: Any) -> dict[str, Any]:
    context = dict(data)
    assert env.execute(script, context) is True
    return context


# --- what works ---------------------------------------------------------------------------------


def test_arithmetic_and_data_access(env: SandboxEnvironment) -> None:
    data = {"pegawai": {"nama": "Ani", "golongan": [3, "b"]}, "gaji": Decimal("1500.50")}
    assert env.evaluate("1 + 2 * 3 - 4 / 2", {}) == 5.0
    assert env.evaluate("pegawai['golongan'][0] + 1", data) == 4
    assert env.evaluate("pegawai['nama'].upper()", data) == "ANI"
    assert env.evaluate("gaji * 2", data) == Decimal("3001.00")
    assert env.evaluate("2 ** 10 + (1 << 4) + 7 % 3", {}) == 1024 + 16 + 1
    assert env.evaluate("'%s/%d' % ('a', 3)", {}) == "a/3"
    assert env.evaluate("f'{nama:>5}|{n!r}|{x:.2f}'", {"nama": "Ani", "n": "b", "x": 2}) == (
        "  Ani|'b'|2.00"
    )
    assert env.evaluate("sorted(x, reverse=True)[:2]", {"x": [3, 1, 2]}) == [3, 2]
    assert env.evaluate("sum([[1], [2]], [])", {}) == [1, 2]
    assert env.evaluate("max(len(s) for s in ['a', 'bcd'])", {}) == 3
    assert env.evaluate("', '.join(str(i) for i in range(3))", {}) == "0, 1, 2"
    assert env.evaluate("dmninputexpr > 3", {}, {"dmninputexpr": 5}) is True
    assert env.evaluate("\n  a == 1\n", {"a": 1}) is True  # XML text around an expression


def test_assignments_land_in_task_data(env: SandboxEnvironment) -> None:
    script = (
        "total = a + b\n"
        "items.append(total)\n"
        "info['ok'] = True\n"
        "def double(v):\n"
        "    return v * 2\n"
        "doubled = [double(i) for i in items]\n"
        "first, *rest = doubled\n"
        "try:\n"
        "    bad = int('x')\n"
        "except ValueError as e:\n"
        "    bad = None\n"
        "print('debug output is discarded')\n"
        "del a\n"
    )
    data = run(env, script, a=1, b=2, items=[10], info={})
    assert data == {
        "b": 2,
        "items": [10, 3],
        "info": {"ok": True},
        "total": 3,
        "doubled": [20, 6],
        "first": 20,
        "rest": [6],
        "bad": None,
    }  # the function `double`, the helpers and the builtins are not task data


def test_helpers(env: SandboxEnvironment) -> None:
    assert env.evaluate("timedelta(days=3)", {}) == timedelta(days=3)
    assert env.evaluate("date(2024, 1, 31) + timedelta(days=1)", {}) == date(2024, 2, 1)
    assert isinstance(env.evaluate("datetime.now()", {}), datetime)
    assert env.evaluate("Decimal('0.1') + Decimal('0.2')", {}) == Decimal("0.3")
    custom = SandboxEnvironment(helpers={"gaji_pokok": lambda golongan: 1000 * golongan})
    assert custom.evaluate("gaji_pokok(3)", {}) == 3000
    data = run(custom, "g = gaji_pokok(2)\nd = timedelta(days=1)")
    assert data == {"g": 2000, "d": timedelta(days=1)}


def test_task_data_may_not_shadow_a_helper(env: SandboxEnvironment) -> None:
    with pytest.raises(ValueError, match="date"):
        env.execute("x = 1", {"date": "2024-01-01"})
    with pytest.raises(ValueError, match="ext"):
        env.execute("x = 1", {"ext": 1}, {"ext": 2})


def test_external_context_is_visible_but_not_kept(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"a": 1}
    env.execute("b = a + limit", data, {"limit": 10})
    assert data == {"a": 1, "b": 11}


def test_data_named_like_a_guard_cannot_replace_it(env: SandboxEnvironment) -> None:
    data = {"_getattr_": "form field", "__builtins__": "x", "a": 1}
    assert env.evaluate("a + 1", dict(data)) == 2
    with pytest.raises(SandboxError):
        env.evaluate("().__class__", dict(data))
    context = dict(data)
    env.execute("b = a", context)
    assert context == {**data, "b": 1}


# --- escapes are refused with a clear message ---------------------------------------------------

ESCAPES = [
    ("import os", "import is not allowed"),
    ("from os import path", "import is not allowed"),
    ("__import__('os')", '"__import__" is not allowed'),
    ("().__class__.__base__.__subclasses__()", "is not allowed"),
    ("x = [c for c in ().__class__.__mro__]", '"__mro__" is not allowed'),
    ("getattr((), '__class__')", '"getattr" is not allowed'),
    ("'{0.__class__}'.format(1)", "str.format is not allowed"),
    ("str.format('{0.__class__}', 1)", "str.format is not allowed"),
    ("'{x.__class__}'.format_map({'x': 1})", "str.format_map is not allowed"),
    ("open('/etc/passwd')", '"open" is not allowed'),
    ("eval('1')", '"eval" is not allowed'),
    ("exec('x=1')", '"exec" is not allowed'),
    ("compile('1', 'f', 'eval')", '"compile" is not allowed'),
    ("globals()", '"globals" is not allowed'),
    ("vars()", '"vars" is not allowed'),
    ("type(1)", '"type" is not allowed'),
    ("f = open\nf('/etc/passwd')", '"open" is not allowed'),
    ("Exception.mro()", '"mro" is not allowed'),
    ("(x for x in []).gi_frame", '"gi_frame" is not allowed'),
    ("class A:\n    pass", "class definitions are not allowed"),
    ("with x:\n    pass", "with statements are not allowed"),
    ("datetime.now().year = 1", "cannot change datetime objects"),
]


@pytest.mark.parametrize(("script", "message"), ESCAPES)
def test_escape_is_refused(env: SandboxEnvironment, script: str, message: str) -> None:
    with pytest.raises(SandboxError, match=f"^[^\n]*{re.escape(message)}[^\n]*$"):
        env.execute(script, {})


@pytest.mark.parametrize(
    "expression",
    ["().__class__", "__import__('os')", "open('x')", "type(1)", "'{0}'.format(1)", "globals()"],
)
def test_escape_in_expression_is_refused(env: SandboxEnvironment, expression: str) -> None:
    with pytest.raises(SandboxError, match="not allowed"):
        env.evaluate(expression, {})


def test_check_source() -> None:
    assert check_source("x = a + 1\ny = [i for i in range(3)]", "exec") is None
    assert check_source("a > 1 and b in ('x', 'y')", "eval") is None
    assert check_source("x = 1\nimport os", "exec") == "line 2: import is not allowed"
    assert check_source("import os", "eval") == "syntax error: invalid syntax"
    reason = check_source("x = 1\ny = ().__class__", "exec")
    assert reason is not None and reason.startswith("line 2: ") and "__class__" in reason
    assert check_source("open('x')", "eval") == '"open" is not allowed'
    assert check_source("x = (1", "exec") == "line 1: syntax error: '(' was never closed"
    assert (
        check_source("x = 1\nreturn x", "exec") == "line 2: syntax error: 'return' outside function"
    )
    assert check_source("break", "exec") == "line 1: syntax error: 'break' outside loop"
    assert check_source("a\x00", "eval") is not None
    assert check_source("(" * 1000 + ")" * 1000, "eval") is not None
    assert check_source("-" * 100000 + "1", "eval") is not None
    for reason in (check_source("x = ", "exec"), check_source("__x", "eval")):
        assert reason is not None and "\n" not in reason


def test_sources_that_make_python_warn_compile_quietly() -> None:
    # Under pytest warnings are errors: compiling must not let SyntaxWarnings out.
    assert check_source("x = 1 is 1", "exec") is None
    assert check_source("'\\d' == 'd'", "eval") is None
    assert check_source("(1)(2)", "eval") is None


def test_runtime_errors_stay_python_errors(env: SandboxEnvironment) -> None:
    with pytest.raises(ZeroDivisionError):
        env.evaluate("1 / 0", {})
    with pytest.raises(NameError):
        env.evaluate("missing + 1", {})
    with pytest.raises(KeyError):
        env.execute("x = d['missing']", {"d": {}})
    with pytest.raises(SyntaxError):
        env.evaluate("1 +", {})
    with pytest.raises(ValueError, match="boom"):
        env.execute("raise ValueError('boom')", {})


def test_results_must_be_data(env: SandboxEnvironment) -> None:
    for expression in ("lambda: 1", "(x for x in [1])", "map(str, [1])", "Decimal"):
        with pytest.raises(SandboxError, match="expression result must be data"):
            env.evaluate(expression, {})
    with pytest.raises(SandboxError, match="expression result can only hold data, not function"):
        env.evaluate("[1, {'f': lambda: 1}]", {})
    with pytest.raises(SandboxError, match="task data can only hold data, not generator"):
        env.execute("x = [(i for i in [1])]", {})
    assert env.evaluate("[1, (2, 3), {'a': range(2)}]", {}) == [1, (2, 3), {"a": range(2)}]


# --- time limit ---------------------------------------------------------------------------------

LOOPS = [
    "while True: pass",
    "while True:\n    x = 1",
    "n = 0\nwhile n >= 0:\n    n += 1",
    "x = [1 for a in range(10**6) for b in range(10**6)]",
    "def f():\n    while True:\n        yield 1\nfor v in f():\n    pass",
    # a script cannot swallow the time-out ...
    "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
    "while True:\n    try:\n        while True: pass\n    except:\n        pass",
    "try:\n    while True: pass\nfinally:\n    while True: pass",
    # ... nor lose the tracer by making it fail
    "def f():\n    f()\ntry:\n    f()\nexcept RecursionError:\n    pass\nwhile True: pass",
]


@pytest.mark.parametrize("script", LOOPS)
def test_endless_loops_stop_at_the_time_limit(env: SandboxEnvironment, script: str) -> None:
    start = time.monotonic()
    with pytest.raises(SandboxError, match=rf"^time limit of {FAST} s exceeded$"):
        env.execute(script, {})
    assert time.monotonic() - start < FAST + 1.0


def test_expressions_have_a_time_limit(env: SandboxEnvironment) -> None:
    with pytest.raises(SandboxError, match="time limit"):
        env.evaluate("[1 for a in range(10**6) for b in range(10**6)]", {})


def test_time_limit_works_in_a_thread_and_restores_the_tracer(env: SandboxEnvironment) -> None:
    outcome: list[BaseException | None] = []

    def worker() -> None:
        try:
            env.execute("while True: pass", {})
            outcome.append(None)
        except SandboxError as err:
            outcome.append(err)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=FAST + 5)
    assert not thread.is_alive()
    assert isinstance(outcome[0], SandboxError)

    def tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        env.execute("x = 1", {})
        with pytest.raises(SandboxError):
            env.execute("while True: pass", {})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def test_generator_left_behind_cannot_run_later(env: SandboxEnvironment) -> None:
    script = (
        "def g():\n"
        "    try:\n"
        "        yield 1\n"
        "    finally:\n"
        "        while True: pass\n"
        "gen = g()\n"
        "for v in gen:\n"
        "    break\n"
    )
    start = time.monotonic()
    assert run(env, script) == {"v": 1}  # the generator is not data; closing it is quick
    assert time.monotonic() - start < FAST + 1.0


def test_normal_scripts_are_fast_enough() -> None:
    data = run(SandboxEnvironment(), "n = 0\nfor i in range(100000):\n    n += i")
    assert data["n"] == sum(range(100000))


# --- size limits --------------------------------------------------------------------------------

HUGE = [
    "'a' * 10**10",
    "10**10 * 'a'",
    "[0] * 10**9",
    "[[0] * 10**6] * 10**6",
    "2 ** 10**10",
    "pow(2, 10**10)",
    "pow(3, 10**10, 10**5000)",
    "1 << 10**10",
    "list(range(10**12))",
    "range(10**12)",
    "'x'.ljust(10**10)",
    "'x'.zfill(10**10)",
    "('x' * 10**6).replace('x', 'xx')",
    "','.join(['x' * 10**6] * 10)",
    "(1).to_bytes(10**10, 'big')",
    "f'{1:>10000000000}'",
    "'%10000000000s' % 'a'",
    "'%*s' % (10**10, 'a')",
    "str([['x' * 1000] * 1000] * 10)",
    "sum([[0] * 10**5] * 100, [])",
    "int(Decimal('1e999999999'))",
    "round(Decimal('1e999999999'))",
    "'%d' % Decimal('1e999999999')",
    "f'{Decimal(\"1e999999999\"):f}'",
    "Decimal('1e999999999').as_integer_ratio()",
]


@pytest.mark.parametrize("expression", HUGE)
def test_huge_results_are_refused_quickly(env: SandboxEnvironment, expression: str) -> None:
    start = time.monotonic()
    with pytest.raises(SandboxError, match=r"^result too large"):
        env.evaluate(expression, {})
    assert time.monotonic() - start < 0.5


def test_growing_values_in_a_loop_are_refused(env: SandboxEnvironment) -> None:
    for script in (
        "s = 'ab'\nwhile True:\n    s += s",
        "n = 3\nwhile True:\n    n *= n",
        "l = [1]\nwhile True:\n    l.extend(l)",
        "l = [1]\nwhile True:\n    l += l",
    ):
        with pytest.raises(SandboxError, match=r"^result too large"):
            env.execute(script, {})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_loops_piling_up_memory_are_stopped() -> None:
    env = SandboxEnvironment(time_limit=10)
    env.memory_limit = 64 * 2**20
    start = time.monotonic()
    with pytest.raises(SandboxError, match=r"^memory limit of 64 MB exceeded$"):
        env.execute("kept = []\nwhile True:\n    kept.append('a' * 10**6)", {})
    assert time.monotonic() - start < 5


def test_sizes_below_the_limits_work(env: SandboxEnvironment) -> None:
    assert env.evaluate("len([0] * 10**6)", {}) == 10**6
    with pytest.raises(SandboxError, match=r"^expression result larger than 1000000 bytes$"):
        env.evaluate("[0] * 10**6", {})
    assert env.evaluate("(2 ** 1000).bit_length()", {}) == 1001
    assert env.evaluate("len(list(range(1000)))", {}) == 1000
    assert env.evaluate("'ab' * 3", {}) == "ababab"


def test_task_data_cap() -> None:
    env = SandboxEnvironment(max_data_bytes=1000)
    data = {"keep": 1}
    with pytest.raises(SandboxError, match=r"^task data larger than 1000 bytes$"):
        env.execute("big = 'x' * 2000", data)
    assert data == {"keep": 1}  # the failed script left the task data alone
    assert run(env, "small = 'x' * 100") == {"small": "x" * 100}
    with pytest.raises(SandboxError, match="task data larger"):
        env.execute("a = [1]\nfor i in range(20):\n    a = [a, a]", {})


# --- SpiffWorkflow wiring -----------------------------------------------------------------------


def test_call_service_raises_workflow_task_exception() -> None:
    engine = ScriptEngine()
    with pytest.raises(SandboxError, match="service tasks are not supported: kirim_email"):
        engine.environment.call_service({}, operation_name="kirim_email", operation_params={})
    task = _FakeTask()
    with pytest.raises(WorkflowTaskException, match="service task failed: service tasks are not"):
        engine.call_service(task, operation_name="kirim_email", operation_params={})


def test_validate_uses_the_sandbox_compiler() -> None:
    engine = ScriptEngine()
    engine.validate("a > 1")
    with pytest.raises(SyntaxError):
        engine.validate("> 5")  # SpiffWorkflow's DMN engine relies on this
    with pytest.raises(SandboxError):
        engine.validate("().__class__")


class _FakeTask:
    """Just enough of a SpiffWorkflow task for WorkflowTaskException."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.task_spec = SimpleNamespace(bpmn_name="t", name="t")
        spec = SimpleNamespace(file="f.bpmn")
        self.workflow = SimpleNamespace(spec=spec)
        self.workflow.top_workflow = self.workflow


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="proses" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="hitung" name="Hitung">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="cek" default="f4">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="besar" name="Besar">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>jalur = 'besar'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="kecil" name="Kecil">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
      <bpmn:script>jalur = 'kecil'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f6</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hitung"/>
    <bpmn:sequenceFlow id="f2" sourceRef="hitung" targetRef="cek"/>
    <bpmn:sequenceFlow id="f3" sourceRef="cek" targetRef="besar">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        total &gt; 10
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="cek" targetRef="kecil"/>
    <bpmn:sequenceFlow id="f5" sourceRef="besar" targetRef="end"/>
    <bpmn:sequenceFlow id="f6" sourceRef="kecil" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(script: str, data: dict[str, Any]) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).encode())
    workflow = BpmnWorkflow(parser.get_spec("proses"), script_engine=ScriptEngine())
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    return workflow


@pytest.mark.parametrize(("a", "path"), [(4, "besar"), (1, "kecil")])
def test_workflow_runs_scripts_and_conditions_in_the_sandbox(a: int, path: str) -> None:
    workflow = _workflow("total = a * 3\nbatas = timedelta(days=3)", {"a": a})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["total"] == a * 3
    assert workflow.data["batas"] == timedelta(days=3)
    assert workflow.data["jalur"] == path
    done = {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert path in done and ({"besar", "kecil"} - {path}).isdisjoint(done)


def test_workflow_script_with_import_fails_with_workflow_task_exception() -> None:
    workflow = _workflow("import os", {"a": 1})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert info.value.error_type == "SandboxError"
    assert "import is not allowed" in str(info.value)
    assert info.value.line_number == 1 and info.value.error_line == "import os"
    task = workflow.get_tasks(spec_name="hitung")[0]
    assert task.state == TaskState.ERROR


def test_workflow_runtime_error_reports_the_line() -> None:
    workflow = _workflow("x = 1\ny = d[0]", {"a": 1, "d": {}})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert info.value.error_type == "KeyError"
    assert info.value.line_number == 2 and info.value.error_line == "y = d[0]"


def test_workflow_condition_error_names_the_reason() -> None:
    workflow = _workflow("total = 'banyak'", {"a": 1})
    with pytest.raises(
        WorkflowTaskException, match=r"(?s)total > 10.*TypeError: '>' not supported"
    ):
        workflow.do_engine_steps()
    engine = ScriptEngine()
    task = _FakeTask()
    task.data = {"a": 1}
    with pytest.raises(WorkflowTaskException, match=r"SandboxError: \"open\" is not allowed"):
        engine.evaluate(task, "open('x')")

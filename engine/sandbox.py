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

import ast
import builtins
import functools
import math
import operator
import os
import re
import sys
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from keyword import iskeyword
from typing import Any, Literal, NoReturn, TypeVar, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "DEFAULT_HELPERS",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "SandboxEnvironment",
    "SandboxError",
    "ScriptEngine",
    "check_source",
]

MAX_LENGTH = 1_000_000
"""Most elements/characters a single operation may produce (strings, lists, ranges…)."""
MAX_INT_BITS = 100_000
"""Largest integer (in bits) an operation may produce."""
MAX_INT_DIGITS = int(MAX_INT_BITS * math.log10(2)) + 1
"""The same limit in decimal digits (for Decimal values turned into integers)."""
MAX_POW_MOD_BITS = 4_096
"""Largest operands of a three-argument ``pow``."""
FILENAME = "<string>"
"""Code file name; SpiffWorkflow looks for it in tracebacks to report the failing line."""

TraceFunction = Callable[[types.FrameType, str, Any], Any]
Mode = Literal["eval", "exec"]


class SandboxError(Exception):
    """A script or expression broke the sandbox policy; the message is one line of English."""

    def __init__(self, message: str, line_number: int | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number


def _too_large(detail: str) -> SandboxError:
    return SandboxError(f"result too large: {detail}")


# ---------------------------------------------------------------------------------------------
# Compile-time policy
# ---------------------------------------------------------------------------------------------

_FORBIDDEN_CALLS = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "help",
        "input",
        "locals",
        "memoryview",
        "object",
        "open",
        "quit",
        "setattr",
        "super",
        "type",
        "vars",
    }
)
"""Builtins that a script may not call (they are not data, so a data field cannot shadow them)."""

_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_sb_add_",
    ast.Mult: "_sb_mul_",
    ast.Pow: "_sb_pow_",
    ast.LShift: "_sb_lshift_",
    ast.Mod: "_sb_mod_",
}
_CALL_GUARDS = {"str": "_sb_str_", "int": "_sb_int_"}
"""Calls of these builtins go through a size check (they are types, so cannot be wrapped)."""
_CHECK = "_sb_check_"


_Node = TypeVar("_Node", bound=ast.AST)


def _located(node: _Node, like: ast.AST) -> _Node:
    """Give a new ``node`` (not its children) the source position of ``like``."""
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if attr in node._attributes:
            setattr(node, attr, getattr(like, attr, 1 if attr == "lineno" else 0))
    return node


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    func = _located(ast.Name(id=name, ctx=ast.Load()), like)
    return _located(ast.Call(func=func, args=args, keywords=[]), like)


def _check_stmt(like: ast.AST) -> ast.stmt:
    return _located(ast.Expr(value=_call(_CHECK, [], like)), like)


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with size-checking operators and time-out checks."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and name.startswith("_") and name != "_":
            self.error(node, f'name "{name}" is not allowed (names starting with "_" are reserved)')
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "import is not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "import is not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_With(self, node: ast.With) -> ast.AST:
        self.error(node, "with statements are not allowed")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            self.error(
                node,
                f'attribute "{node.attr}" is not allowed (names starting with "_" are reserved)',
            )
        elif node.attr in INSPECT_ATTRIBUTES or node.attr == "mro":
            self.error(node, f'attribute "{node.attr}" is not allowed')
        return super().visit_Attribute(node)

    def visit_Call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FORBIDDEN_CALLS:
            self.error(node, f'"{func.id}" is not allowed')
        guard = (
            _CALL_GUARDS.get(func.id)
            if isinstance(func, ast.Name)
            and not any(isinstance(arg, ast.Starred) for arg in node.args)
            and all(keyword.arg is not None for keyword in node.keywords)
            else None
        )
        new = super().visit_Call(node)
        if guard is not None and isinstance(new, ast.Call):
            # str(x) -> _sb_str_(str, x): the callee is passed so a data field named "str" works.
            new.args.insert(0, new.func)
            new.func = _located(ast.Name(id=guard, ctx=ast.Load()), new)
        return new

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec: ast.expr = node.format_spec or _located(ast.Constant(value=""), node)
        conversion = _located(ast.Constant(value=node.conversion), node)
        call = _call("_sb_format_", [node.value, conversion, spec], node)
        return _located(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)

    def visit_Try(self, node: ast.Try) -> Any:
        node = self.node_contents_visit(node)
        for handler in node.handlers:
            handler.body.insert(0, _check_stmt(handler))
        if node.finalbody:
            node.finalbody.insert(0, _check_stmt(node.finalbody[0]))
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        node.body.insert(0, _check_stmt(node.body[0]))
        return node

    def visit_For(self, node: ast.For) -> Any:
        new = super().visit_For(node)
        if isinstance(new, ast.For):
            new.body.insert(0, _check_stmt(new.body[0]))
        return new


_LINE_PREFIX = re.compile(r"^Line (\d+|None): ")


class _Compiled:
    """The cached outcome of compiling one source text in one mode."""

    __slots__ = ("code", "line_number", "reason", "syntax")

    def __init__(
        self,
        code: types.CodeType | None = None,
        reason: str | None = None,
        line_number: int | None = None,
        syntax: tuple[str, int | None, int | None, str | None] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.line_number = line_number
        self.syntax = syntax

    def code_or_raise(self) -> types.CodeType:
        if self.syntax is not None:
            msg, lineno, offset, text = self.syntax
            raise SyntaxError(msg, (FILENAME, lineno, offset, text))
        if self.code is None:
            raise SandboxError(self.reason or "not allowed", self.line_number)
        return self.code


_COMPILE_LOCK = threading.Lock()


def _one_line(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: Mode) -> _Compiled:
    def prefix(line: int | None) -> str:
        return f"line {line or 1}: " if mode == "exec" else ""

    if mode == "eval":
        source = source.strip()  # like eval() (and the deploy-time check), ignore surrounding space
    # warnings.catch_warnings is process-global: the lock keeps our own compiles from racing.
    with _COMPILE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree = cast("ast.Module | ast.Expression", ast.parse(source, FILENAME, mode))
            compile_fn = compile_restricted_exec if mode == "exec" else compile_restricted_eval
            # SyntaxErrors can also come from this step ('return' outside function, ...)
            result = compile_fn(tree, filename=FILENAME, policy=_SandboxPolicy)
        except SyntaxError as err:
            msg = _one_line(str(err.msg))
            return _Compiled(
                reason=f"{prefix(err.lineno)}syntax error: {msg}",
                line_number=err.lineno,
                syntax=(msg, err.lineno, err.offset, err.text),
            )
        except (ValueError, RecursionError, MemoryError) as err:
            deep = isinstance(err, RecursionError | MemoryError)
            msg = "source is too deeply nested" if deep else str(err)
            msg = _one_line(msg) or type(err).__name__
            return _Compiled(reason=f"{prefix(1)}syntax error: {msg}", syntax=(msg, 1, 0, None))
    if result.errors or result.code is None:
        first = result.errors[0] if result.errors else "Line None: source is not allowed"
        match = _LINE_PREFIX.match(first)
        info = _one_line(first[match.end() :] if match else first).rstrip(".")
        line = int(match.group(1)) if match and match.group(1) != "None" else None
        return _Compiled(reason=f"{prefix(line)}{info}", line_number=line)
    return _Compiled(code=result.code)


def check_source(source: str, mode: Literal["eval", "exec"]) -> str | None:
    """Compile under the sandbox policy; return None if OK, else a one-line reason."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        return "source must be text"
    return _compile(source, mode).reason


# ---------------------------------------------------------------------------------------------
# Size accounting
# ---------------------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, bytearray, list, tuple)
_CONTAINERS = (list, tuple, set, frozenset, dict)
_SCALARS = (str, int, float, bool, type(None), Decimal, datetime, date, dtime, timedelta)
_NUMBERS = (int, float)


def _data_size(value: object, limit: int, holder: str | None = None) -> int:
    """JSON-ish size of ``value`` in bytes; stops counting once past ``limit`` (cycles are fine).

    With ``holder`` (e.g. "task data"), functions, modules and iterators inside are refused.
    """
    total = 0
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes | bytearray):
            total += 2 * len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total > limit:
                return total
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total > limit:
                return total
            stack.extend(item)
        elif isinstance(item, Decimal):
            total += len(item.as_tuple().digits) + 8
        elif isinstance(item, datetime | date | dtime | timedelta):
            total += 32
        else:
            if holder is not None and _is_code_or_object(item):
                raise SandboxError(f"{holder} can only hold data, not {type(item).__name__}")
            total += 16
        if total > limit:
            return total
    return total


def _deep_count(value: object, budget: int) -> int:
    """How many elements ``value`` holds, nested ones included; stops once past ``budget``."""
    count = 0
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _CONTAINERS):
            count += len(item)
            if count > budget:
                return count
            values = item.values() if isinstance(item, dict) else item
            stack.extend(v for v in values if isinstance(v, _CONTAINERS))
    return count


def _check_render(value: object) -> None:
    """Refuse to turn into text a value whose text would be huge."""
    if isinstance(value, _SCALARS):
        return
    if _data_size(value, MAX_LENGTH) > MAX_LENGTH:
        raise _too_large(f"text of more than {MAX_LENGTH} characters")


def _check_repeat(seq: Any, times: int) -> None:
    if times <= 0 or not seq:
        return
    if len(seq) * times > MAX_LENGTH:
        raise _too_large(f"sequence of more than {MAX_LENGTH} elements")
    if isinstance(seq, list | tuple):
        budget = MAX_LENGTH // times
        if _deep_count(seq, budget) > budget:
            raise _too_large(f"nested sequence of more than {MAX_LENGTH} elements")


def _check_decimal(value: object) -> None:
    """Refuse to turn a Decimal with a huge exponent into an int (slow, in C)."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > MAX_INT_DIGITS:
        _check_int_bits(math.inf)


def _check_int_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise _too_large(f"integer of more than {MAX_INT_BITS} bits")


# ---------------------------------------------------------------------------------------------
# Guarded operators
# ---------------------------------------------------------------------------------------------


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES) and len(a) + len(b) > MAX_LENGTH:
        raise _too_large(f"sequence of more than {MAX_LENGTH} elements")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length())
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check_repeat(a, b)
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _check_repeat(b, a)


def _check_pow(base: Any, exp: Any) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        _check_int_bits(exp * math.log2(abs(base)))


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_int_bits(a.bit_length() + b)


def _sb_add(a: Any, b: Any) -> Any:
    _check_add(a, b)
    return a + b


def _sb_mul(a: Any, b: Any) -> Any:
    _check_mul(a, b)
    return a * b


def _sb_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
        return base**exp
    if any(isinstance(x, int) and x.bit_length() > MAX_POW_MOD_BITS for x in (base, exp, mod)):
        raise _too_large(f"pow() with a modulus takes integers of at most {MAX_POW_MOD_BITS} bits")
    return pow(base, exp, mod)


def _sb_lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


_PERCENT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?(?P<conv>.)?",
    re.DOTALL,
)


def _big_number(digits: str | None) -> bool:
    return digits is not None and digits != "*" and (len(digits) > 7 or int(digits) > MAX_LENGTH)


def _text_size(value: object) -> int:
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    return _data_size(value, MAX_LENGTH)


def _check_mod(a: Any, b: Any) -> None:
    if isinstance(a, str | bytes):
        fmt = a if isinstance(a, str) else a.decode("latin-1")
        args = b if isinstance(b, tuple) else (b,)
        for arg in b.values() if isinstance(b, Mapping) else args:
            _check_decimal(arg)  # %d of a Decimal makes an int
        total = len(fmt)
        star = False
        for match in _PERCENT_SPEC.finditer(fmt):
            if _big_number(match["width"]) or _big_number(match["prec"]):
                raise _too_large(f"text of more than {MAX_LENGTH} characters")
            star = star or match["width"] == "*" or match["prec"] == "*"
            key = match["key"]
            if key is not None and isinstance(b, Mapping) and key in b:
                total += _text_size(b[key])
                if total > MAX_LENGTH:
                    break
        if star and any(isinstance(x, int) and x > MAX_LENGTH for x in args):
            raise _too_large(f"text of more than {MAX_LENGTH} characters")
        if not isinstance(b, Mapping):
            total += sum(_text_size(x) for x in args)
        if total > MAX_LENGTH:
            raise _too_large(f"text of more than {MAX_LENGTH} characters")


def _sb_mod(a: Any, b: Any) -> Any:
    _check_mod(a, b)
    return a % b


_DIGITS = re.compile(r"\d+")


def _sb_format(value: Any, conversion: int, spec: str) -> str:
    _check_render(value)
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    too_wide = any(_big_number(digits) for digits in _DIGITS.findall(spec))
    if isinstance(value, Decimal) and spec and value.is_finite():
        too_wide = too_wide or abs(value.adjusted()) > MAX_LENGTH  # e.g. f'{d:f}' writes all digits
    if too_wide:
        raise _too_large(f"text of more than {MAX_LENGTH} characters")
    return format(value, spec)


def _sb_str(callee: Any, *args: Any, **kwargs: Any) -> Any:
    if callee is str and len(args) == 1 and not kwargs:
        _check_render(args[0])
    return callee(*args, **kwargs)


def _sb_int(callee: Any, *args: Any, **kwargs: Any) -> Any:
    if callee is int and args:
        _check_decimal(args[0])
    return callee(*args, **kwargs)


def _safe_round(number: Any, ndigits: Any = None) -> Any:
    """Like ``round`` but refuses to turn a huge Decimal into an int."""
    if ndigits is None:
        _check_decimal(number)
        return round(number)
    return round(number, ndigits)


def _as_integer_ratio_guard(self: Any) -> Any:
    _check_decimal(self)
    return self.as_integer_ratio()


def _safe_repr(value: object) -> str:
    """Like ``repr`` but refuses huge results."""
    _check_render(value)
    return repr(value)


def _safe_ascii(value: object) -> str:
    """Like ``ascii`` but refuses huge results."""
    _check_render(value)
    return ascii(value)


def _safe_range(*args: int) -> range:
    """Like ``range`` but with at most MAX_LENGTH elements."""
    result = range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = MAX_LENGTH + 1
    if length > MAX_LENGTH:
        raise _too_large(f"range of more than {MAX_LENGTH} elements")
    return result


def _safe_sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    """Like ``sum`` but concatenating lists/tuples is size-checked (and linear)."""
    if not isinstance(start, list | tuple):
        return sum(iterable, start)
    total = list(start)
    for item in iterable:
        if not isinstance(item, type(start)):
            raise TypeError(
                f'can only concatenate {type(start).__name__} (not "{type(item).__name__}")'
            )
        if len(total) + len(item) > MAX_LENGTH:
            raise _too_large(f"sequence of more than {MAX_LENGTH} elements")
        total.extend(item)
    return tuple(total) if isinstance(start, tuple) else total


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "@=": operator.imatmul,
}
_INPLACE_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "+=": _check_add,
    "*=": _check_mul,
    "**=": _check_pow,
    "<<=": _check_lshift,
    "%=": _check_mod,
}


def _sb_inplacevar(op: str, target: Any, value: Any) -> Any:
    if op == "+=" and type(target) in _NUMBERS and type(value) in _NUMBERS:
        return target + value  # the common counter case, kept fast
    func = _INPLACE.get(op)
    if func is None:
        raise SandboxError(f"operator {op} is not allowed")
    if op == "+=" and isinstance(target, list):  # list += any iterable: size it first
        if not hasattr(value, "__len__"):
            value = list(value)
        if len(target) + len(value) > MAX_LENGTH:
            raise _too_large(f"sequence of more than {MAX_LENGTH} elements")
    _INPLACE_CHECKS.get(op, _no_check)(target, value)
    return func(target, value)


def _no_check(a: Any, b: Any) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Guarded attribute access, items, writes
# ---------------------------------------------------------------------------------------------


def _pad_guard(method: str) -> Callable[..., Any]:
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > MAX_LENGTH:
            raise _too_large(f"text of more than {MAX_LENGTH} characters")
        return getattr(self, method)(*args, **kwargs)

    return guarded


def _expandtabs_guard(self: Any, *args: Any, **kwargs: Any) -> Any:
    tabsize = args[0] if args else kwargs.get("tabsize", 8)
    tab = "\t" if isinstance(self, str) else b"\t"
    if isinstance(tabsize, int) and len(self) + self.count(tab) * max(tabsize, 0) > MAX_LENGTH:
        raise _too_large(f"text of more than {MAX_LENGTH} characters")
    return self.expandtabs(*args, **kwargs)


def _replace_guard(self: Any, *args: Any, **kwargs: Any) -> Any:
    if len(args) >= 2 and isinstance(args[0], str | bytes) and isinstance(args[1], str | bytes):
        old: Any = args[0]
        new: Any = args[1]
        if len(new) > len(old) and type(old) is type(new) is type(self):
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            hits = self.count(old) if old else len(self) + 1
            if isinstance(count, int) and count >= 0:
                hits = min(hits, count)
            if len(self) + hits * (len(new) - len(old)) > MAX_LENGTH:
                raise _too_large(f"text of more than {MAX_LENGTH} characters")
    return self.replace(*args, **kwargs)


def _join_guard(self: Any, iterable: Iterable[Any]) -> Any:
    items = list(iterable)
    size = len(self) * max(len(items) - 1, 0)
    size += sum(len(item) for item in items if isinstance(item, str | bytes | bytearray))
    if size > MAX_LENGTH:
        raise _too_large(f"text of more than {MAX_LENGTH} characters")
    return self.join(items)


def _translate_guard(self: Any, *args: Any, **kwargs: Any) -> Any:
    table = args[0] if args else kwargs.get("table")
    if isinstance(self, str) and isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        if len(self) * longest > MAX_LENGTH:
            raise _too_large(f"text of more than {MAX_LENGTH} characters")
    return self.translate(*args, **kwargs)


def _extend_guard(self: Any, iterable: Iterable[Any]) -> None:
    items: Any = iterable if hasattr(iterable, "__len__") else list(iterable)
    if len(self) + len(items) > MAX_LENGTH:
        raise _too_large(f"sequence of more than {MAX_LENGTH} elements")
    self.extend(items)


def _to_bytes_guard(self: Any, *args: Any, **kwargs: Any) -> Any:
    length = args[0] if args else kwargs.get("length", 1)
    if isinstance(length, int) and length > MAX_LENGTH:
        raise _too_large(f"bytes of more than {MAX_LENGTH} elements")
    return self.to_bytes(*args, **kwargs)


_TEXT = (str, bytes)
_METHOD_GUARDS: dict[str, tuple[tuple[type, ...], Callable[..., Any]]] = {
    "ljust": (_TEXT, _pad_guard("ljust")),
    "rjust": (_TEXT, _pad_guard("rjust")),
    "center": (_TEXT, _pad_guard("center")),
    "zfill": (_TEXT, _pad_guard("zfill")),
    "expandtabs": (_TEXT, _expandtabs_guard),
    "replace": (_TEXT, _replace_guard),
    "join": (_TEXT, _join_guard),
    "translate": (_TEXT, _translate_guard),
    "extend": ((list,), _extend_guard),
    "to_bytes": ((int,), _to_bytes_guard),
    "as_integer_ratio": ((Decimal,), _as_integer_ratio_guard),
}
_FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro"}) | INSPECT_ATTRIBUTES


def _sb_getattr(obj: Any, name: str) -> Any:
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise SandboxError(
            f'attribute "{name}" is not allowed (names starting with "_" are reserved)'
        )
    if name in _FORBIDDEN_ATTRIBUTES:
        is_text = isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
        if name in ("format", "format_map"):
            if is_text:
                raise SandboxError(f"str.{name} is not allowed; use an f-string instead")
        else:
            raise SandboxError(f'attribute "{name}" is not allowed')
    value = getattr(obj, name)
    guard = _METHOD_GUARDS.get(name)
    if guard is not None:
        kinds, func = guard
        if isinstance(obj, kinds):
            return types.MethodType(func, obj)
        if isinstance(obj, type) and issubclass(obj, kinds):
            return func
    return value


def _sb_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _sb_write(obj: Any) -> Any:
    if type(obj) in (dict, list):
        return obj
    raise SandboxError(
        f"cannot change {type(obj).__name__} objects (only dicts and lists can be changed)"
    )


def _sb_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class _DiscardingPrinter:
    """Target of ``print`` inside the sandbox: the output is dropped."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def __call__(self) -> str:
        return ""

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        return None


# ---------------------------------------------------------------------------------------------
# Builtins and helpers
# ---------------------------------------------------------------------------------------------


def _forbidden(name: str) -> Callable[..., NoReturn]:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise SandboxError(f'"{name}" is not allowed')

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


_UNSAFE_EXCEPTIONS = {
    *("BaseException", "BaseExceptionGroup", "GeneratorExit", "KeyboardInterrupt", "SystemExit"),
}
_ALLOWED_BUILTINS = [
    *("Ellipsis", "False", "None", "True", "abs", "all", "any", "bin", "bool", "callable"),
    *("chr", "complex", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "hash"),
    *("hex", "int", "isinstance", "issubclass", "len", "list", "map", "max", "min", "oct"),
    *("ord", "reversed", "round", "set", "slice", "sorted", "str", "tuple", "zip"),
]


def _make_builtins() -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in [*safe_builtins.items(), *vars(builtins).items()]:
        is_exception = isinstance(value, type) and issubclass(value, BaseException)
        if is_exception and name not in _UNSAFE_EXCEPTIONS and not name.startswith("_"):
            result[name] = value
    for name in _ALLOWED_BUILTINS:
        result[name] = getattr(builtins, name)
    result.update(
        range=_safe_range,
        pow=_sb_pow,
        round=_safe_round,
        sum=_safe_sum,
        repr=_safe_repr,
        ascii=_safe_ascii,
    )
    for name in (
        *_FORBIDDEN_CALLS,
        "aiter",
        "anext",
        "bytearray",
        "bytes",
        "classmethod",
        "format",
        "hasattr",
        "id",
        "iter",
        "next",
        "print",
        "property",
        "staticmethod",
    ):
        result.setdefault(name, _forbidden(name))
    return result


_BUILTINS: dict[str, Any] = _make_builtins()

DEFAULT_HELPERS: dict[str, Any] = {
    "datetime": datetime,
    "date": date,
    "timedelta": timedelta,
    "Decimal": Decimal,
}
"""Helpers every script and expression can use (the ``helpers`` argument adds/overrides)."""

_STATIC_GUARDS: dict[str, Any] = {
    "_getattr_": _sb_getattr,
    "_getitem_": _sb_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _sb_write,
    "_inplacevar_": _sb_inplacevar,
    "_apply_": _sb_apply,
    "_print_": _DiscardingPrinter,
    "_sb_add_": _sb_add,
    "_sb_mul_": _sb_mul,
    "_sb_pow_": _sb_pow,
    "_sb_lshift_": _sb_lshift,
    "_sb_mod_": _sb_mod,
    "_sb_format_": _sb_format,
    "_sb_str_": _sb_str,
    "_sb_int_": _sb_int,
}
_RESERVED = frozenset({*_STATIC_GUARDS, _CHECK, "_print", "__builtins__"})


def _is_reserved(key: str) -> bool:
    return key in _RESERVED or (key.startswith("_") and key != "_")


def _is_code_or_object(value: object) -> bool:
    """True for values that are not task data: functions, classes, modules, iterators."""
    return callable(value) or isinstance(value, types.ModuleType | Iterator)


# ---------------------------------------------------------------------------------------------
# Time limit
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The environment and the script engine
# ---------------------------------------------------------------------------------------------


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

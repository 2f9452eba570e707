"""Compile-time policy: the RestrictedPython transformer and the cached compiler.

Besides refusing what scripts may not write, the transformer rewrites size-sensitive operators
and ``str``/``int`` calls into calls of the ``_sb_*_`` guards that :mod:`engine.sandbox.guards`
puts in every namespace, and puts a time-out check at the top of every loop body and exception
handler.
"""

from __future__ import annotations

import ast
import functools
import re
import threading
import types
import warnings
from typing import Any, Literal, TypeVar, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from engine.sandbox.errors import SandboxError

FILENAME = "<string>"
"""Code file name; SpiffWorkflow looks for it in tracebacks to report the failing line."""

Mode = Literal["eval", "exec"]

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

"""Runtime guards: attribute, item and write access, size-guarded methods, the builtins."""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NoReturn

from RestrictedPython import safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from engine.sandbox.errors import SandboxError, _too_large
from engine.sandbox.operators import (
    _safe_ascii,
    _safe_range,
    _safe_repr,
    _safe_round,
    _safe_sum,
    _sb_add,
    _sb_format,
    _sb_inplacevar,
    _sb_int,
    _sb_lshift,
    _sb_mod,
    _sb_mul,
    _sb_pow,
    _sb_str,
)
from engine.sandbox.policy import _CHECK, _FORBIDDEN_CALLS
from engine.sandbox.sizes import MAX_LENGTH, _check_decimal

# ---------------------------------------------------------------------------------------------
# Size-guarded methods
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


def _as_integer_ratio_guard(self: Any) -> Any:
    _check_decimal(self)
    return self.as_integer_ratio()


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


# ---------------------------------------------------------------------------------------------
# Attribute access, items, writes
# ---------------------------------------------------------------------------------------------


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
# Builtins and the guards of every namespace
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

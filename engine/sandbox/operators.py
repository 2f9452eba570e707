"""Size-guarded operators, f-string formatting and the size-guarded replacements of builtins."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from engine.sandbox.errors import SandboxError, _too_large
from engine.sandbox.sizes import (
    MAX_LENGTH,
    MAX_POW_MOD_BITS,
    _check_decimal,
    _check_int_bits,
    _check_render,
    _check_repeat,
    _data_size,
)

_SEQUENCES = (str, bytes, bytearray, list, tuple)
_NUMBERS = (int, float)


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

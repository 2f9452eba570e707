"""Size limits and size accounting: how large a value (or its text) is, before it is built."""

from __future__ import annotations

import math
import types
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from engine.sandbox.errors import SandboxError, _too_large

MAX_LENGTH = 1_000_000
"""Most elements/characters a single operation may produce (strings, lists, ranges…)."""
MAX_INT_BITS = 100_000
"""Largest integer (in bits) an operation may produce."""
MAX_INT_DIGITS = int(MAX_INT_BITS * math.log10(2)) + 1
"""The same limit in decimal digits (for Decimal values turned into integers)."""
MAX_POW_MOD_BITS = 4_096
"""Largest operands of a three-argument ``pow``."""

_CONTAINERS = (list, tuple, set, frozenset, dict)
_SCALARS = (str, int, float, bool, type(None), Decimal, datetime, date, dtime, timedelta)


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


def _is_code_or_object(value: object) -> bool:
    """True for values that are not task data: functions, classes, modules, iterators."""
    return callable(value) or isinstance(value, types.ModuleType | Iterator)

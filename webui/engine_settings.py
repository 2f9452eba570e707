"""Engine settings from the environment (this layer is the only one that reads it).

JENJANG_MESSAGE_TTL_DAYS     how long a message nothing waits for is kept (default 30)
JENJANG_TIMER_MAX_ATTEMPTS   failed tries of a timer job before the instance goes to error (5)
JENJANG_TIMER_BACKOFF_SECONDS  wait before the first retry, doubling after each (60)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from engine import settings
from engine.errors import InvalidInput

VARIABLES: dict[str, tuple[str, Callable[[Any], object]]] = {
    "JENJANG_MESSAGE_TTL_DAYS": ("message_ttl", lambda v: timedelta(days=v)),
    "JENJANG_TIMER_MAX_ATTEMPTS": ("timer_max_attempts", int),
    "JENJANG_TIMER_BACKOFF_SECONDS": ("timer_backoff", lambda v: timedelta(seconds=v)),
}


def configure_from_env() -> settings.Settings:
    """Apply the JENJANG_* engine settings set in the environment; a bad value names it."""
    values: dict[str, object] = {}
    for variable, (name, convert) in VARIABLES.items():
        text = os.environ.get(variable)
        if text is None or text.strip() == "":
            continue
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(f"{variable}='{text}' is not a number") from None
        if number <= 0:
            raise InvalidInput(f"{variable}='{text}' must be greater than 0")
        if name == "timer_max_attempts" and number != int(number):
            raise InvalidInput(f"{variable}='{text}' must be a whole number")
        values[name] = convert(number if name != "timer_max_attempts" else int(number))
    return settings.configure(**values)

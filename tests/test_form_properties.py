"""Every registered task form, fed random and hostile values (hypothesis): never an exception,
always either clean task data or a message per field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms import registry
from forms.base import FORM_ERRORS
from tests.strategies import data_for, value

KEYS = registry.registered_keys()
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fields_of(form_key: str) -> list[str]:
    """The field names of a registered form."""
    cls = registry.form_class(form_key)
    assert cls is not None
    return registry._field_names(cls)


def check_result(form_key: str, data: Any, files: Any = None, locale: str = "id") -> None:
    """The form's answer is clean data of its own fields, or one or more messages per field."""
    result = registry.validate(form_key, data, files, locale=locale)
    if result.ok:
        assert result.errors == {}
        assert set(result.data) <= set(fields_of(form_key)), result.data
        json.dumps(result.data, allow_nan=False)  # storable as task data
    else:
        assert result.errors, form_key
        for field, messages in result.errors.items():
            assert field == FORM_ERRORS or field in fields_of(form_key) or field in data
            assert messages and all(isinstance(m, str) and m.strip() for m in messages)


def test_every_form_is_covered() -> None:
    assert len(KEYS) >= 40  # one per user task of the ASN processes


@pytest.mark.parametrize("form_key", KEYS)
def test_a_form_answers_hostile_values_with_data_or_messages(form_key: str) -> None:
    @PROPERTY
    @given(data=data_for(fields_of(form_key)), locale=st.sampled_from(["id", "en"]))
    def run(data: dict[str, Any], locale: str) -> None:
        check_result(form_key, data, locale=locale)

    run()


@settings(max_examples=60, deadline=None)
@given(form_key=st.sampled_from(KEYS), data=value)
def test_a_submission_of_any_shape_is_refused_with_a_message(form_key: str, data: Any) -> None:
    if data is None or isinstance(data, dict):  # None is an empty submission
        check_result(form_key, data or {})
    else:
        result = registry.validate(form_key, data)
        assert not result.ok and result.errors[FORM_ERRORS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form_key=st.sampled_from(KEYS),
    name=st.text(max_size=60),
    content=st.binary(max_size=2000),
    field=st.text(max_size=20),
)
def test_uploads_with_hostile_names_and_contents_are_checked_not_trusted(
    form_key: str, name: str, content: bytes, field: str
) -> None:
    fields = fields_of(form_key)
    target = fields[0] if fields and field == "" else field
    result = registry.validate(form_key, {}, {target: (name, content)})
    if result.ok:
        for item in result.data.values():
            if isinstance(item, dict) and "nama" in item:  # a stored document's description
                assert "/" not in item["nama"] and "\\" not in item["nama"]
    else:
        assert all(messages for messages in result.errors.values())

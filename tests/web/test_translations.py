"""Every text of the web app (Python and templates) is in both catalogues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEBUI = Path(__file__).resolve().parents[2] / "webui"
KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "_l": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
}


def _singular(msgid: Any) -> str:
    return str(msgid[0] if isinstance(msgid, tuple | list) else msgid)


@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_text_of_the_web_app_is_translated(locale: str) -> None:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    extracted = list(extract_from_dir(str(WEBUI), method_map=method_map, keywords=KEYWORDS))
    with (WEBUI / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=locale)
    translated = {
        _singular(m.id)
        for m in catalogue
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy
    }
    missing = sorted(
        {
            f"{path}: {_singular(msgid)}"
            for path, _, msgid, *_ in extracted
            if _singular(msgid) not in translated
        }
    )
    assert len(extracted) > 300
    assert missing == []


@pytest.mark.parametrize("locale", ["id", "en"])
def test_web_translations_keep_their_placeholders(locale: str) -> None:
    with (WEBUI / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=locale)
    assert [problem for problem in catalogue.check() if problem[1]] == []

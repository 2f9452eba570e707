"""Translations for the forms: the `jenjang` gettext domain, with WTForms' own messages behind it.

Msgids are English; Indonesian (``id``) is the default display language. The catalogues live
in ``forms/translations/<locale>/LC_MESSAGES/jenjang.po`` and are compiled with
``pybabel compile -d forms/translations -D jenjang``. A checkout where that has not run yet
still works: the first lookup for a locale compiles a missing or stale ``.mo`` next to its
``.po`` (or in memory, when that directory is read-only).

Text that a form shows is written ``lazy_gettext("English text")`` (imported as ``_l``): the
string is looked up in the form's locale when the form is built (labels, descriptions,
choices) or when it reports its errors, not when the module is imported.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import io
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from wtforms.i18n import get_builtin_gnu_translations

DOMAIN = "jenjang"
LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


class Translator(Protocol):
    """Anything with gettext: a translations object or a bound WTForms field."""

    def gettext(self, string: str, /) -> str: ...


class LazyString(str):
    """Text translated when a form of some locale shows it.

    As a plain ``str`` it is the English source text (with its parameters filled in), so it
    can go wherever WTForms expects a string; `localize` gives the translation.
    """

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, params: Mapping[str, object] | None = None) -> LazyString:
        """Keep the msgid and its ``%(name)s`` parameters for a later lookup."""
        values = dict(params or {})
        self = super().__new__(cls, msgid % values if values else msgid)
        self.msgid = msgid
        self.params = values
        return self

    def __repr__(self) -> str:
        return f"lazy_gettext({self.msgid!r})"


def lazy_gettext(msgid: str, **params: object) -> LazyString:
    """Mark text for translation; it is looked up in the locale of the form that shows it."""
    return LazyString(msgid, params)


def localize(translator: Translator, message: str) -> str:
    """The text of `message` in the translator's locale (plain strings are kept as given)."""
    if isinstance(message, LazyString):
        text = translator.gettext(message.msgid)
        return text % message.params if message.params else text
    return str(message)


def gettext(message: str, locale: str = DEFAULT_LOCALE) -> str:
    """Translate a msgid (or a `lazy_gettext` string) into `locale`."""
    text = message if isinstance(message, LazyString) else LazyString(message)
    return localize(translations(locale), text)


def normalize_locale(locale: str) -> str:
    """``"id"``, ``"id_ID"`` or ``"id-ID"`` -> ``"id"``; an unsupported language is an error."""
    language = locale.replace("-", "_").split("_")[0].lower()
    if language not in LOCALES:
        supported = ", ".join(LOCALES)
        raise ValueError(f"unsupported locale {locale!r}; supported: {supported}")
    return language


def translations(locale: str = DEFAULT_LOCALE) -> _gettext.NullTranslations:
    """Our catalogue for `locale`, falling back to WTForms' own catalogue, then to the msgid."""
    return _translations(normalize_locale(locale))


@cache
def _translations(locale: str) -> _gettext.NullTranslations:
    po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    ours = _gettext.GNUTranslations(io.BytesIO(compiled_catalogue(po_path)))
    # WTForms ships catalogues for some locales (English), none for Indonesian: ours has those.
    with contextlib.suppress(OSError):
        ours.add_fallback(get_builtin_gnu_translations([locale]))
    return ours


def compiled_catalogue(po_path: Path) -> bytes:
    """The ``.mo`` bytes for a ``.po`` file, compiled and saved beside it when missing or stale."""
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and (
        not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        return mo_path.read_bytes()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=po_path.parent.parent.name, domain=po_path.stem)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    data = buffer.getvalue()
    # A read-only install: the catalogue compiled in memory serves this process.
    with contextlib.suppress(OSError):
        _write_atomically(mo_path, data)
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    # A temporary file and a rename: a concurrent reader sees the old file or the new one,
    # never half of one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

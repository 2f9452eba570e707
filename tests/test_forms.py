"""Task forms: messages per locale, the shared fields, uploads, the fallbacks and the registry."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from wtforms import DateField, SelectMultipleField, TextAreaField
from wtforms.i18n import messages_path
from wtforms.validators import InputRequired, Length

import forms.i18n
from forms import (
    JPEG,
    ChoiceField,
    DateAfter,
    DocumentField,
    FormResult,
    NikField,
    NipField,
    RequiredIf,
    ScoreField,
    TaskForm,
    YesNoField,
    form_class,
    labels,
    register,
    registered_keys,
    validate,
)
from forms.i18n import TRANSLATIONS_DIR, compiled_catalogue, gettext
from forms.i18n import lazy_gettext as _l

PDF_BYTES = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
MB = 1024 * 1024


@register("uji.contoh")
class Contoh(TaskForm):
    """A test-only form with one of each shared field."""

    disetujui = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT)
    alasan = TextAreaField(labels.REASON, [RequiredIf("disetujui", False), Length(max=200)])
    nik = NikField("NIK", required=False)
    nip = NipField("NIP", required=False)
    nilai = ScoreField(_l("Score"), min=0, max=100, required=False)
    tanggal_mulai = DateField(labels.START_DATE, [InputRequired()])
    tanggal_selesai = DateField(labels.END_DATE, [InputRequired(), DateAfter("tanggal_mulai")])


@register("uji.berkas")
class Berkas(TaskForm):
    """A test-only form with several required documents."""

    ktp = DocumentField("KTP")
    ijazah = DocumentField("Ijazah")
    pas_foto = DocumentField("Pas foto", kinds=(JPEG,), required=False)


@register("uji.keputusan")
class Keputusan(TaskForm):
    """A test-only form whose rejection is a choice, and whose dates may be equal."""

    keputusan = ChoiceField(
        labels.DECISION, choices={"setuju": labels.APPROVE, "tolak": labels.REJECT}
    )
    alasan = TextAreaField(labels.REASON, [RequiredIf("keputusan", "tolak")])
    mulai = DateField(labels.START_DATE, [InputRequired()])
    selesai = DateField(labels.END_DATE, [InputRequired(), DateAfter("mulai", allow_equal=True)])


def contoh(**overrides: Any) -> dict[str, Any]:
    """A valid submission of the Contoh form, some values replaced (``...`` leaves one out)."""
    data: dict[str, Any] = {
        "disetujui": True,
        "tanggal_mulai": "2025-03-01",
        "tanggal_selesai": "2025-03-05",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not ...}


def check(data: dict[str, Any], locale: str = "id", key: str = "uji.contoh") -> FormResult:
    """Validate with a test form, and check the answer is JSON both ways."""
    result = validate(key, data, locale=locale)
    assert json.loads(json.dumps(result.data)) == result.data
    return result


# -- messages and locales --------------------------------------------------------------------


def test_messages_are_indonesian_by_default() -> None:
    result = check(contoh(disetujui=..., nilai=101))
    assert not result.ok
    assert result.errors == {
        "disetujui": ["Isian ini wajib diisi."],
        "nilai": ["Angka harus antara 0 dan 100."],
    }


def test_messages_are_english_with_locale_en() -> None:
    result = check(contoh(disetujui=..., nilai=101), locale="en")
    assert result.errors == {
        "disetujui": ["This field is required."],
        "nilai": ["Number must be between 0 and 100."],
    }


def test_regional_locale_names_pick_the_language() -> None:
    assert check(contoh(nilai="x"), locale="en-US").errors["nilai"] == [
        "Not a valid integer value."
    ]
    assert check(contoh(nilai="x"), locale="id_ID").errors["nilai"] == [
        "Nilai bilangan bulat tidak valid."
    ]


def test_an_unsupported_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported locale 'fr'"):
        validate("uji.contoh", contoh(), locale="fr")


def test_labels_descriptions_and_choices_follow_the_locale() -> None:
    indonesian, english = Contoh(locale="id"), Contoh(locale="en")
    assert indonesian.alasan.label.text == "Alasan"
    assert english.alasan.label.text == "Reason"
    assert 'value="false"> <label for="disetujui-1">Tolak</label>' in indonesian.disetujui()
    assert 'value="false"> <label for="disetujui-1">Reject</label>' in english.disetujui()
    assert Berkas(locale="id").ktp.description == "PDF/JPEG, paling besar 2 MB."
    assert Berkas(locale="en").pas_foto.description == "JPEG, at most 2 MB."


def test_gettext_translates_for_the_web_layer() -> None:
    assert gettext("Reason") == "Alasan"
    assert gettext(labels.REASON, "en") == "Reason"
    assert gettext("Text nobody translated") == "Text nobody translated"


# -- NIK, NIP, scores ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nik", "ok"),
    [
        ("320123456789012", False),
        ("3201234567890123", True),
        ("32012345678901234", False),
        ("32012345678901AB", False),
        ("３２０１２３４５６７８９０１２３", False),  # full-width digits are not ASCII digits
        (" 3201234567890123 ", True),
        (3201234567890123, True),
    ],
)
def test_nik_is_exactly_sixteen_digits(nik: Any, ok: bool) -> None:
    result = check(contoh(nik=nik))
    assert result.ok is ok
    if ok:
        assert result.data["nik"] == "3201234567890123"
    else:
        assert result.errors == {"nik": ["NIK harus terdiri dari tepat 16 angka."]}


def test_nip_is_exactly_eighteen_digits() -> None:
    assert check(contoh(nip="198001012005011001")).ok
    assert check(contoh(nip="19800101200501100"), "en").errors == {
        "nip": ["NIP must be exactly 18 digits."]
    }


@pytest.mark.parametrize(("score", "ok"), [(-1, False), (0, True), (100, True), (101, False)])
def test_score_is_within_its_range_inclusive(score: int, ok: bool) -> None:
    result = check(contoh(nilai=score))
    assert result.ok is ok
    assert result.data.get("nilai") == (score if ok else None)


@pytest.mark.parametrize("score", ["7.5", 7.5, "abc", True, "1_0", "٧"])
def test_score_must_be_a_whole_number(score: Any) -> None:
    assert check(contoh(nilai=score)).errors == {"nilai": ["Nilai bilangan bulat tidak valid."]}


def test_an_optional_score_may_be_left_out() -> None:
    assert check(contoh(nilai=None)).data["nilai"] is None
    assert check(contoh(nilai="")).data["nilai"] is None


# -- dates and required-if -------------------------------------------------------------------


def test_end_date_must_come_after_start_date() -> None:
    assert check(contoh(tanggal_selesai="2025-03-02")).ok
    for end in ("2025-03-01", "2025-02-28"):
        assert check(contoh(tanggal_selesai=end)).errors == {
            "tanggal_selesai": ["Harus sesudah Tanggal mulai."]
        }
    assert check(contoh(tanggal_selesai="2025-02-28"), "en").errors == {
        "tanggal_selesai": ["Must be later than Start date."]
    }


def test_dates_may_be_equal_when_allowed() -> None:
    base = {"keputusan": "setuju", "mulai": "2025-03-01"}
    assert check({**base, "selesai": "2025-03-01"}, key="uji.keputusan").ok
    assert check({**base, "selesai": "2025-02-28"}, key="uji.keputusan").errors == {
        "selesai": ["Tidak boleh lebih awal dari Tanggal mulai."]
    }


def test_a_date_must_be_iso() -> None:
    assert check(contoh(tanggal_mulai="01/03/2025")).errors == {
        "tanggal_mulai": ["Nilai tanggal tidak valid."]
    }


def test_rejection_without_a_reason_fails() -> None:
    assert check(contoh(disetujui=False)).errors == {"alasan": ["Isian ini wajib diisi."]}
    assert check(contoh(disetujui="tidak", alasan="   ")).errors == {
        "alasan": ["Isian ini wajib diisi."]
    }


def test_rejection_with_a_reason_passes() -> None:
    result = check(contoh(disetujui=False, alasan="  Anggaran habis. "))
    assert result.ok
    assert (result.data["disetujui"], result.data["alasan"]) == (False, "Anggaran habis.")


def test_approval_needs_no_reason() -> None:
    result = check(contoh(disetujui="ya"))
    assert result.ok
    assert (result.data["disetujui"], result.data["alasan"]) == (True, None)


def test_rejection_by_choice_needs_a_reason() -> None:
    base = {"mulai": "2025-03-01", "selesai": "2025-03-02"}
    assert check({**base, "keputusan": "tolak"}, key="uji.keputusan").errors == {
        "alasan": ["Isian ini wajib diisi."]
    }
    assert check({**base, "keputusan": "tolak", "alasan": "Kuota penuh"}, key="uji.keputusan").ok
    assert check({**base, "keputusan": "mungkin"}, key="uji.keputusan").errors == {
        "keputusan": ["Pilihan tidak valid."]
    }


def test_an_unreadable_yes_no_is_an_error_not_a_no() -> None:
    assert check(contoh(disetujui="maybe")).errors == {"disetujui": ["Pilihan tidak valid."]}


# -- documents -------------------------------------------------------------------------------


def upload(files: dict[str, tuple[str, bytes]], locale: str = "id") -> FormResult:
    """Validate the Berkas form with these files (a valid KTP and ijazah unless replaced)."""
    given = {"ktp": ("ktp.pdf", PDF_BYTES), "ijazah": ("ijazah.jpg", JPEG_BYTES), **files}
    return check_files(given, locale)


def check_files(files: dict[str, tuple[str, bytes]], locale: str = "id") -> FormResult:
    """Validate the Berkas form with exactly these files."""
    result = validate("uji.berkas", {}, files, locale=locale)
    assert json.loads(json.dumps(result.data)) == result.data
    return result


def test_valid_documents_become_descriptions_in_the_task_data() -> None:
    result = upload({})
    assert result.ok
    assert result.data == {
        "ktp": {
            "nama_file": "ktp.pdf",
            "jenis": "application/pdf",
            "ukuran": len(PDF_BYTES),
            "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
        },
        "ijazah": {
            "nama_file": "ijazah.jpg",
            "jenis": "image/jpeg",
            "ukuran": len(JPEG_BYTES),
            "sha256": hashlib.sha256(JPEG_BYTES).hexdigest(),
        },
        "pas_foto": None,
    }


def test_a_pdf_named_jpg_passes_by_its_content() -> None:
    result = upload({"ktp": ("ktp.jpg", PDF_BYTES)})
    assert result.ok
    assert (result.data["ktp"]["nama_file"], result.data["ktp"]["jenis"]) == (
        "ktp.jpg",
        "application/pdf",
    )


@pytest.mark.parametrize(
    "content",
    [b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, b"Surat keterangan, bukan PDF.\n"],
    ids=["exe", "text"],
)
def test_other_content_named_pdf_fails(content: bytes) -> None:
    assert upload({"ktp": ("ktp.pdf", content)}).errors == {
        "ktp": ["Berkas harus berupa dokumen PDF/JPEG."]
    }


def test_a_field_may_take_only_some_kinds() -> None:
    assert upload({"pas_foto": ("foto.jpg", JPEG_BYTES)}).ok
    assert upload({"pas_foto": ("foto.jpg", PDF_BYTES)}, "en").errors == {
        "pas_foto": ["The file must be a document of type JPEG."]
    }


def test_a_document_may_be_two_megabytes_but_no_more() -> None:
    assert upload({"ktp": ("ktp.pdf", PDF_BYTES.ljust(2 * MB, b"\0"))}).ok
    assert upload({"ktp": ("ktp.pdf", PDF_BYTES.ljust(2 * MB + 1, b"\0"))}).errors == {
        "ktp": ["Ukuran berkas melebihi 2 MB."]
    }


def test_an_empty_document_fails() -> None:
    assert upload({"ktp": ("ktp.pdf", b"")}).errors == {"ktp": ["Berkas kosong."]}


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\budi\\Dokumen\\ktp.pdf", "ktp.pdf"),
        ("/tmp/../ktp budi.pdf", "ktp budi.pdf"),
        ("..\\.htaccess", "htaccess"),
        ("ktp\x00.pdf\n", "ktp.pdf"),
        ("../", "dokumen"),
    ],
)
def test_file_names_are_reduced_to_a_safe_basename(name: str, safe: str) -> None:
    assert upload({"ktp": (name, PDF_BYTES)}).data["ktp"]["nama_file"] == safe


def test_each_required_document_is_its_own_field() -> None:
    result = check_files({"ijazah": ("ijazah.pdf", b"")})
    assert result.errors == {"ktp": ["Isian ini wajib diisi."], "ijazah": ["Berkas kosong."]}


def test_a_document_sent_as_data_or_a_file_for_no_document_fails() -> None:
    result = validate(
        "uji.berkas",
        {"ktp": "ktp.pdf"},
        {"ijazah": ("i.pdf", PDF_BYTES), "skck": ("s.pdf", PDF_BYTES)},
    )
    assert result.errors == {
        "ktp": ["Kirim dokumen ini sebagai berkas unggahan."],
        "_form": ["Berkas tidak dikenal: skck."],
    }


# -- unknown keys and odd values -------------------------------------------------------------


def test_unknown_keys_are_rejected_by_name() -> None:
    result = check(contoh(alsan="typo", catatan="x"))
    assert result.errors == {"_form": ["Isian tidak dikenal: alsan, catatan."]}
    assert check(contoh(alsan="typo"), "en").errors == {"_form": ["Unknown fields: alsan."]}


@pytest.mark.parametrize("value", [["3201234567890123"], {"nik": "1"}, float("nan")])
def test_a_value_of_the_wrong_shape_is_invalid_input(value: Any) -> None:
    assert check(contoh(nik=value)).errors == {"nik": ["Masukan tidak valid."]}


def test_a_list_is_taken_only_by_a_multiple_choice_field() -> None:
    class Pilihan(TaskForm):
        hari = SelectMultipleField("Hari", choices={"senin": "Senin", "selasa": "Selasa"})

    assert Pilihan({"hari": ["senin", "selasa"]}).result().data == {"hari": ["senin", "selasa"]}
    assert Pilihan({"hari": "senin"}).result().data == {"hari": ["senin"]}
    assert Pilihan({"hari": ["minggu"]}).result().errors == {
        "hari": ["'minggu' bukan pilihan yang valid untuk isian ini."]
    }


def test_a_submission_that_is_not_an_object_fails() -> None:
    result = validate("uji.contoh", ["disetujui"])  # type: ignore[arg-type]
    assert result.errors["_form"] == ["Data harus berupa objek berisi nama isian dan nilainya."]


def test_to_data_needs_a_valid_form_first() -> None:
    form = Contoh(contoh(nik="1"))
    with pytest.raises(RuntimeError):
        form.to_data()
    assert not form.validate()
    with pytest.raises(RuntimeError):
        form.to_data()


def test_validating_twice_reports_each_problem_once() -> None:
    form = Contoh(contoh(nik="1", salah=1))
    assert not form.validate()
    assert not form.validate()
    assert form.error_messages() == {
        "nik": ["NIK harus terdiri dari tepat 16 angka."],
        "_form": ["Isian tidak dikenal: salah."],
    }


def test_to_data_is_json_with_iso_dates() -> None:
    form = Contoh(contoh(nilai=7, nik="3201234567890123"))
    assert form.validate()
    data = form.to_data()
    assert (
        json.loads(json.dumps(data))
        == data
        == {
            "disetujui": True,
            "alasan": None,
            "nik": "3201234567890123",
            "nip": None,
            "nilai": 7,
            "tanggal_mulai": "2025-03-01",
            "tanggal_selesai": "2025-03-05",
        }
    )


# -- the plain data form ---------------------------------------------------------------------


def test_the_plain_data_form_passes_flat_scalars_through() -> None:
    data = {"catatan": "ok", "jumlah": 3, "nilai": 81.5, "lulus": True, "kosong": None}
    assert validate(None, data) == FormResult(True, data, {})
    assert validate("tidak.terdaftar", data).data == data


def test_the_plain_data_form_refuses_structures_and_long_text() -> None:
    result = validate(None, {"a": [1], "b": {"c": 1}, "d": "x" * 2001, "e": "x" * 2000})
    assert result.errors == {
        "a": ["Di sini hanya boleh teks, angka, true/false, atau null."],
        "b": ["Di sini hanya boleh teks, angka, true/false, atau null."],
        "d": ["Isian tidak boleh lebih dari 2000 karakter."],
    }
    assert validate(None, {"d": "x" * 2001}, locale="en").errors == {
        "d": ["Field cannot be longer than 2000 characters."]
    }


@pytest.mark.parametrize("key", ["_rahasia", "1a", "nama-lengkap", "class", "date", "Decimal"])
def test_the_plain_data_form_refuses_bad_names(key: str) -> None:
    result = validate(None, {key: 1, "baik": 2})
    assert not result.ok
    assert result.errors["_form"][0].startswith(f"Nama isian tidak valid: {key}.")


def test_the_plain_data_form_takes_at_most_a_hundred_keys() -> None:
    assert validate(None, {f"k{i}": i for i in range(100)}).ok
    assert validate(None, {f"k{i}": i for i in range(101)}).errors == {
        "_form": ["Terlalu banyak isian: paling banyak 100."]
    }


def test_the_plain_data_form_takes_no_files() -> None:
    result = validate(None, {}, {"ktp": ("ktp.pdf", PDF_BYTES)}, locale="en")
    assert result.errors == {"_form": ["Unknown files: ktp."]}


# -- forms from Camunda fields ---------------------------------------------------------------

CAMUNDA_FIELDS: list[dict[str, Any]] = [
    {"id": "jumlah", "label": "Jumlah peserta", "type": "long", "options": []},
    {"id": "hadir", "label": "Hadir", "type": "boolean", "options": []},
    {"id": "tanggal", "label": "Tanggal", "type": "date", "options": []},
    {
        "id": "hasil",
        "label": "Hasil",
        "type": "enum",
        "options": [{"id": "lulus", "name": "Lulus"}, {"id": "gagal", "name": "Tidak lulus"}],
    },
    {"id": "catatan", "label": "Catatan", "type": "string", "options": []},
]


def camunda(data: dict[str, Any], locale: str = "id") -> FormResult:
    """Validate against the Camunda fields above (no form key registered)."""
    result = validate("tanpa.form", data, locale=locale, fields=CAMUNDA_FIELDS)
    assert json.loads(json.dumps(result.data)) == result.data
    return result


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"jumlah": "42", "hadir": "true", "tanggal": "2025-06-30", "hasil": "lulus"},
            {"jumlah": 42, "hadir": True, "tanggal": "2025-06-30", "hasil": "lulus"},
        ),
        (
            {"jumlah": 42, "hadir": False, "hasil": "gagal", "catatan": " ok "},
            {"jumlah": 42, "hadir": False, "tanggal": None, "hasil": "gagal", "catatan": "ok"},
        ),
        ({"hadir": "ya"}, {"jumlah": None, "hadir": True, "tanggal": None, "hasil": None}),
        ({}, {"jumlah": None, "hadir": False, "tanggal": None, "hasil": None}),
    ],
)
def test_camunda_fields_convert_their_types(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = camunda(given)
    assert result.ok
    assert result.data == {"catatan": None, **expected}


def test_camunda_fields_report_bad_values() -> None:
    bad = {"jumlah": "4.2", "hadir": "mungkin", "tanggal": "30/06/2025", "hasil": "remedial"}
    assert camunda(bad).errors == {
        "jumlah": ["Nilai bilangan bulat tidak valid."],
        "hadir": ["Pilihan tidak valid."],
        "tanggal": ["Nilai tanggal tidak valid."],
        "hasil": ["Pilihan tidak valid."],
    }
    assert camunda({"jumlah": "x", "lain": 1}, "en").errors == {
        "jumlah": ["Not a valid integer value."],
        "_form": ["Unknown fields: lain."],
    }


def test_a_camunda_field_may_be_required() -> None:
    fields = [{"id": "nilai", "label": "Nilai", "type": "long", "required": True}]
    assert validate(None, {}, fields=fields).errors == {"nilai": ["Isian ini wajib diisi."]}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ([{"id": "x", "type": "double"}], "type 'double' is not one of"),
        ([{"id": "_x", "type": "string"}], "field id '_x' cannot be a task data name"),
        ([{"id": "data", "type": "string"}], "field id 'data' cannot be a task data name"),
        ([{"id": "x", "type": "enum", "options": []}], "an enum needs at least one value"),
        ([{"id": "x"}, {"id": "x"}], "field id 'x' is used twice"),
    ],
)
def test_a_broken_camunda_definition_is_a_form_error(
    fields: list[dict[str, Any]], reason: str
) -> None:
    result = validate(None, {"x": "1"}, fields=fields)
    assert not result.ok
    assert result.errors["_form"][0].startswith("Formulir tugas ini salah didefinisikan")
    assert reason in result.errors["_form"][0]


# -- the registry ----------------------------------------------------------------------------


def test_registered_forms_are_found_by_key() -> None:
    assert form_class("uji.contoh") is Contoh
    assert Contoh.form_key == "uji.contoh"
    assert form_class("uji.tidak_ada") is None
    assert form_class(None) is None
    assert {"uji.berkas", "uji.contoh", "uji.keputusan"} <= set(registered_keys())
    assert registered_keys() == sorted(registered_keys())


def test_a_registered_key_wins_over_camunda_fields() -> None:
    assert validate("uji.contoh", contoh(), fields=CAMUNDA_FIELDS).ok


@pytest.mark.parametrize("key", ["pelatihan", "Pelatihan.Setuju", "a.b.c", "a. b"])
def test_a_form_key_must_be_process_dot_task(key: str) -> None:
    with pytest.raises(ValueError, match=r"is not '<process>\.<task>'"):
        register(key)


def test_a_key_cannot_be_registered_to_two_forms() -> None:
    with pytest.raises(ValueError, match="already"):

        @register("uji.contoh")
        class Lain(TaskForm):
            alasan = TextAreaField("Alasan")


def test_field_names_must_be_usable_as_task_data() -> None:
    with pytest.raises(ValueError, match=r"\['date'\]"):

        @register("uji.nama_buruk")
        class NamaBuruk(TaskForm):
            date = DateField("Tanggal")


# -- catalogues ------------------------------------------------------------------------------


def catalogue(locale: str) -> Any:
    """The .po catalogue of `locale`, parsed."""
    with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "jenjang.po").open("rb") as po:
        return read_po(po, locale=locale)


def msgids(messages: Any) -> set[str]:
    """The (singular) msgids of a catalogue or an extraction."""
    ids = (m.id if hasattr(m, "id") else m[2] for m in messages)
    return {i[0] if isinstance(i, tuple | list) else i for i in ids if i}


@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_text_of_the_forms_code_is_translated(locale: str) -> None:
    """Every msgid of every module in forms/ (shared and per process) is in both catalogues."""
    forms_dir = Path(forms.i18n.__file__).parent
    keywords = {"lazy_gettext": None, "_l": None, "gettext": None, "ngettext": (1, 2)}
    extracted = list(extract_from_dir(str(forms_dir), keywords=keywords))
    scanned = {Path(m[0]).stem for m in extracted}
    with (Path(messages_path()) / "wtforms.pot").open("rb") as pot:
        wtforms_own = msgids(read_po(pot))
    translated = {
        m.id[0] if isinstance(m.id, tuple) else m.id
        for m in catalogue(locale)
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy
    }
    missing = {
        module: sorted(msgids(m for m in extracted if Path(m[0]).stem == module) - translated)
        for module in sorted(scanned)
    }
    assert {"fields", "labels", "pelatihan"} <= scanned
    assert "This field is required." in msgids(extracted)
    assert {module: ids for module, ids in missing.items() if ids} == {}
    assert wtforms_own - translated == set()


@pytest.mark.parametrize("locale", ["id", "en"])
def test_translations_keep_their_placeholders(locale: str) -> None:
    assert [problem for problem in catalogue(locale).check() if problem[1]] == []


def copy_catalogue(tmp_path: Path) -> Path:
    """The Indonesian .po copied into a fresh catalogue folder, without its .mo."""
    po = tmp_path / "id" / "LC_MESSAGES" / "jenjang.po"
    po.parent.mkdir(parents=True)
    shutil.copy(TRANSLATIONS_DIR / "id" / "LC_MESSAGES" / "jenjang.po", po)
    return po


def test_a_missing_catalogue_is_compiled_next_to_its_po(tmp_path: Path) -> None:
    po = copy_catalogue(tmp_path)
    data = compiled_catalogue(po)
    assert po.with_suffix(".mo").read_bytes() == data
    assert b"Isian ini wajib diisi." in data


def test_a_stale_catalogue_is_compiled_again(tmp_path: Path) -> None:
    po = copy_catalogue(tmp_path)
    compiled_catalogue(po)
    mo_time = po.with_suffix(".mo").stat().st_mtime
    po.write_text(po.read_text().replace("Isian ini wajib diisi.", "Wajib diisi."))
    os.utime(po, (mo_time + 10, mo_time + 10))
    assert b"Wajib diisi." in compiled_catalogue(po)
    assert b"Wajib diisi." in po.with_suffix(".mo").read_bytes()


def test_a_read_only_catalogue_folder_compiles_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po = copy_catalogue(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(forms.i18n.tempfile, "mkstemp", refuse)
    assert b"Isian ini wajib diisi." in compiled_catalogue(po)
    assert not po.with_suffix(".mo").exists()
    assert list(po.parent.iterdir()) == [po]

"""The diagram editor in Chromium: edit, validate, deploy; problems on the diagram; the panel."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deploy import latest_processes
from engine.drafts import DiagramDraft
from engine.models import Instance, TaskModel
from engine.runtime import complete_task, start_instance
from engine.sources import read_source
from engine.users import get_user
from engine.validation import task_metadata
from forms.registry import registered_keys
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_journeys import log_in
from tests.conftest import CORPUS

CAMUNDA_FILE = CORPUS / "spiffworkflow/tests/SpiffWorkflow/camunda/data/random_fact.bpmn"


def open_editor(page: Page, server: LiveServer, path: str) -> None:
    """Open an editor page and wait until the modeler has imported the diagram."""
    page.goto(server.url(path))
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached(timeout=15_000)


def select_element(page: Page, element_id: str) -> None:
    """Select a diagram element, as a click on it does (the palette may cover small shapes)."""
    page.evaluate(
        """(id) => {
            const modeler = jenjangEditor.modeler();
            const element = modeler.get('elementRegistry').get(id);
            modeler.get('selection').select(element);
            modeler.get('canvas').scrollToElement(element);
        }""",
        element_id,
    )
    expect(page.locator(".bio-properties-panel-header-label")).to_be_visible()


def wait_for_model(page: Page, text: str, seconds: float = 10.0) -> None:
    """Wait until the diagram model holds `text`. A field's value is written to the model on
    its change event, and the panel re-renders after each change: typing into a field while
    that re-render is pending can be undone by it, so a test checks the model, not the field."""
    deadline = time.monotonic() + seconds
    while True:
        xml = page.evaluate("async () => (await jenjangEditor.modeler().saveXML()).xml")
        if text in xml:
            return
        assert time.monotonic() < deadline, f"the diagram never held {text!r}"
        page.wait_for_timeout(50)


def formasi(kode: str) -> dict[str, object]:
    """The start data of a selection for one formasi."""
    return {
        "formasi_id": kode,
        "jabatan": "Analis Data Ahli Pertama",
        "unit": "Diskominfo",
        "kuota": 1,
        "jenis_seleksi": "cpns",
        "pendidikan_min": "S1",
        "dokumen_wajib": [],
    }


def open_task(db: Session, instance_id: int, element_id: str) -> TaskModel:
    """The open task of an instance at an element."""
    row = db.scalar(
        select(TaskModel).where(
            TaskModel.instance_id == instance_id,
            TaskModel.element_id == element_id,
            TaskModel.completed_at.is_(None),
        )
    )
    assert row is not None, element_id
    return row


def test_owner_renames_a_task_and_deploys_v2_while_v1_instances_run_on(
    page: Page, live_server: LiveServer
) -> None:
    with live_server.session() as db:
        old = start_instance(db, "seleksi_formasi", get_user(db, "panitia1"), formasi("F-009"))
        db.commit()
        old_id = old.id

    log_in(page, live_server, "pemilik1")
    page.get_by_role("link", name="Editor diagram").click()
    page.get_by_role("link", name="seleksi_formasi").click()
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached(timeout=15_000)
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark stays

    select_element(page, "tetapkan_jadwal")
    page.get_by_text("General", exact=True).click()
    name = page.locator("#bio-properties-panel-name")
    expect(name).to_have_value("Buka pendaftaran")
    name.fill("Buka pendaftaran formasi")
    expect(page.locator("#editor-status")).to_have_text("Ada perubahan yang belum disimpan")

    page.get_by_role("button", name="Validasi").click()
    expect(page.locator("#editor-status")).to_have_text(
        "Tidak ada masalah: diagram ini dapat di-deploy."
    )
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#editor-status")).to_contain_text("seleksi_formasi versi 2")

    with live_server.session() as db:
        v2 = latest_processes(db)["seleksi_formasi"]
        assert v2.version == 2
        assert v2.task_meta["tetapkan_jadwal"]["name"] == "Buka pendaftaran formasi"
        panitia = get_user(db, "panitia1")
        new = start_instance(db, "seleksi_formasi", panitia, formasi("F-010"))
        db.commit()
        assert new.process_version.version == 2
        assert open_task(db, new.id, "tetapkan_jadwal").name == "Buka pendaftaran formasi"

        # The instance started before the deploy stays on v1 and goes on running there.
        task = open_task(db, old_id, "tetapkan_jadwal")
        assert task.name == "Buka pendaftaran"
        opens = date.today()
        schedule = {"dibuka": opens.isoformat(), "ditutup": (opens + timedelta(14)).isoformat()}
        complete_task(db, task.id, panitia, schedule)
        db.commit()
        old_after = db.get(Instance, old_id)
        assert old_after is not None
        assert old_after.process_version.version == 1
        assert old_after.state in {"running", "waiting"}  # on to the registration timer
        assert old_after.error_message is None
        done = db.get(TaskModel, task.id)
        assert done is not None and done.completed_at is not None


def test_a_diagram_with_an_error_shows_it_on_the_element(
    page: Page, live_server: LiveServer
) -> None:
    log_in(page, live_server, "pemilik1")
    open_editor(page, live_server, "/editor/proses/pelatihan")
    select_element(page, "ajukan_pelatihan")
    assignee = page.locator("#bio-properties-panel-jenjang-assignee")
    expect(assignee).to_have_value("starter")
    assignee.fill("supervisor_of(")
    assignee.press("Enter")
    wait_for_model(page, 'value="supervisor_of("')

    page.get_by_role("button", name="Validasi").click()
    marked = page.locator('.djs-element.jenjang-error[data-element-id="ajukan_pelatihan"]')
    expect(marked).to_have_count(1)
    note = page.locator('.jenjang-problem[data-problem-element="ajukan_pelatihan"]')
    expect(note).to_contain_text("assignee expression does not compile")
    listed = page.locator('#problems li[data-element="ajukan_pelatihan"]')
    expect(listed).to_contain_text("Ajukan pelatihan")
    expect(page.locator("#editor-status")).to_have_text(
        "Ada masalah: perbaiki elemen yang ditandai sebelum deploy."
    )
    listed.get_by_role("button").click()  # brings the element to the middle of the canvas
    screenshot(page, "editor")

    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#editor-status")).to_have_text(
        "Tidak di-deploy: perbaiki masalah yang tercantum."
    )
    with live_server.session() as db:
        assert latest_processes(db)["pelatihan"].version == 1


def test_the_form_key_select_lists_the_forms_and_writes_form_key(
    page: Page, live_server: LiveServer
) -> None:
    log_in(page, live_server, "pemilik1")
    page.goto(live_server.url("/editor/"))
    page.get_by_label("Kunci proses (snake_case, mis. cuti_tahunan)").fill("cuti_tahunan")
    page.get_by_label("Nama proses").fill("Cuti tahunan")
    page.get_by_role("button", name="Diagram baru").click()
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached(timeout=15_000)

    select_element(page, "tugas_pertama")
    expect(page.locator("#bio-properties-panel-jenjang-role")).to_have_text("Pegawai → pegawai")
    form_key = page.locator("#bio-properties-panel-jenjang-formKey")
    options = form_key.locator("option").all_inner_texts()
    assert options[1:] == registered_keys()
    form_key.select_option("pelatihan.isi_umpan_balik")
    wait_for_model(page, 'value="pelatihan.isi_umpan_balik"')
    due = page.locator("#bio-properties-panel-jenjang-dueDate")
    due.fill("P5D")
    due.press("Enter")
    wait_for_model(page, 'value="P5D"')
    page.get_by_role("button", name="Simpan draf").click()
    expect(page.locator("#editor-status")).to_have_text("Draf tersimpan.")

    with live_server.session() as db:
        draft = db.scalar(select(DiagramDraft).where(DiagramDraft.file_name == "cuti_tahunan.bpmn"))
        assert draft is not None
        assert re.search(
            r'<spiffworkflow:property name="formKey" value="pelatihan.isi_umpan_balik"\s*/>',
            draft.xml,
        )
        doc, problems = read_source(draft.file_name, draft.xml.encode())
        assert doc is not None, problems
        meta = task_metadata(doc, [])["tugas_pertama"]
        assert meta["form_key"] == "pelatihan.isi_umpan_balik"
        assert (meta["due"], meta["assignee"], meta["role"]) == ("P5D", "starter", "pegawai")


def test_an_imported_camunda_file_gets_jenjang_properties(
    page: Page, live_server: LiveServer
) -> None:
    log_in(page, live_server, "pemilik1")
    page.goto(live_server.url("/editor/"))
    page.get_by_label("Berkas", exact=True).set_input_files(str(CAMUNDA_FILE))
    page.get_by_role("button", name="Impor", exact=True).click()
    expect(page.get_by_text("random_fact.bpmn telah diimpor sebagai draf.")).to_be_visible()
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached(timeout=15_000)

    select_element(page, "Task_User_Select_Type")
    form_key = page.locator("#bio-properties-panel-jenjang-formKey")
    expect(form_key).to_have_value("Fact")  # Camunda's formKey, shown as not registered
    form_key.select_option("pelatihan.isi_umpan_balik")
    page.get_by_role("button", name="Simpan draf").click()
    expect(page.locator("#editor-status")).to_have_text("Draf tersimpan.")

    with live_server.session() as db:
        draft = db.scalar(select(DiagramDraft).where(DiagramDraft.file_name == "random_fact.bpmn"))
        assert draft is not None
        doc, problems = read_source(draft.file_name, draft.xml.encode())
        assert doc is not None, problems  # the spiffworkflow namespace is declared
        meta = task_metadata(doc, [])["Task_User_Select_Type"]
        assert meta["form_key"] == "pelatihan.isi_umpan_balik"
        assert "camunda:formField" in draft.xml  # Camunda's own extensions are kept

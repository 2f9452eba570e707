"""The benchmarks' pure helpers (the benchmarks themselves run with `make bench`, not here)."""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import pytest

from bench.common import percentile, replace_section
from bench.scale import clone_nik, new_nik, rewrite_state


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 99) == 3.0


def test_a_recorded_section_is_replaced_in_place_and_others_are_kept() -> None:
    text = "# B\n\n## One\n\nold\n\n## Two\n\nkept\n"
    assert (
        replace_section(text, "## One", "## One\n\nnew\n")
        == "# B\n\n## One\n\nnew\n\n## Two\n\nkept\n"
    )
    assert replace_section(text, "## Three", "## Three\n\nx\n").endswith("kept\n\n## Three\n\nx\n")


def test_a_cloned_state_carries_the_clone_identity() -> None:
    blob = zlib.compress(b'{"nik":"9900000100000000","nomor":"F-00001-00001"}', 1)
    pairs = [("F-00001-00001", "F-00001-K00000007"), ("9900000100000000", clone_nik(7))]
    assert zlib.decompress(rewrite_state(blob, pairs)) == (
        b'{"nik":"3500000000000007","nomor":"F-00001-K00000007"}'
    )
    assert len(clone_nik(1)) == len(new_nik(1)) == 16 and clone_nik(1) != new_nik(1)


def test_the_reports_bench_rewrites_its_section_instead_of_appending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.reports as reports

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Storage\n\nkept\n")
    monkeypatch.setattr(reports, "DOC", doc)
    args = argparse.Namespace(applications=10, employees=2, repeat=1)
    counts = {"applications": 10, "tasks": 20, "employees": 2}
    reports.record(args, counts, [("funnel", 1.0, 2.0)])
    reports.record(args, counts, [("funnel", 3.0, 4.0)])
    text = doc.read_text()
    assert text.count(reports.SECTION) == 1
    assert "| funnel | 3.0 | 4.0 |" in text and "| funnel | 1.0 |" not in text
    assert "## Storage\n\nkept\n" in text


def test_the_engine_step_bench_replaces_its_own_section_not_the_postgresql_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQLite section's heading starts the PostgreSQL one's: only a whole heading line
    names a section, whichever comes first on the page."""
    import bench.engine_step as engine_step

    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "benchmarks.md"
    pg = f"{engine_step.SECTION} on PostgreSQL"
    doc.write_text(f"# Benchmarks\n\n{pg}\n\npg figures\n\n{engine_step.SECTION}\n\nold\n")
    monkeypatch.setattr(engine_step, "ROOT", tmp_path)
    engine_step.record(["sqlite figures"], "python bench/engine_step.py --record")
    text = doc.read_text()
    assert f"{pg}\n\npg figures\n" in text
    assert "sqlite figures" in text and "old" not in text
    assert text.count(pg) == 1 and text.count(engine_step.SECTION + "\n") == 1

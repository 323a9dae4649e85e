"""generate_changes: the next night's export, with about the requested share of people touched."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from contact_pipelines import generate as gen
from contact_pipelines.core.readers import read_export

ROWS = 4000
CHANGES = 0.1


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    first = gen.generate(ROWS, tmp_path_factory.mktemp("night1"), seed=3)
    second = gen.generate_changes(first.out, tmp_path_factory.mktemp("night2"), CHANGES, seed=1)
    return first, second


def people(base: gen.GeneratedBase) -> set[int]:
    return set(pc.unique(pq.read_table(base.truth).column("person_id").drop_null()).to_pylist())


def crm_rows(base: gen.GeneratedBase) -> dict[str, dict]:
    """Client ID -> the row as written (the CRM file holds each person at most a few times)."""
    path = next(p for p in base.files if p.suffix == ".csv")
    table = pa.concat_tables(read_export(path).chunks())
    rows = table.drop_columns(["source_row", "row_defect"]).to_pylist()
    return {row["Client ID"]: row for row in rows if row["Client ID"]}


def test_about_the_requested_share_of_people_is_touched(nights):
    first, second = nights
    before, after = people(first), people(second)
    removed, added = before - after, after - before
    assert (len(removed), len(added)) == (second.removed, second.added)
    touched = second.changed + second.added + second.removed
    assert touched == pytest.approx(CHANGES * len(before), rel=0.02)
    assert second.changed > second.added > 0 and second.removed > 0
    assert second.people == len(before) - len(removed) + len(added)
    assert min(added) >= max(before)  # new people get new ids


def test_unchanged_people_are_written_identically_and_changed_ones_differ(nights):
    first, second = nights
    old, new = crm_rows(first), crm_rows(second)
    truth = pq.read_table(second.truth)
    changed_ids = {
        f"C-{pid + 1:08d}"
        for pid in truth.filter(pc.greater(truth.column("version"), 0))
        .column("person_id")
        .to_pylist()
    }
    same = [key for key in new.keys() & old.keys() if key not in changed_ids]
    assert same and all(new[key] == old[key] for key in same)
    moved = [key for key in new.keys() & old.keys() if key in changed_ids]
    assert moved
    for key in moved:
        for identifier in ("Client ID", "E-mail", "Phone", "First name"):
            assert new[key][identifier] == old[key][identifier]
        assert new[key]["Updated"] != old[key]["Updated"]
    assert new.keys() - old.keys()  # someone new in the CRM export


def test_files_keep_their_names_and_the_next_night_chains(nights, tmp_path):
    first, second = nights
    assert [p.name for p in first.files] == [p.name for p in second.files]
    for path in second.files:
        expected = pq.read_table(second.truth).filter(
            pc.equal(pq.read_table(second.truth).column("source_file"), path.name)
        )
        assert sum(c.num_rows for c in read_export(path).chunks()) == expected.num_rows
    third = gen.generate_changes(second.out, tmp_path, 0.05, seed=2)
    assert third.people > 0 and third.changed > 0


def test_changes_need_a_generated_folder(tmp_path):
    with pytest.raises(ValueError, match="generate.json"):
        gen.generate_changes(tmp_path, tmp_path / "out", 0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        gen.generate_changes(tmp_path, tmp_path / "out", 2)

"""Landing scan: content-addressed partition keys, ignored files, a read-only landing folder."""

from __future__ import annotations

import json
import os

import pytest

from contact_pipelines.core.landing import (
    current_partition_keys,
    partition_key_file_name,
    scan_landing,
)


def snapshot(folder) -> dict:
    """Every path under the folder with its mtime and bytes."""
    return {
        str(path.relative_to(folder)): (
            path.stat().st_mtime_ns,
            path.read_bytes() if path.is_file() else None,
        )
        for path in sorted(folder.rglob("*"))
    } | {".": folder.stat().st_mtime_ns}


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "legacy_crm_2026-11.csv").write_bytes(b"Email\na@example.com\n")
    (folder / "tokens@app.json").write_bytes(b"[]")
    (folder / ".hidden.csv").write_bytes(b"x")
    (folder / "upload.csv.part").write_bytes(b"x")
    (folder / "upload.csv.tmp").write_bytes(b"x")
    (folder / "~$event_signups.xlsx").write_bytes(b"x")
    (folder / "nested").mkdir()
    (folder / "nested" / "inner.csv").write_bytes(b"x")
    return folder


def test_scan_lists_complete_visible_files_with_keys(landing):
    landed = scan_landing(landing)
    assert [file.name for file in landed] == ["legacy_crm_2026-11.csv", "tokens@app.json"]
    first = landed[0]
    assert first.size == len(b"Email\na@example.com\n")
    assert len(first.content_hash) == 128  # blake2b hex
    assert first.partition_key == f"legacy_crm_2026-11.csv@{first.content_hash[:12]}"
    assert partition_key_file_name(landed[1].partition_key) == "tokens@app.json"
    assert current_partition_keys(landed) == {file.name: file.partition_key for file in landed}


def test_key_changes_with_content_not_with_touch(landing):
    path = landing / "legacy_crm_2026-11.csv"
    before = scan_landing(landing)[0].partition_key
    os.utime(path, ns=(1, 1))
    assert scan_landing(landing)[0].partition_key == before
    path.write_bytes(b"Email\nb@example.com\n")
    after = scan_landing(landing)[0].partition_key
    assert after != before
    assert partition_key_file_name(after) == partition_key_file_name(before)


def test_cache_outside_landing_reused_and_invalidated(landing, tmp_path):
    cache = tmp_path / "state" / "hashes.json"
    first = scan_landing(landing, cache_path=cache)
    stored = json.loads(cache.read_text())
    assert set(stored) == {str(file.path) for file in first}
    # a cached hash is trusted while size and mtime are unchanged ...
    key = str(landing / "legacy_crm_2026-11.csv")
    stored[key][2] = "f" * 128
    cache.write_text(json.dumps(stored))
    assert scan_landing(landing, cache_path=cache)[0].content_hash == "f" * 128
    # ... and recomputed when the file changes
    (landing / "legacy_crm_2026-11.csv").write_bytes(b"Email\nchanged@example.com\n")
    assert scan_landing(landing, cache_path=cache)[0].content_hash != "f" * 128


def test_cache_inside_landing_is_refused(landing):
    with pytest.raises(ValueError, match="must not be inside the landing folder"):
        scan_landing(landing, cache_path=landing / "hashes.json")


def test_landing_folder_untouched(landing, tmp_path):
    before = snapshot(landing)
    scan_landing(landing, cache_path=tmp_path / "hashes.json")
    scan_landing(landing)
    assert snapshot(landing) == before


def test_missing_landing_folder_and_bad_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_landing(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a landing partition key"):
        partition_key_file_name("no-separator")


def test_corrected_file_relanded_under_same_name_is_a_new_partition(landing, tmp_path):
    """The old partition's raw table stays as written; the new content gets its own key."""
    from contact_pipelines.core.config import PipelineConfig
    from contact_pipelines.core.stages import ingest_file
    from contact_pipelines.core.warehouse import Warehouse

    warehouse = Warehouse(tmp_path / "warehouse")
    path = landing / "legacy_crm_2026-11.csv"
    path.write_bytes(b"Email\nbroken@@example.com\n")
    old = scan_landing(landing)[0]
    ingest_file(old.path, old.partition_key, PipelineConfig(), warehouse)
    old_parquet = tmp_path / "warehouse" / "raw_contacts"
    old_files = {p.name: p.read_bytes() for p in old_parquet.iterdir()}

    path.write_bytes(b"Email\nfixed@example.com\n")  # the corrected export, same name
    new = scan_landing(landing)[0]
    landing_before = snapshot(landing)
    ingest_file(new.path, new.partition_key, PipelineConfig(), warehouse)

    assert new.partition_key != old.partition_key
    assert partition_key_file_name(new.partition_key) == old.name
    assert current_partition_keys(scan_landing(landing))[old.name] == new.partition_key
    assert {
        p.name: p.read_bytes() for p in old_parquet.iterdir() if p.name in old_files
    } == old_files
    assert len(list(old_parquet.iterdir())) == len(old_files) + 1
    emails = {
        key: warehouse.read("raw_contacts", key).column("Email").to_pylist()
        for key in (old.partition_key, new.partition_key)
    }
    assert emails == {
        old.partition_key: ["broken@@example.com"],
        new.partition_key: ["fixed@example.com"],
    }
    assert snapshot(landing) == landing_before  # ingesting never touches the landing folder

"""Large JSON documents stream record by record, whatever the read size; errors name the line."""

from __future__ import annotations

import json

import pytest

from contact_pipelines.core.readers import ExportReadError, ReadOptions, jsonstream, read_export


@pytest.fixture
def tiny_reads(monkeypatch):
    """Reads of a few characters: every record, key and number spans reads."""
    monkeypatch.setattr(jsonstream, "READ_CHARS", 5)


def contacts(count: int) -> list[dict]:
    return [
        {
            "externalCustomerId": f"C-{i}",
            "score": 10 ** (i % 7),
            "channels": [{"type": "email", "value": f"u{i}@example.com"}],
        }
        for i in range(count)
    ]


def rows_of(path, **options) -> list[dict]:
    return read_export(path, ReadOptions(**options)).read_all().to_pylist()


def test_wrapper_object_streamed_across_tiny_reads(tmp_path, tiny_reads):
    document = {"dedupeOn": "email", "contacts": contacts(40), "restoreDeleted": True}
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    rows = rows_of(path, chunk_rows=16)
    assert [(r["externalCustomerId"], r["score"], r["source_row"]) for r in rows] == [
        (f"C-{i}", str(10 ** (i % 7)), i + 1) for i in range(40)
    ]
    assert rows[39]["channels.email"] == "u39@example.com"
    assert "dedupeOn" not in rows[0]


def test_top_level_array_with_bom_and_whitespace(tmp_path, tiny_reads):
    path = tmp_path / "array.json"
    path.write_bytes(b"\xef\xbb\xbf \n [ " + json.dumps(contacts(3))[1:].encode())
    assert [r["externalCustomerId"] for r in rows_of(path)] == ["C-0", "C-1", "C-2"]


def test_single_contact_object_and_empty_wrapper(tmp_path):
    single = tmp_path / "one.json"
    single.write_text('{"email": "a@example.com", "tags": ["x", "y"]}', encoding="utf-8")
    assert rows_of(single)[0]["tags"] == "x;y"
    empty = tmp_path / "empty.json"
    empty.write_text('{"contacts": [], "dedupeOn": "email"}', encoding="utf-8")
    with pytest.raises(ExportReadError, match="no contact records"):
        read_export(empty)


def test_invalid_record_deep_in_a_large_array_names_its_line(tmp_path, tiny_reads):
    lines = [json.dumps(record) + "," for record in contacts(50)]
    lines[37] = '{"externalCustomerId": "C-37", "email": oops},'
    path = tmp_path / "broken.json"
    path.write_text("[\n" + "\n".join(lines) + '\n{"email": "z@example.com"}\n]', encoding="utf-8")
    with pytest.raises(ExportReadError, match=r"^broken\.json, line 39: the JSON is invalid"):
        read_export(path)


def test_truncated_array_fails_with_a_line(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(contacts(5), indent=1)[:-40], encoding="utf-8")
    with pytest.raises(ExportReadError, match=r"^cut\.json, line \d+: .*Fix: "):
        read_export(path)


def test_json_lines_named_json(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"email": "a@example.com"}\n{"email": "b@example.com"}\n', encoding="utf-8")
    export = read_export(path)
    assert export.info.format == "jsonl"
    assert [r["source_row"] for r in export.read_all().to_pylist()] == [1, 2]

"""Spreadsheet damage that reaches text exports: scientific notation, serial dates, odd lines."""

from __future__ import annotations

import pytest

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.readers import ExportReadError, ReadOptions, read_export
from contact_pipelines.core.validate import validate_chunk


def write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def rows_of(path, **options) -> list[dict]:
    return read_export(path, ReadOptions(**options)).read_all().to_pylist()


def test_scientific_notation_lost_digits_are_null_and_flagged(tmp_path):
    content = (
        "Client ID,Email,Phone\n"
        "C1,a@example.com,4.47712E+11\n"  # Excel kept 6 digits: the rest is gone
        "C2,b@example.com,447712345678\n"
        "4.47713E+11,c@example.com,+380671234567\n"  # an id damaged the same way
        "C4,d@example.com,4.47712345678E+11\n"  # every digit still there: exact
    )
    rows = rows_of(write(tmp_path, "sci.csv", content.encode()))
    assert [(r["Client ID"], r["Phone"], r["row_defect"]) for r in rows] == [
        ("C1", None, "lost_digits:Phone"),
        ("C2", "447712345678", None),
        (None, "+380671234567", "lost_digits:Client ID"),
        ("C4", "447712345678", None),
    ]


def test_scientific_notation_with_comma_decimal_and_other_defects(tmp_path):
    content = "Email;Phone;City\na@example.com;4,47712E+11;Kyiv;extra\nb@example.com;3,80671E+11\n"
    rows = rows_of(write(tmp_path, "eu.csv", content.encode()))
    assert [(r["Phone"], r["row_defect"]) for r in rows] == [
        (None, "too_many_columns;lost_digits:Phone"),
        (None, "too_few_columns;lost_digits:Phone"),
    ]


def test_scientific_notation_in_large_file_fast_path(tmp_path):
    lines = [f"u{i}@example.com,+38067{i:07d}" for i in range(5000)]
    lines[4321] = "u4321@example.com,3.80671E+11"
    content = "Email,Phone\n" + "\n".join(lines) + "\n"
    chunks = list(
        read_export(
            write(tmp_path, "big.csv", content.encode()), ReadOptions(chunk_rows=1000)
        ).chunks()
    )
    flagged = [
        (r["source_row"], r["Phone"]) for c in chunks for r in c.to_pylist() if r["row_defect"]
    ]
    assert flagged == [(4323, None)]


def test_flagged_row_is_rejected_only_without_another_identifier(tmp_path):
    content = "Email,Phone\n,4.47712E+11\nkeep@example.com,4.47712E+11\n"
    chunk = read_export(write(tmp_path, "v.csv", content.encode())).read_all()
    source = SourceConfig(name="s", match="*", default_region="GB")
    result = validate_chunk(chunk, resolve_columns(chunk.column_names[:2], source), source)
    assert result.rejected.column("reason").to_pylist() == ["row_defect"]
    assert result.rejected.column("source_row").to_pylist() == [2]
    assert result.valid.column("email").to_pylist() == ["keep@example.com"]
    assert result.valid.column("phone").to_pylist() == [None]  # never a wrong number


def test_excel_serial_dates_in_text_export_become_iso_dates(tmp_path):
    """The raw table keeps the file's text; validation turns a serial into its date."""
    content = "Email,Birth Date\na@example.com,32980\nb@example.com,1990-05-17\n"
    chunk = read_export(write(tmp_path, "serial.csv", content.encode())).read_all()
    assert chunk.column("Birth Date").to_pylist() == ["32980", "1990-05-17"]
    source = SourceConfig(name="s", match="*", columns={"Birth Date": "birth_date"})
    result = validate_chunk(chunk, resolve_columns(chunk.column_names[:2], source), source)
    assert result.valid.column("birth_date").to_pylist() == ["1990-04-17", "1990-05-17"]


def test_old_mac_cr_line_endings(tmp_path):
    content = b"Email,Name\ra@example.com,A\r\rb@example.com,B\r"
    rows = rows_of(write(tmp_path, "mac.csv", content))
    assert [(r["Email"], r["source_row"]) for r in rows] == [
        ("a@example.com", 2),
        ("b@example.com", 4),
    ]


def test_delimiter_only_and_space_only_lines_are_blank_in_fast_blocks(tmp_path):
    content = "Email;Name\na@example.com;A\n;\n ; \n\nb@example.com;B\n"
    rows = rows_of(write(tmp_path, "blanks.csv", content.encode()))
    assert [(r["Email"], r["source_row"]) for r in rows] == [
        ("a@example.com", 2),
        ("b@example.com", 6),
    ]


def test_empty_and_quoted_empty_values_are_null(tmp_path):
    rows = rows_of(write(tmp_path, "e.csv", b'Email,Name,City\na@example.com,"",\n'))
    assert (rows[0]["Name"], rows[0]["City"]) == (None, None)


def test_bad_utf8_after_the_sample_names_its_line_in_a_later_block(tmp_path):
    body = b"".join(b"u%d@example.com,Name\n" % i for i in range(60_000))  # > 1 MB sample
    content = b"Email,Name\n" + body + b'x@example.com,"q"\nbad@example.com,\xc3\x28\n'
    export = read_export(write(tmp_path, "late.csv", content), ReadOptions(chunk_rows=7_000))
    assert export.info.encoding == "utf-8"
    with pytest.raises(ExportReadError, match=r"^late\.csv, line 60003: .*utf-8.*Fix: "):
        list(export.chunks())

"""CSV/TXT damage cases: encodings, delimiters, quoting, ragged rows, headers, streaming."""

from __future__ import annotations

import codecs

import pytest

from contact_pipelines.core.readers import ReadOptions, read_export


def write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def rows_of(path, **options) -> list[dict]:
    return read_export(path, ReadOptions(**options)).read_all().to_pylist()


@pytest.mark.parametrize(
    ("bom", "codec", "label"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    ],
)
def test_excel_unicode_text_utf16_tab_separated(tmp_path, bom, codec, label):
    text = "Email\tИм'я\tCity\r\nolena@example.com\tОлена\tКиїв\r\nivan@example.com\tІван\tLviv\r\n"
    path = write(tmp_path, "unicode.txt", bom + text.encode(codec))
    export = read_export(path)
    rows = export.read_all().to_pylist()
    assert (export.info.encoding, export.info.delimiter) == (label, "\t")
    assert export.info.headers == ("Email", "Им'я", "City")
    assert [(r["Им'я"], r["City"], r["source_row"]) for r in rows] == [
        ("Олена", "Київ", 2),
        ("Іван", "Lviv", 3),
    ]


def test_cp1251_detected(tmp_path):
    text = "Имя;Фамилия;Город\nОлександр;Шевченко;Київ\nМарія;Петренко;Харків\nЄвген;Ґонта;Львів\n"
    export = read_export(write(tmp_path, "cyr.csv", text.encode("cp1251")))
    assert export.info.encoding == "cp1251"
    assert export.read_all().column("Фамилия").to_pylist() == ["Шевченко", "Петренко", "Ґонта"]


def test_cp1252_detected(tmp_path):
    text = (
        "Name,City,Note\nJosé Müller,Málaga,“quoted” – fine\nFrançoise Dœuf,Besançon,naïve café\n"
    )
    export = read_export(write(tmp_path, "west.csv", text.encode("cp1252")))
    assert export.info.encoding == "cp1252"
    assert export.read_all().column("Name").to_pylist() == ["José Müller", "Françoise Dœuf"]


def test_plain_utf8_without_bom_and_encoding_override(tmp_path):
    path = write(tmp_path, "u.csv", "Email,Name\na@example.com,Zoë\n".encode())
    assert read_export(path).info.encoding == "utf-8"
    latin = read_export(path, ReadOptions(encoding="latin-1"))
    assert latin.info.encoding == "latin-1"
    assert latin.read_all().column("Name").to_pylist() == ["ZoÃ«"]


def test_quoted_newlines_quotes_and_delimiters_keep_start_lines(tmp_path):
    content = (
        'Email,Note,City\n'
        'a@example.com,"line one\nline two",Kyiv\n'
        'b@example.com,"said ""hi"", then left",Lviv\n'
        'c@example.com,"x\n\ny",Odesa\n'
        'd@example.com,plain,Dnipro\n'
    )  # fmt: skip
    rows = rows_of(write(tmp_path, "q.csv", content.encode()))
    assert [r["source_row"] for r in rows] == [2, 4, 5, 8]
    assert rows[0]["Note"] == "line one\nline two"
    assert rows[1]["Note"] == 'said "hi", then left'
    assert rows[2]["Note"] == "x\n\ny"
    assert all(r["row_defect"] is None for r in rows)


def test_blank_lines_skipped_and_counted_in_line_numbers(tmp_path):
    content = "\n\nEmail;Name\r\n\r\na@example.com;A\r\n;\r\n   \r\nb@example.com;B\r\n\r\n"
    export = read_export(write(tmp_path, "blank.txt", content.encode()))
    rows = export.read_all().to_pylist()
    assert export.info.headers == ("Email", "Name")
    assert [(r["Email"], r["source_row"]) for r in rows] == [
        ("a@example.com", 5),
        ("b@example.com", 8),
    ]


def test_trailing_delimiters_are_not_columns_or_defects(tmp_path):
    content = "Email,Name,\na@example.com,A,\nb@example.com,B,,\n"
    export = read_export(write(tmp_path, "trail.csv", content.encode()))
    rows = export.read_all().to_pylist()
    assert export.info.headers == ("Email", "Name")
    assert [r["row_defect"] for r in rows] == [None, None]


def test_ragged_rows_kept_with_defect_and_line(tmp_path):
    content = "Email,Name,City\na@example.com,A,Kyiv\nb@example.com,B,Kyiv,Ukraine,extra\nc@example.com\nd@example.com,D,Lviv\n"
    rows = rows_of(write(tmp_path, "ragged.csv", content.encode()))
    assert [(r["Email"], r["source_row"], r["row_defect"]) for r in rows] == [
        ("a@example.com", 2, None),
        ("b@example.com", 3, "too_many_columns"),
        ("c@example.com", 4, "too_few_columns"),
        ("d@example.com", 5, None),
    ]
    assert rows[1]["City"] == "Kyiv"
    assert rows[2]["Name"] is None and rows[2]["City"] is None


def test_duplicate_and_padded_headers(tmp_path):
    content = "\ufeff Phone , Email,Phone,phone,,Phone\n1,a@example.com,2,3,4,5\n"
    export = read_export(write(tmp_path, "dup.csv", content.encode()))
    assert export.info.headers == ("Phone", "Email", "Phone (2)", "phone", "column_5", "Phone (3)")
    assert export.read_all().to_pylist()[0]["Phone (3)"] == "5"


def test_reserved_meta_header_is_renamed(tmp_path):
    export = read_export(write(tmp_path, "meta.csv", b"Email,source_row\na@example.com,7\n"))
    assert export.info.headers == ("Email", "source_row (2)")
    assert export.read_all().to_pylist()[0]["source_row"] == 2


@pytest.mark.parametrize(
    ("delimiter", "expected"), [(",", ","), (";", ";"), ("\t", "\t"), ("|", "|")]
)
def test_delimiter_sniffed_despite_commas_in_quotes(tmp_path, delimiter, expected):
    lines = [
        ["Email", "Name", "City"],
        ["a@example.com", '"Doe, John"', '"Kyiv, UA"'],
        ["b@example.com", "B", "Lviv"],
    ]
    content = "\n".join(delimiter.join(line) for line in lines) + "\n"
    export = read_export(write(tmp_path, "d.txt", content.encode()))
    assert export.info.delimiter == expected
    assert export.read_all().to_pylist()[0]["Name"] == "Doe, John"


def test_delimiter_override_and_single_column(tmp_path):
    single = read_export(write(tmp_path, "emails.txt", b"Email\na@example.com\nb@example.com\n"))
    assert single.info.headers == ("Email",) and single.read_all().num_rows == 2
    forced = read_export(write(tmp_path, "f.csv", b"a;b,c\n1;2,3\n"), ReadOptions(delimiter=","))
    assert forced.info.headers == ("a;b", "c")


def test_large_file_streams_in_bounded_chunks(tmp_path):
    row_count = 300_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("Email,Phone,Name\n")
        stream.writelines(f"user{i}@example.com,+38067{i:07d},Name {i}\n" for i in range(row_count))
    chunks = list(read_export(path, ReadOptions(chunk_rows=70_000)).chunks())
    assert [chunk.num_rows for chunk in chunks] == [70_000] * 4 + [20_000]
    assert sum(chunk.num_rows for chunk in chunks) == row_count
    last = chunks[-1].slice(chunks[-1].num_rows - 1).to_pylist()[0]
    assert (last["Email"], last["source_row"]) == (
        f"user{row_count - 1}@example.com",
        row_count + 1,
    )


def test_display_name_used_in_source_file(tmp_path):
    path = write(tmp_path, "x.csv", b"Email\na@example.com\n")
    table = read_export(path, ReadOptions(display_name="landed.csv")).read_all()
    assert table.column("source_file").to_pylist() == ["landed.csv"]


def test_mixed_blocks_match_what_was_written(tmp_path):
    """Quote-free blocks (pyarrow) and quoted multi-line blocks (csv module) agree on values and lines."""
    import csv
    import io

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Email", "Note", "City"])
    expected, line = [], 2
    for i in range(200):
        note = f"multi\nline {i}" if i % 17 == 0 else (f'say "{i}", ok' if i % 11 == 0 else f"n{i}")
        if i % 13 == 0:
            buffer.write("\n")  # a blank line
            line += 1
        row = [f"u{i}@example.com", note, "Kyiv"]
        if i % 29 == 0:
            row.append("stray")
        writer.writerow(row)
        defect = "too_many_columns" if i % 29 == 0 else None
        expected.append((row[0], note, line, defect))
        line += 1 + note.count("\n")
    path = write(tmp_path, "mixed.csv", buffer.getvalue().encode())
    chunks = list(read_export(path, ReadOptions(chunk_rows=7)).chunks())
    got = [
        (r["Email"], r["Note"], r["source_row"], r["row_defect"])
        for c in chunks
        for r in c.to_pylist()
    ]
    assert got == expected
    assert max(chunk.num_rows for chunk in chunks) <= 7

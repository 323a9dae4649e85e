"""XLSX/XLS: exact digits for numeric phones, ISO dates, booleans, sheet choice, sheet rows."""

from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
import pytest
import xlwt

from contact_pipelines.core.readers import ExportReadError, ReadOptions, read_export


def make_xlsx(path, sheets: dict[str, list[list]]):
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def make_xls(path, rows: list[list]):
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Data")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write(r, c, value, date_style)
            elif value is not None:
                sheet.write(r, c, value)
    workbook.save(str(path))
    return path


HEADER = ["Email", "Phone", "Postcode", "Born", "Active", "Score"]
ROW = ["a@example.com", 447712345678, 1010, dt.date(1990, 5, 17), True, 12.5]


def test_xlsx_values_as_shown(tmp_path):
    path = make_xlsx(
        tmp_path / "x.xlsx",
        {"Sheet1": [HEADER, ROW, ["b@example.com", 380671234567.0, None, None, False, None]]},
    )
    rows = read_export(path).read_all().to_pylist()
    assert rows[0]["Phone"] == "447712345678"
    assert rows[0]["Postcode"] == "1010"
    assert rows[0]["Born"] == "1990-05-17"
    assert rows[0]["Active"] == "true" and rows[1]["Active"] == "false"
    assert rows[0]["Score"] == "12.5"
    assert rows[1]["Phone"] == "380671234567"
    assert rows[1]["Postcode"] is None


def test_xls_values_as_shown(tmp_path):
    path = make_xls(tmp_path / "x.xls", [HEADER, ROW])
    export = read_export(path)
    row = export.read_all().to_pylist()[0]
    assert export.info.format == "xls"
    assert (row["Phone"], row["Postcode"], row["Born"], row["Score"]) == (
        "447712345678",
        "1010",
        "1990-05-17",
        "12.5",
    )


def test_xlsx_sheet_rows_skip_leading_blank_sheet_and_rows(tmp_path):
    sheets = {"Empty": [], "Contacts": [[], [], HEADER, ROW, [], ["c@example.com"]]}
    export = read_export(make_xlsx(tmp_path / "s.xlsx", sheets))
    rows = export.read_all().to_pylist()
    assert export.info.sheet == "Contacts"
    assert [(r["Email"], r["source_row"]) for r in rows] == [
        ("a@example.com", 4),
        ("c@example.com", 6),
    ]


def test_xlsx_sheet_option_and_unknown_sheet(tmp_path):
    path = make_xlsx(
        tmp_path / "two.xlsx",
        {"First": [["Email"], ["a@example.com"]], "Second": [["Mail"], ["b@example.com"]]},
    )
    second = read_export(path, ReadOptions(sheet="Second"))
    assert second.info.headers == ("Mail",)
    assert second.read_all().column("Mail").to_pylist() == ["b@example.com"]
    with pytest.raises(ExportReadError, match=r"two\.xlsx.*no sheet 'Third'.*Fix"):
        read_export(path, ReadOptions(sheet="Third"))


def test_xlsx_duplicate_headers_and_extra_cells(tmp_path):
    rows = [["Phone", "Phone", None], ["1", "2"], ["3", "4", "stray"]]
    export = read_export(make_xlsx(tmp_path / "d.xlsx", {"S": rows}))
    table = export.read_all().to_pylist()
    assert export.info.headers == ("Phone", "Phone (2)")
    assert [r["row_defect"] for r in table] == [None, "too_many_columns"]


def test_xlsx_chunks(tmp_path):
    rows = [["Email"]] + [[f"u{i}@example.com"] for i in range(25)]
    chunks = list(
        read_export(
            make_xlsx(tmp_path / "c.xlsx", {"S": rows}), ReadOptions(chunk_rows=10)
        ).chunks()
    )
    assert [c.num_rows for c in chunks] == [10, 10, 5]
    assert chunks[-1].column("source_row").to_pylist()[-1] == 26


def rewrite_sheet_xml(path, replacements: dict[str, str]):
    """Edit the first sheet's XML in place: what Excel writes but openpyxl cannot."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    xml = members["xl/worksheets/sheet1.xml"].decode()
    for old, new in replacements.items():
        assert old in xml, old
        xml = xml.replace(old, new)
    members["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_xlsx_zero_padding_formats_restore_leading_zeros_and_plus(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Email", "Phone", "Postcode", "Intl", "Plain postcode"])
    sheet.append(["a@example.com", 7712345678, 1010, 447712345678, 1010])
    sheet["B2"].number_format = "00000000000"  # UK national number with its trunk 0
    sheet["C2"].number_format = "00000"  # Excel's "Zip Code" format
    sheet["D2"].number_format = '"+"0'
    workbook.save(tmp_path / "pad.xlsx")
    row = read_export(tmp_path / "pad.xlsx").read_all().to_pylist()[0]
    assert (row["Phone"], row["Postcode"], row["Intl"]) == ("07712345678", "01010", "+447712345678")
    assert row["Plain postcode"] == "1010"  # General format: width unknown, kept as stored


def test_xlsx_formula_cells_give_cached_values_and_wrong_dimension_is_ignored(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Email", "Phone", "Name"])
    sheet.append(["a@example.com", "=B3", '=UPPER("x")'])
    sheet.append(["b@example.com", 380671234567, "B"])
    path = workbook.save(tmp_path / "f.xlsx") or tmp_path / "f.xlsx"
    rewrite_sheet_xml(
        path,
        {
            '<dimension ref="A1:C3" />': '<dimension ref="A1" />',  # as some writers do
            "<f>B3</f><v /></c>": "<f>B3</f><v>380671234567</v></c>",
            '<c r="C2"><f>UPPER("x")</f><v /></c>': '<c r="C2" t="str"><f>UPPER("x")</f><v>X</v></c>',
        },
    )
    rows = read_export(path).read_all().to_pylist()
    assert [(r["Email"], r["Phone"], r["Name"]) for r in rows] == [
        ("a@example.com", "380671234567", "X"),
        ("b@example.com", "380671234567", "B"),
    ]


def test_xlsx_title_and_merged_caption_rows_above_the_header_are_skipped(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Contacts export, November"])
    sheet.append(["Person", None, "Reach", None])
    sheet.merge_cells("A2:B2")
    sheet.merge_cells("C2:D2")
    sheet.append(["First name", "Last name", "Email", None])
    sheet.append(["Olena", "K", "a@example.com", "stray"])
    workbook.save(tmp_path / "title.xlsx")
    export = read_export(tmp_path / "title.xlsx")
    rows = export.read_all().to_pylist()
    assert export.info.headers == ("First name", "Last name", "Email")
    assert [(r["Email"], r["source_row"], r["row_defect"]) for r in rows] == [
        ("a@example.com", 4, "too_many_columns")
    ]


def test_xlsx_blank_header_cell_is_named_by_position(tmp_path):
    rows = [["Email", None, "Phone"], ["a@example.com", "x", "1"]]
    export = read_export(make_xlsx(tmp_path / "b.xlsx", {"S": rows}))
    assert export.info.headers == ("Email", "column_2", "Phone")


def test_xlsx_scientific_text_cells_are_flagged(tmp_path):
    rows = [["Email", "Phone"], ["a@example.com", "4.47712E+11"], ["b@example.com", 447712345678]]
    table = read_export(make_xlsx(tmp_path / "s.xlsx", {"S": rows})).read_all().to_pylist()
    assert [(r["Phone"], r["row_defect"]) for r in table] == [
        (None, "lost_digits:Phone"),
        ("447712345678", None),
    ]


def test_xlsx_streams_a_large_sheet_in_chunks(tmp_path):
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Big")
    sheet.append(["Email", "Phone"])
    for i in range(20_000):
        sheet.append([f"u{i}@example.com", 380670000000 + i])
    workbook.save(tmp_path / "big.xlsx")
    chunks = read_export(tmp_path / "big.xlsx", ReadOptions(chunk_rows=6_000)).chunks()
    sizes, last = [], None
    for chunk in chunks:
        sizes.append(chunk.num_rows)
        last = chunk.slice(chunk.num_rows - 1).to_pylist()[0]
    assert sizes == [6_000, 6_000, 6_000, 2_000]
    assert (last["Phone"], last["source_row"]) == ("380670019999", 20_001)

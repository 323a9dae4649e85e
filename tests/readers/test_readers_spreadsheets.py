"""XLSX/XLS: exact digits for numeric phones, ISO dates, booleans, sheet choice, sheet rows."""

from __future__ import annotations

import datetime as dt

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

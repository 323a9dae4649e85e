"""XLSX and XLS (Excel 97-2003) exports, both through python-calamine.

Cell values become the strings a person sees, not what Python prints:
numbers stored for phones and postcodes keep their exact digits
(447712345678.0 -> "447712345678"), dates become ISO-8601, booleans
"true"/"false". ``source_row`` is the sheet's own row number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import python_calamine

from contact_pipelines.core.readers.base import (
    TOO_MANY_COLUMNS,
    ExportInfo,
    ExportReadError,
    RawExport,
    ReadOptions,
    build_raw_table,
    dedupe_headers,
    trim_trailing_blank_headers,
)
from contact_pipelines.core.readers.source import ExportSource


def read_spreadsheet(source: ExportSource, options: ReadOptions) -> RawExport:
    workbook = _open_workbook(source)
    sheet_name, header_row, raw_headers = _find_header(workbook, options.sheet, source.name)
    if not _has_data_after(workbook, sheet_name, header_row):
        raise ExportReadError(
            source.name,
            header_row,
            f"sheet {sheet_name!r} has a header but no data rows",
            "re-export the data, or pick the sheet holding the contacts with `sheet:` in the config",
        )
    headers = dedupe_headers(trim_trailing_blank_headers([cell_text(c) or "" for c in raw_headers]))
    info = ExportInfo(format=source.format_label, headers=headers, sheet=sheet_name)

    def chunks() -> Iterator:
        yield from _read_chunks(
            _open_workbook(source), info, header_row, source.name, options.chunk_rows
        )

    return RawExport(info, chunks)


def _open_workbook(source: ExportSource) -> python_calamine.CalamineWorkbook:
    try:
        with source.open() as stream:
            return python_calamine.CalamineWorkbook.from_filelike(stream)
    except Exception as exc:  # calamine raises its own error types per failure
        raise ExportReadError(
            source.name,
            None,
            f"the {source.format.upper()} workbook cannot be opened: it is truncated, damaged or "
            f"password-protected ({type(exc).__name__}: {exc})",
            "open it in Excel and save it again (without a password), then re-upload",
        ) from exc


def _sheet_rows(workbook, sheet_name: str, name: str) -> Iterator[tuple[int, list]]:
    """(1-based sheet row, cell values) for every row of the sheet."""
    try:
        sheet = workbook.get_sheet_by_name(sheet_name)
        yield from enumerate(sheet.iter_rows(), start=1)
    except Exception as exc:
        raise ExportReadError(
            name,
            None,
            f"sheet {sheet_name!r} cannot be read ({type(exc).__name__}: {exc})",
            "re-save the workbook in Excel",
        ) from exc


def _find_header(workbook, wanted_sheet: str | None, name: str) -> tuple[str, int, list]:
    sheet_names = list(workbook.sheet_names)
    if wanted_sheet is not None and wanted_sheet not in sheet_names:
        raise ExportReadError(
            name,
            None,
            f"there is no sheet {wanted_sheet!r} (sheets: {sheet_names})",
            "fix `sheet:` in the config",
        )
    for sheet_name in [wanted_sheet] if wanted_sheet else sheet_names:
        for row_number, row in _sheet_rows(workbook, sheet_name, name):
            if any(cell_text(cell) for cell in row):
                return sheet_name, row_number, row
    raise ExportReadError(
        name, None, "the workbook has no sheet with a header row", "re-export the data"
    )


def _has_data_after(workbook, sheet_name: str, header_row: int) -> bool:
    for row_number, row in _sheet_rows(workbook, sheet_name, sheet_name):
        if row_number > header_row and any(cell_text(cell) for cell in row):
            return True
    return False


def _read_chunks(workbook, info: ExportInfo, header_row: int, name: str, chunk_rows: int):
    width = len(info.headers)
    rows, lines, defects = [], [], []
    for row_number, row in _sheet_rows(workbook, info.sheet or "", name):
        if row_number <= header_row:
            continue
        values = [cell_text(cell) for cell in row]
        if not any(values):
            continue
        defect = TOO_MANY_COLUMNS if any(values[width:]) else None
        values = (values + [None] * width)[:width]
        rows.append(values)
        lines.append(row_number)
        defects.append(defect)
        if len(rows) >= chunk_rows:
            yield _chunk(info, name, rows, lines, defects)
            rows, lines, defects = [], [], []
    if rows:
        yield _chunk(info, name, rows, lines, defects)


def _chunk(info: ExportInfo, name: str, rows, lines, defects):
    columns = list(zip(*rows, strict=True))
    has_defects = any(defect is not None for defect in defects)
    return build_raw_table(info.headers, columns, name, lines, defects if has_defects else None)


def cell_text(value: object) -> str | None:
    """What the cell shows, as text; None for an empty cell."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def number_text(value: float) -> str:
    """Integral floats as their digits (phones, postcodes); others without exponent."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text

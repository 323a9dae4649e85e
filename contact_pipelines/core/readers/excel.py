"""XLSX (streamed with openpyxl) and XLS (Excel 97-2003, through python-calamine).

XLSX sheets are read in openpyxl's read-only mode, row by row, so memory
stays bounded whatever the sheet's size; the workbook is opened once for the
header and again for ``chunks()``. An XLS sheet is at most 65,536 rows, so
calamine loads it whole.

Cell values become the strings a person sees, not what Python prints:

- numbers stored for phones and postcodes keep their exact digits
  (447712345678.0 -> "447712345678");
- a whole number whose cell format pads it with zeros (``00000``, Excel's
  "Zip Code"; ``00000000000`` for phones; ``"+"0`` for a lost plus) gets the
  zeros (and the ``+``) back: that format is how people keep leading zeros in
  Excel, so the digits shown are the real ones (XLSX only: XLS formats are
  not read). A number in a General cell cannot tell how many leading zeros it
  lost (``1010`` may be an Austrian postcode or a French ``01010``): it is
  kept as stored, never padded by guess;
- dates and date-times become ISO-8601, booleans "true"/"false";
- formula cells give the value Excel cached when the file was last saved
  (a workbook never opened in Excel has none: the cell is empty);
- text already in scientific notation goes through ``damage.flag_lost_digits``.

Headers: rows above the header that look like a title (one cell) or merged
group captions (cells with gaps between them) followed by a fuller row are
skipped; the header is the first row that is neither. A blank header cell
(the tail of a merged header cell) is named ``column_<n>`` and reported as
unmapped like any other unknown header. ``source_row`` is the sheet's own row.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager

import openpyxl
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
from contact_pipelines.core.readers.damage import flag_lost_digits
from contact_pipelines.core.readers.source import ExportSource

HEADER_SEARCH_ROWS = 20  # non-empty rows looked at to find the header
REOPEN_FIX = "open it in Excel and save it again (without a password), then re-upload"
# a number format that only pads with zeros, with an optional literal "+": 00000, "+"0, \+000
_ZERO_PAD_FORMAT = re.compile(r'^(?P<plus>"\+"|\\\+|\+)?(?P<zeros>0+)$')

_NUMBER = re.compile(r"^[\s+\-\d.,/:()]+$")  # numbers, phones, dates

Row = list[str | None]


def read_spreadsheet(source: ExportSource, options: ReadOptions) -> RawExport:
    with _opened_sheet(source, options.sheet) as (sheet_name, rows):
        header_row, raw_headers, has_data = _find_header(rows)
    if raw_headers is None:
        raise ExportReadError(
            source.name, None, "the workbook has no sheet with a header row", "re-export the data"
        )
    if not has_data:
        raise ExportReadError(
            source.name,
            header_row,
            f"sheet {sheet_name!r} has a header but no data rows",
            "re-export the data, or pick the sheet holding the contacts with `sheet:` in the config",
        )
    headers = dedupe_headers(trim_trailing_blank_headers([cell or "" for cell in raw_headers]))
    info = ExportInfo(format=source.format_label, headers=headers, sheet=sheet_name)

    def chunks() -> Iterator:
        with _opened_sheet(source, sheet_name) as (_, rows):
            yield from _read_chunks(rows, info, header_row, source.name, options.chunk_rows)

    return RawExport(info, chunks)


# --- opening ----------------------------------------------------------------


@contextmanager
def _opened_sheet(source: ExportSource, wanted_sheet: str | None):
    """(sheet name, iterator of (sheet row, cell texts)); the first sheet with content by default."""
    opener = _xlsx_sheets if source.format == "xlsx" else _xls_sheets
    with opener(source) as sheets:
        names = list(sheets)
        if wanted_sheet is not None and wanted_sheet not in names:
            raise ExportReadError(
                source.name,
                None,
                f"there is no sheet {wanted_sheet!r} (sheets: {names})",
                "fix `sheet:` in the config",
            )
        candidates = [wanted_sheet] if wanted_sheet else names
        for name in candidates:
            rows = _guarded(sheets[name](), source.name, name)
            first = _first_non_empty(rows)
            if first is not None or name == candidates[-1]:
                yield name, _chain_first(first, rows)
                return


@contextmanager
def _xlsx_sheets(source: ExportSource):
    try:
        stream = source.open()
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors alike mean an unreadable workbook
        raise _unreadable(source, exc) from exc
    try:
        yield {name: _xlsx_rows_factory(workbook[name]) for name in workbook.sheetnames}
    finally:
        workbook.close()
        stream.close()


def _xlsx_rows_factory(sheet):
    def rows() -> Iterator[tuple[int, Row]]:
        if _records_one_cell(sheet):
            sheet.reset_dimensions()  # some writers record "A1": read every row there is
        for row_number, cells in enumerate(sheet.iter_rows(), start=1):
            yield row_number, [xlsx_cell_text(cell) for cell in cells]

    return rows


def _records_one_cell(sheet) -> bool:
    try:
        return sheet.calculate_dimension() == "A1:A1"
    except ValueError:  # no recorded size: openpyxl measures the sheet itself
        return False


@contextmanager
def _xls_sheets(source: ExportSource):
    try:
        with source.open() as stream:
            workbook = python_calamine.CalamineWorkbook.from_filelike(stream)
    except Exception as exc:  # calamine raises its own error types per failure
        raise _unreadable(source, exc) from exc

    def rows_of(name: str):
        def rows() -> Iterator[tuple[int, Row]]:
            sheet = workbook.get_sheet_by_name(name)
            for row_number, cells in enumerate(sheet.iter_rows(), start=1):
                yield row_number, [cell_text(cell) for cell in cells]

        return rows

    yield {name: rows_of(name) for name in workbook.sheet_names}


def _unreadable(source: ExportSource, exc: Exception) -> ExportReadError:
    return ExportReadError(
        source.name,
        None,
        f"the {source.format.upper()} workbook cannot be opened: it is truncated, damaged or "
        f"password-protected ({type(exc).__name__}: {exc})",
        REOPEN_FIX,
    )


def _guarded(rows: Iterator[tuple[int, Row]], name: str, sheet_name: str):
    """The sheet's rows; a parse failure midway names the sheet and the last good row."""
    row_number = 0
    try:
        for row_number, row in rows:
            yield row_number, row
    except ExportReadError:
        raise
    except Exception as exc:  # zip/XML errors of a damaged workbook surface while streaming
        raise ExportReadError(
            name,
            row_number + 1,
            f"sheet {sheet_name!r} cannot be read past row {row_number} "
            f"({type(exc).__name__}: {exc})",
            REOPEN_FIX,
        ) from exc


def _first_non_empty(rows: Iterator[tuple[int, Row]]) -> tuple[int, Row] | None:
    for row_number, row in rows:
        if any(row):
            return row_number, row
    return None


def _chain_first(first: tuple[int, Row] | None, rows: Iterator[tuple[int, Row]]):
    if first is not None:
        yield first
        yield from rows


# --- header and rows --------------------------------------------------------


def _find_header(rows: Iterator[tuple[int, Row]]) -> tuple[int | None, Row | None, bool]:
    """(header row number, header cells, whether a data row follows)."""
    head: list[tuple[int, Row]] = []
    for row_number, row in rows:
        if any(row):
            head.append((row_number, row))
            if len(head) >= HEADER_SEARCH_ROWS:
                break
    if not head:
        return None, None, False
    position = 0
    while position + 1 < len(head) and _is_caption(head[position][1], head[position + 1][1]):
        position += 1
    header_row, header = head[position]
    has_data = position + 1 < len(head) or _first_non_empty(rows) is not None
    return header_row, header, has_data


def _is_caption(row: Row, next_row: Row) -> bool:
    """A title or merged group caption: one cell or gaps, above a fuller row of labels.

    A header with a blank cell has gaps too, but the row under it holds data.
    """
    filled = [i for i, cell in enumerate(row) if cell]
    has_gaps = filled[-1] - filled[0] + 1 > len(filled)
    fuller_next = sum(1 for cell in next_row if cell) > len(filled)
    return fuller_next and (len(filled) == 1 or has_gaps) and _all_labels(next_row)


def _all_labels(row: Row) -> bool:
    """No email, no number: what a header row holds and a data row seldom does."""
    return not any(cell and ("@" in cell or _NUMBER.match(cell)) for cell in row)


def _read_chunks(rows, info: ExportInfo, header_row: int, name: str, chunk_rows: int):
    width = len(info.headers)
    texts, lines, defects = [], [], []
    for row_number, values in rows:
        if row_number <= header_row or not any(values):
            continue
        defect = TOO_MANY_COLUMNS if any(values[width:]) else None
        texts.append((values + [None] * width)[:width])
        lines.append(row_number)
        defects.append(defect)
        if len(texts) >= chunk_rows:
            yield _chunk(info, name, texts, lines, defects)
            texts, lines, defects = [], [], []
    if texts:
        yield _chunk(info, name, texts, lines, defects)


def _chunk(info: ExportInfo, name: str, rows, lines, defects):
    columns = list(zip(*rows, strict=True))
    has_defects = any(defect is not None for defect in defects)
    table = build_raw_table(info.headers, columns, name, lines, defects if has_defects else None)
    return flag_lost_digits(table, info.headers)


# --- cell values ------------------------------------------------------------


def xlsx_cell_text(cell) -> str | None:
    """An openpyxl cell as shown, zero padding of its number format included."""
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text_as_formatted(value, cell.number_format)
    return cell_text(value)


def number_text_as_formatted(value: float, number_format: str | None) -> str | None:
    text = cell_text(value)
    pad = _ZERO_PAD_FORMAT.match(number_format or "")
    if text is None or pad is None or not text.isdigit():
        return text
    return ("+" if pad["plus"] else "") + text.zfill(len(pad["zeros"]))


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

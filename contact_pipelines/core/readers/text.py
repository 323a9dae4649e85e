"""CSV/TXT exports: encoding detection, delimiter sniffing, streamed parsing.

The content is taken as UTF-8 bytes (``utf8lines``: passed through for UTF-8,
transcoded on the fly otherwise) in blocks of ``chunk_rows`` physical lines,
so a file larger than memory goes through with memory bounded by one block.
pyarrow parses a block's bytes when every line is one record; the ``csv``
module takes blocks with quoted multi-line values, ragged rows or bad bytes,
because pyarrow cannot say which line a record starts on and drops a ragged
row's values, and both are part of the contract (``source_row`` is the
record's first physical line; ragged rows are kept with a ``row_defect``).
Values Excel already wrote in scientific notation are handled by
``damage.flag_lost_digits``. On a generated 1 GB contacts CSV the reader
runs at about pyarrow's own ``read_csv`` speed (``benchmarks/bench_ingest.py``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator

import charset_normalizer
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from contact_pipelines.core.readers.base import (
    TOO_FEW_COLUMNS,
    TOO_MANY_COLUMNS,
    ExportInfo,
    ExportReadError,
    RawExport,
    ReadOptions,
    build_raw_table,
    dedupe_headers,
    trim_trailing_blank_headers,
)
from contact_pipelines.core.readers.damage import flag_lost_digits, may_hold_scientific
from contact_pipelines.core.readers.source import ExportSource, looks_utf16_without_bom
from contact_pipelines.core.readers.utf8lines import Utf8Lines

SAMPLE_BYTES = 1 << 20  # enough to judge the encoding and the delimiter
SNIFF_RECORDS = 30
PARSE_BLOCK_BYTES = 1 << 20  # pyarrow parses a block's slices of this size on its threads
DELIMITERS = (",", ";", "\t", "|")
ENCODING_FIX = "set `encoding:` for this source in the pipeline config (e.g. cp1251, utf-16)"


def read_text(source: ExportSource, options: ReadOptions) -> RawExport:
    with source.open() as stream:
        sample = stream.read(SAMPLE_BYTES)
        whole_file_sampled = not stream.read(1)
    codec, encoding_label = _choose_encoding(sample, options, source.name)
    sample_text = _decode_sample(sample, codec, source.name)
    if not whole_file_sampled:
        sample_text = _drop_partial_last_line(sample_text)
    delimiter = options.delimiter or sniff_delimiter(sample_text)
    header_line, raw_headers, has_data = _header_and_data(sample_text, delimiter)
    if raw_headers is None:
        raise ExportReadError(
            source.name,
            None,
            "the file has no header row (only blank lines)",
            "re-export the data with a header row",
        )
    if whole_file_sampled and not has_data:
        raise ExportReadError(
            source.name,
            header_line,
            "the file has a header but no data rows",
            "re-export the data; the export came out empty",
        )
    headers = dedupe_headers(trim_trailing_blank_headers(raw_headers))
    cr_newlines = "\r" in sample_text and "\n" not in sample_text  # old Mac line ends
    info = ExportInfo(
        format=source.format_label, headers=headers, encoding=encoding_label, delimiter=delimiter
    )

    def chunks() -> Iterator:
        yield from _read_chunks(
            source, codec, cr_newlines, info, len(raw_headers), options.chunk_rows
        )

    return RawExport(info, chunks)


# --- encoding ---------------------------------------------------------------


def _choose_encoding(sample: bytes, options: ReadOptions, name: str) -> tuple[str, str]:
    """(codec to decode with, label recorded in info)."""
    if options.encoding:
        try:
            codec = codecs.lookup(options.encoding).name
        except LookupError as exc:
            raise ExportReadError(
                name, None, f"unknown encoding {options.encoding!r}", ENCODING_FIX
            ) from exc
        if codec == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        return codec, options.encoding
    return detect_encoding(sample)


def detect_encoding(sample: bytes) -> tuple[str, str]:
    """BOM first, then strict UTF-8, then cp1251 vs cp1252/latin-1 by statistics."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16", "utf-16-le"  # the utf-16 codec consumes the BOM
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", "utf-16-be"
    if looks_utf16_without_bom(sample):
        label = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        return label, label
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    guess = _cyrillic_or_western(sample)
    if guess == "cp1252" and not _decodes(sample, "cp1252"):
        return "latin-1", "latin-1"  # bytes cp1252 leaves undefined: only latin-1 maps every byte
    return guess, guess


def _cyrillic_or_western(sample: bytes) -> str:
    """cp1251 or cp1252 for non-UTF-8 bytes.

    Cyrillic words in cp1251 are runs of high bytes, while accented letters in
    cp1252 sit alone between ASCII letters: that settles clear cases, even in
    a short sample where statistics (charset-normalizer) are unsure.
    """
    high = np.frombuffer(sample, dtype=np.uint8) >= 0x80
    if high.sum() == 0:
        return "cp1252"
    neighbour = np.zeros_like(high)
    neighbour[1:] |= high[:-1]
    neighbour[:-1] |= high[1:]
    in_runs = float((high & neighbour).sum() / high.sum())
    if in_runs >= 0.6:
        return "cp1251"
    if in_runs <= 0.3:
        return "cp1252"
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp1251", "cp1252"]).best()
    return best.encoding if best is not None else "cp1252"


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        sample.decode(codec)
        return True
    except UnicodeDecodeError:
        return False


def _decode_sample(sample: bytes, codec: str, name: str) -> str:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        return decoder.decode(sample, final=False)
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
        raise ExportReadError(
            name, line, f"the bytes are not valid {codec} ({exc.reason})", ENCODING_FIX
        ) from exc


def _drop_partial_last_line(text: str) -> str:
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[: cut + 1] if cut >= 0 else text


# --- delimiter and header ---------------------------------------------------


def sniff_delimiter(sample_text: str) -> str:
    """The candidate that splits the header into most columns consistently with the rows.

    Quote-aware (parsed with ``csv``), so commas inside quoted values do not vote.
    A file where no candidate splits the header is one column: "," then.
    """
    best, best_score = ",", (0.0, 1)
    for candidate in DELIMITERS:
        records = [r for r in _sample_records(sample_text, candidate) if any(r)]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        data = records[1:] or records
        consistency = sum(len(r) == width for r in data) / len(data)
        score = (consistency, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _sample_records(sample_text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter, strict=False)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= SNIFF_RECORDS:
                break
    except csv.Error:
        pass  # judged on what parsed; the real read reports the line
    return records


def _header_and_data(sample_text: str, delimiter: str) -> tuple[int | None, list[str] | None, bool]:
    """(header line, header values, whether a non-blank record follows)."""
    reader = csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter, strict=False)
    header_line, headers, last_line = None, None, 0
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if is_blank(record):
                continue
            if headers is not None:
                return header_line, headers, True
            header_line, headers = start, record
    except csv.Error:
        return header_line, headers, headers is not None
    return header_line, headers, False


# --- rows -------------------------------------------------------------------
#
# The content is taken as UTF-8 bytes in blocks of ``chunk_rows`` physical
# lines. A block in which every line holds an even number of quotes cannot
# contain a record spanning lines, so each non-blank line is one record and
# its number is known: pyarrow parses the bytes (vectorised, multi-threaded).
# Any other block, or one pyarrow rejects (ragged rows, bad UTF-8), goes
# through the ``csv`` module, which may read past the block's end to finish a
# quoted multi-line record.

_QUOTE = ord('"')


def _read_chunks(
    source: ExportSource,
    codec: str,
    cr_newlines: bool,
    info: ExportInfo,
    raw_width: int,
    chunk_rows: int,
) -> Iterator[pa.Table]:
    delimiter = info.delimiter or ","
    with source.open() as binary:
        stream = Utf8Lines(binary, codec, cr_newlines)
        try:
            _skip_header(stream.lines(), delimiter)
            while True:
                lines_before = stream.lines_taken
                block = stream.take_block(chunk_rows)
                if not block:
                    break
                table = _parse_block_fast(block, lines_before, info, raw_width, source.name)
                if table is None:
                    table = _parse_block_csv(block, stream, lines_before, info, source.name)
                if table.num_rows:
                    yield table
        except UnicodeDecodeError as exc:
            raise ExportReadError(
                source.name,
                _first_undecodable_line(source, codec),  # the decoder reads ahead of the parser
                f"the text is not valid {exc.encoding} ({exc.reason})",
                ENCODING_FIX,
            ) from exc


def _skip_header(lines: Iterator[str], delimiter: str) -> None:
    """Consume blank lines and the header record.

    ``csv.reader`` pulls lines only as it needs them, so ``lines`` is left
    exactly after the header.
    """
    for record in csv.reader(lines, delimiter=delimiter, strict=False):
        if not is_blank(record):
            break


def _parse_block_fast(
    block: bytes, lines_before: int, info: ExportInfo, raw_width: int, name: str
) -> pa.Table | None:
    """The block's records via pyarrow, or None when the csv module must decide."""
    data = np.frombuffer(block, dtype=np.uint8)
    starts, stops = _line_bounds(data)
    if _any_odd_quotes(data, starts, stops):
        return None
    parsed = _pyarrow_parse(block, info.delimiter or ",", raw_width)
    parsed_lines = _non_empty_lines(data, starts, stops)  # pyarrow skips empty lines itself
    if parsed is None or parsed.num_rows != len(parsed_lines):
        return None
    blank = _blank_rows(parsed)  # lines of only delimiters and spaces: no record
    if blank is not None:
        parsed = parsed.filter(pc.invert(blank))
        parsed_lines = parsed_lines[~blank.to_numpy(zero_copy_only=False)]
    if not _only_blank_extras(parsed, info):
        return None
    columns = [parsed.column(i) for i in range(len(info.headers))]
    table = build_raw_table(
        info.headers, columns, name, parsed_lines + lines_before + 1, blanks_are_null=True
    )
    return flag_lost_digits(table, info.headers) if may_hold_scientific(data) else table


def _non_empty_lines(data: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    lengths = stops - starts
    ends_with_cr = (lengths > 0) & (data[np.maximum(stops - 1, 0)] == ord("\r"))
    return np.flatnonzero(lengths - ends_with_cr > 0)


def _blank_rows(parsed: pa.Table) -> pa.Array | None:
    """Rows whose every value is null or whitespace, or None when there is none."""
    blank = None
    for column in parsed.columns:
        empty = pc.fill_null(pc.utf8_is_space(column), True)
        blank = empty if blank is None else pc.and_(blank, empty)
    blank = blank.combine_chunks() if isinstance(blank, pa.ChunkedArray) else blank
    return blank if pc.any(blank).as_py() else None


def _line_bounds(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (before the newline) offsets of every physical line of a block."""
    ends = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    if starts[-1] == len(data):  # the block ends with a newline: no unterminated last line
        starts, stops = starts[:-1], stops[:-1]
    return starts, stops


def _any_odd_quotes(data: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> bool:
    quotes = np.flatnonzero(data == _QUOTE)
    if not len(quotes):
        return False
    per_line = np.searchsorted(quotes, stops) - np.searchsorted(quotes, starts)
    return bool((per_line & 1).any())


def _pyarrow_parse(payload: bytes, delimiter: str, width: int) -> pa.Table | None:
    names = [f"c{i}" for i in range(width)]
    try:
        return pa_csv.read_csv(
            pa.BufferReader(payload),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=PARSE_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,  # "" and "\"\"" are null, as the contract says
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid:
        return None  # ragged rows or bad UTF-8: the csv module names the defect or the line


def _only_blank_extras(parsed: pa.Table, info: ExportInfo) -> bool:
    """Columns past the header's width came from trailing delimiters and must be empty."""
    for extra in parsed.columns[len(info.headers) :]:
        if pc.max(pc.utf8_length(pc.utf8_trim_whitespace(extra))).as_py():
            return False
    return True


def _parse_block_csv(
    block: bytes, stream: Utf8Lines, lines_before: int, info: ExportInfo, name: str
) -> pa.Table:
    """Records starting in the block, via the csv module (which may take lines after it)."""
    block_lines = _decoded_lines(block, lines_before, name)
    reader = csv.reader(
        itertools.chain(block_lines, stream.lines()), delimiter=info.delimiter, strict=False
    )
    width = len(info.headers)
    rows, source_rows, defects = [], [], []
    consumed = 0
    while consumed < len(block_lines):
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ExportReadError(
                name,
                lines_before + consumed + 1,
                f"the CSV cannot be parsed ({exc}); a quote is probably never closed",
                "close or remove the stray quote on that line, or re-export with quoting",
            ) from exc
        start, consumed = consumed + 1, reader.line_num
        if is_blank(record):
            continue
        record, defect = fit_record(record, width)
        rows.append(record)
        source_rows.append(lines_before + start)
        defects.append(defect)
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in info.headers]
    has_defects = any(defect is not None for defect in defects)
    table = build_raw_table(
        info.headers, columns, name, source_rows, defects if has_defects else None
    )
    return flag_lost_digits(table, info.headers)


def _decoded_lines(block: bytes, lines_before: int, name: str) -> list[str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportReadError(
            name,
            lines_before + block.count(b"\n", 0, exc.start) + 1,
            f"the text is not valid utf-8 ({exc.reason})",
            ENCODING_FIX,
        ) from exc
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _first_undecodable_line(source: ExportSource, codec: str) -> int | None:
    decoder = codecs.getincrementaldecoder(codec)()
    with source.open() as stream:
        for line_number, raw_line in enumerate(stream, start=1):
            try:
                decoder.decode(raw_line)
            except UnicodeDecodeError:
                return line_number
    return None


def is_blank(record: list[str]) -> bool:
    """A record with no visible content: an empty line, delimiters only, or spaces."""
    return not "".join(record).strip()


def fit_record(record: list[str], width: int) -> tuple[list[str], str | None]:
    """Pad or cut a ragged record to the header width, naming the defect.

    Extra fields that are all empty are trailing delimiters, not a defect.
    """
    if len(record) == width:
        return record, None
    if len(record) < width:
        return record + [""] * (width - len(record)), TOO_FEW_COLUMNS
    extra = record[width:]
    return record[:width], (TOO_MANY_COLUMNS if any(field.strip() for field in extra) else None)

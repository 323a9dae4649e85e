"""Numbers that Excel already damaged before the export reached us.

Excel shows a number of more than 11 digits in the General format as
``4.47712E+11`` and saves a CSV (or a text cell) with exactly that text:
every digit after the sixth is gone, so a phone or a customer id in it
cannot be recovered and any number made from it would be a wrong one.

The mechanism, per cell of every column (any column: ids and phones alike):

- ``4.47712345678E+11``: as many fractional digits as the exponent, so the
  integer is exact and its digits are kept (``447712345678``);
- anything else in scientific notation (``4.47712E+11``, ``4,47712E+11``):
  digits were lost. The cell becomes null, never a guessed number, and the
  row's ``row_defect`` names the column: ``lost_digits:<header>``. Several
  defects on one row are joined with ``;``. The validator counts the defect
  as a warning on a row that keeps another identifier and rejects (reason
  ``row_defect``) a row that had no other one, so the row is accounted for
  and the landed file (never changed) still holds the original text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.fields import ROW_DEFECT

LOST_DIGITS = "lost_digits"
DEFECT_SEPARATOR = ";"
_SCIENTIFIC = r"^\s*[+]?(?P<whole>\d)(?:[.,](?P<fraction>\d*))?[eE]\+?(?P<exponent>\d{1,3})\s*$"
_MARKERS = ("E+", "e+")
_MARKER_LETTERS = np.array([ord("E"), ord("e")], dtype=np.uint8)


def may_hold_scientific(content: np.ndarray) -> bool:
    """Cheap test on a block's bytes (uint8): most blocks skip the per-column work."""
    plus = np.flatnonzero(content[1:] == ord("+"))
    return bool(np.isin(content[plus], _MARKER_LETTERS).any())


def flag_lost_digits(table: pa.Table, headers: Sequence[str]) -> pa.Table:
    """Exact digits for exact scientific values; null and a ``lost_digits`` defect for the rest."""
    defects = table.column(ROW_DEFECT).combine_chunks()
    for header in headers:
        column = table.column(header).combine_chunks()
        if not _has_marker(column):
            continue
        repaired, lost = _repair(column)
        if repaired is None:
            continue
        table = table.set_column(table.schema.get_field_index(header), header, repaired)
        defects = add_defect(defects, lost, f"{LOST_DIGITS}:{header}")
    return table.set_column(table.schema.get_field_index(ROW_DEFECT), ROW_DEFECT, defects)


def _has_marker(column: pa.Array) -> bool:
    found = pc.or_(*(pc.match_substring(column, marker) for marker in _MARKERS))
    return bool(pc.any(found).as_py())


def _repair(column: pa.Array) -> tuple[pa.Array | None, pa.Array]:
    parts = pc.extract_regex(column, _SCIENTIFIC)
    matched = pc.fill_null(pc.is_valid(parts), False)
    if not pc.any(matched).as_py():
        return None, matched
    fraction = pc.struct_field(parts, "fraction")
    exponent = pc.cast(pc.struct_field(parts, "exponent"), pa.int32())
    exact = pc.fill_null(pc.equal(pc.utf8_length(fraction), exponent), False)
    digits = pc.binary_join_element_wise(pc.struct_field(parts, "whole"), fraction, "")
    lost = pc.and_(matched, pc.invert(exact))
    repaired = pc.if_else(pc.and_(matched, exact), digits, column)
    repaired = pc.if_else(lost, pa.scalar(None, pa.string()), repaired)
    return repaired, lost


def add_defect(defects: pa.Array, where: pa.Array, defect: str) -> pa.Array:
    """``defect`` appended (``;``-joined) to the rows' defects where ``where`` holds."""
    joined = pc.binary_join_element_wise(defects, defect, DEFECT_SEPARATOR)  # null if no defect yet
    return pc.if_else(where, pc.coalesce(joined, defect), defects)

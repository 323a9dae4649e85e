"""Vectorised normalisers: one module per kind of value.

Each normaliser takes a column (``pa.Array``, ``pa.ChunkedArray``, ``pd.Series``
or a list of strings) and returns a :class:`Normalized`: the normalised
values (null where absent or unusable), a ``valid`` mask and one warning code
per row (null when there is nothing to say). Work that needs a per-value
library call (phonenumbers, email-validator, pycountry) runs once per unique
value and is spread back over the rows with ``take``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Normalized:
    values: pa.Array  # normalised values, null where absent or unusable
    valid: pa.BooleanArray  # True where a usable value came out
    present: pa.BooleanArray  # True where the input held a value
    warnings: pa.Array  # string: a warning code per row, null when none

    @property
    def invalid(self) -> pa.BooleanArray:
        """Rows that held a value which had to be dropped."""
        return pc.and_(self.present, pc.invert(self.valid))


def as_string_array(values: Any) -> pa.Array:
    """Any column-like input as one contiguous ``pa.string()`` array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif isinstance(values, pd.Series):
        values = pa.Array.from_pandas(values.astype("object"))
    elif not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def clean_strings(values: Any) -> pa.Array:
    """Trim whitespace (and a stray BOM); empty strings become null."""
    trimmed = pc.utf8_trim(as_string_array(values), characters=" \t\r\n\f\v\u00a0\ufeff")
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def present_mask(values: pa.Array) -> pa.BooleanArray:
    return pc.is_valid(values)


def map_unique(
    values: pa.Array, func: Callable[[str], Sequence[Any]], types: Sequence[pa.DataType]
) -> tuple[pa.Array, ...]:
    """Apply a per-value ``func`` once per unique value; one output array per type.

    ``func`` returns a tuple with one item per type. Null inputs give null outputs.
    """
    encoded = pc.dictionary_encode(values)
    results = [func(value) for value in encoded.dictionary.to_pylist()]
    columns = list(zip(*results, strict=True)) if results else [()] * len(types)
    return tuple(
        pc.take(pa.array(list(column), type=type_), encoded.indices)
        for column, type_ in zip(columns, types, strict=True)
    )


def warning_where(mask: pa.BooleanArray, code: str) -> pa.Array:
    """``code`` where ``mask`` is true, else null."""
    return pc.if_else(pc.fill_null(mask, False), code, pa.scalar(None, pa.string()))


def first_warning(*warnings: pa.Array) -> pa.Array:
    """Per row, the first non-null warning code among the given arrays."""
    return pc.coalesce(*warnings)


def lookup_normalized(
    values: Any, table: dict[str, Any], value_type: pa.DataType, field: str
) -> Normalized:
    """Map each value through ``table`` after folding case and whitespace.

    Unknown values are dropped with the warning ``invalid_<field>``.
    """
    cleaned = clean_strings(values)
    keys = fold_key(cleaned)
    (mapped,) = map_unique(keys, lambda key: (table.get(key),), [value_type])
    present = present_mask(cleaned)
    valid = pc.is_valid(mapped)
    invalid = pc.and_(present, pc.invert(valid))
    return Normalized(mapped, valid, present, warning_where(invalid, f"invalid_{field}"))


def fold_key(values: pa.Array) -> pa.Array:
    """Case-folded, whitespace-collapsed lookup key."""
    lowered = pc.utf8_lower(values)
    return pc.replace_substring_regex(lowered, r"\s+", " ")

"""Names and free text: trimmed, whitespace folded; names cut to 40 chars.

40 characters is Reteno's limit for ``firstName``/``lastName``, the strictest
of the three vendors, so a name that fits here fits everywhere. Also the
group splitter (``"VIP; Newsletter|vip"`` -> ``["VIP", "Newsletter", "vip"]``)
and the plain trimmer used for ids, tokens and address parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.normalize import (
    Normalized,
    clean_strings,
    present_mask,
    warning_where,
)

NAME_MAX_CHARS = 40
_GROUP_SEPARATORS = r"[,;|]"


def normalize_names(values: Any) -> Normalized:
    """Trim and fold whitespace; longer than 40 chars is cut with ``name_truncated``."""
    folded = fold_whitespace(values)
    too_long = pc.greater(pc.utf8_length(folded), NAME_MAX_CHARS)
    cut = pc.utf8_rtrim_whitespace(pc.utf8_slice_codeunits(folded, 0, NAME_MAX_CHARS))
    names = pc.if_else(too_long, cut, folded)
    present = present_mask(folded)
    return Normalized(names, present, present, warning_where(too_long, "name_truncated"))


def fold_whitespace(values: Any) -> pa.Array:
    """Runs of whitespace become one space; trimmed; empty is null."""
    return clean_strings(pc.replace_substring_regex(clean_strings(values), r"\s+", " "))


def clean_text(values: Any) -> Normalized:
    """Trimmed text, nothing else: ids, tokens, address parts."""
    cleaned = clean_strings(values)
    present = present_mask(cleaned)
    return Normalized(cleaned, present, present, pa.nulls(len(cleaned), pa.string()))


def split_groups(values: Any) -> pa.ListArray:
    """Split on ``,`` ``;`` ``|``; trim, drop empties, keep order, drop repeats.

    Null or empty input gives null (no groups), not an empty list.
    """
    cleaned = clean_strings(values)
    pieces = pc.split_pattern_regex(cleaned, _GROUP_SEPARATORS)
    pairs = pd.DataFrame(
        {
            "row": pc.list_parent_indices(pieces).to_numpy(),
            "name": clean_strings(pc.list_flatten(pieces)),
        }
    )
    # drop_duplicates keeps the first occurrence, so the source's order survives
    pairs = pairs.dropna().drop_duplicates()
    rows = pairs["row"].to_numpy()
    names = pa.array(pairs["name"].to_numpy(dtype=object), pa.string())
    counts = np.bincount(rows, minlength=len(cleaned))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    lists = pa.ListArray.from_arrays(offsets, names)
    return pc.if_else(
        pc.greater(pa.array(counts), 0), lists, pa.scalar(None, pa.list_(pa.string()))
    )

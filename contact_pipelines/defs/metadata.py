"""Materialization metadata: counts, timings and previews with PII masked."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from contact_pipelines.core.mask import mask_table

PREVIEW_ROWS = 5


def masked_preview(table: pa.Table | None) -> dg.MetadataValue:
    """A few rows as a Markdown table, every personal value masked."""
    if table is None or table.num_rows == 0:
        return dg.MetadataValue.md("_no rows_")
    rows = mask_table(table, max_rows=PREVIEW_ROWS)
    columns = list(rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = ["" if row[c] is None else str(row[c]).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def counts(mapping: dict) -> dg.MetadataValue:
    return dg.MetadataValue.json({str(k): v for k, v in sorted(mapping.items(), key=str)})


def seconds(value: float) -> dg.MetadataValue:
    return dg.MetadataValue.float(round(value, 3))

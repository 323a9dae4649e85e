"""The run summary (`--summary-json`), computed from what the warehouse holds.

Shape (a contract scripts rely on): {"rows_read", "rows_valid", "rows_rejected",
"rejected_by_reason": {code: n}, "contacts", "segments": {name: n},
"vendors": {vendor: {"sent", "created", "updated", "unchanged", "rejected"}}}.
"""

from __future__ import annotations

import pyarrow.compute as pc

from contact_pipelines.core.fields import DELIVERY_LOG_SCHEMA, MEMBERSHIP_SCHEMA, REJECTED_SCHEMA
from contact_pipelines.core.stages import (
    CARDS,
    DELIVERY_LOG,
    MEMBERSHIPS,
    RAW,
    REJECTED,
    VALIDATED,
    value_counts,
)
from contact_pipelines.core.warehouse import Warehouse

OUTCOME_KEYS = ("created", "updated", "unchanged", "rejected")


def build_summary(
    warehouse: Warehouse,
    file_partitions: list[str],
    sync_run_ids: list[str],
    vendors: tuple[str, ...],
) -> dict:
    rejected = warehouse.read_many(
        REJECTED, file_partitions, columns=["reason"], schema=REJECTED_SCHEMA
    )
    return {
        "rows_read": sum(warehouse.row_count(RAW, p) for p in file_partitions),
        "rows_valid": sum(warehouse.row_count(VALIDATED, p) for p in file_partitions),
        "rows_rejected": rejected.num_rows,
        "rejected_by_reason": dict(sorted(value_counts(rejected["reason"]).items())),
        "contacts": sum(warehouse.row_count(CARDS, p) for p in warehouse.partitions(CARDS)),
        "segments": _segment_counts(warehouse),
        "vendors": {v: _vendor_counts(warehouse, v, sync_run_ids) for v in vendors},
    }


def _segment_counts(warehouse: Warehouse) -> dict[str, int]:
    memberships = warehouse.read_many(
        MEMBERSHIPS,
        warehouse.partitions(MEMBERSHIPS),
        columns=["segment"],
        schema=MEMBERSHIP_SCHEMA,
    )
    return dict(sorted(value_counts(memberships["segment"]).items()))


def _vendor_counts(warehouse: Warehouse, vendor: str, run_ids: list[str]) -> dict[str, int]:
    wanted = {f"-{run_id}" for run_id in run_ids}
    partitions = [
        p
        for p in warehouse.partitions(DELIVERY_LOG)
        if p.startswith(f"{vendor}-") and any(p.endswith(suffix) for suffix in wanted)
    ]
    log = warehouse.read_many(
        DELIVERY_LOG, partitions, columns=["outcome", "batch_id"], schema=DELIVERY_LOG_SCHEMA
    )
    outcomes = value_counts(log["outcome"])
    # sent: contacts that went out in a batch this run (a card the vendor cannot take
    # is rejected before sending and has no batch)
    sent = log.num_rows - pc.sum(pc.is_null(log["batch_id"])).as_py() if log.num_rows else 0
    return {"sent": sent, **{key: outcomes.get(key, 0) for key in OUTCOME_KEYS}}

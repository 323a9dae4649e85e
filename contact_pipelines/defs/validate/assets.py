import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.core.landing import partition_key_file_name
from contact_pipelines.defs.metadata import counts, masked_preview, seconds
from contact_pipelines.defs.partitions import landed_files
from contact_pipelines.defs.resources import PipelineResource

# Reject-rate thresholds: above WARN the check warns, above ERROR it blocks downstream.
REJECT_RATE_WARN, REJECT_RATE_ERROR = 0.05, 0.5


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "validated_contacts",
            deps=["raw_contacts"],
            group_name="validate",
            kinds={"python", "parquet"},
            owners=["team:data-engineering"],
            description="Rows of one file mapped to the canonical fields and normalised "
            "(emails, E.164 phones, ISO dates and codes); only rows with a usable identifier.",
        ),
        dg.AssetSpec(
            "rejected_contacts",
            deps=["raw_contacts"],
            group_name="validate",
            kinds={"python", "parquet"},
            owners=["team:data-engineering"],
            description="Rows of one file that yield no usable identifier, with a reason code, "
            "a message naming the line and the fix, and the original values.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "row_accounting",
            asset="validated_contacts",
            blocking=True,
            description="Every raw row is in exactly one of validated_contacts and rejected_contacts.",
        ),
        dg.AssetCheckSpec(
            "reject_rate",
            asset="validated_contacts",
            blocking=True,
            description=f"Share of rejected rows: WARN above {REJECT_RATE_WARN:.0%}, "
            f"ERROR (blocks downstream) above {REJECT_RATE_ERROR:.0%}.",
        ),
    ],
    partitions_def=landed_files,
    pool="ingest",
)
def validated_and_rejected_contacts(context: dg.AssetExecutionContext, pipeline: PipelineResource):
    key = context.partition_key
    warehouse = pipeline.warehouse()
    stats = stages.validate_file(
        partition_key_file_name(key), key, pipeline.load_config(), warehouse
    )
    raw_rows = warehouse.row_count(stages.RAW, key)
    yield dg.MaterializeResult(
        asset_key="validated_contacts",
        metadata={
            "dagster/row_count": stats.rows_valid,
            "rows_in": stats.rows_in,
            "warnings": counts(stats.warnings),
            "seconds": seconds(stats.seconds),
            "preview": masked_preview(stats.preview),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_contacts",
        metadata={
            "dagster/row_count": stats.rows_rejected,
            "rejected_by_reason": counts(stats.rejected_by_reason),
        },
    )
    accounted = stats.rows_valid + stats.rows_rejected
    yield dg.AssetCheckResult(
        check_name="row_accounting",
        asset_key="validated_contacts",
        passed=accounted == raw_rows,
        metadata={"raw_rows": raw_rows, "valid": stats.rows_valid, "rejected": stats.rows_rejected},
        description=None
        if accounted == raw_rows
        else f"{raw_rows - accounted} raw rows unaccounted for",
    )
    yield _reject_rate_result(stats)


def _reject_rate_result(stats: stages.ValidateStats) -> dg.AssetCheckResult:
    rate = stats.rows_rejected / stats.rows_in if stats.rows_in else 0.0
    severity = (
        dg.AssetCheckSeverity.ERROR if rate > REJECT_RATE_ERROR else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        check_name="reject_rate",
        asset_key="validated_contacts",
        passed=rate <= REJECT_RATE_WARN,
        severity=severity,
        metadata={
            "reject_rate": dg.MetadataValue.float(round(rate, 4)),
            "rejected_by_reason": counts(stats.rejected_by_reason),
        },
    )

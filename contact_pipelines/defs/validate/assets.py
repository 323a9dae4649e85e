"""validated_contacts and rejected_contacts, per landed file, with their checks.

Checks: ``row_accounting`` and ``reject_rate`` from the run's counts, then one
check per data-quality expectation group of :func:`core.quality.validated_suite`
(Great Expectations 1.x, run here on the partition just written). All are
blocking: an ERROR-severity failure stops the downstream syncs for this data;
a WARN-severity failure is reported and lets them run.
"""

import dagster as dg
import pyarrow.parquet as pq

from contact_pipelines.core import quality, stages
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
        *(
            dg.AssetCheckSpec(
                check.name,
                asset="validated_contacts",
                blocking=True,
                description=f"[{check.severity}] {check.description}",
            )
            for check in quality.validated_suite()
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
    results = list(_check_results(stats, raw_rows, warehouse, key))
    failed = [r.check_name for r in results if _blocks(r)]
    if failed:  # the data stays in the warehouse for inspection but goes no further
        stages.quarantine_partition(warehouse, key, failed)
        context.log.error(f"{key}: checks {failed} failed with ERROR; file quarantined")
    else:
        stages.release_partition(warehouse, key)
    yield from results


def _blocks(result: dg.AssetCheckResult) -> bool:
    return not result.passed and result.severity == dg.AssetCheckSeverity.ERROR


def _check_results(stats, raw_rows: int, warehouse, key: str):
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
    yield from _quality_results(warehouse, key)


def _quality_results(warehouse, partition_key: str):
    """The data-quality suite on the partition just written, one check result per group."""
    suite = quality.validated_suite()
    stored = pq.read_schema(
        warehouse.path(stages.VALIDATED, partition_key), filesystem=warehouse.fs
    )
    table = warehouse.read(stages.VALIDATED, partition_key, columns=quality.columns_needed(suite))
    for outcome in quality.run_suite(table, suite, column_names=stored.names):
        yield dg.AssetCheckResult(
            check_name=outcome.check.name,
            asset_key="validated_contacts",
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity[outcome.check.severity],
            description=outcome.summary,
            metadata={
                "failed_expectations": dg.MetadataValue.json(
                    [_result_json(r) for r in outcome.results if not r.success]
                ),
                "expectations": len(outcome.results),
            },
        )


def _result_json(result: quality.ExpectationResult) -> dict:
    return {
        "expectation": result.expectation,
        "unexpected_count": result.unexpected_count,
        "unexpected_percent": round(result.unexpected_percent, 4),
        "examples_masked": result.examples,
    }


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

"""One sync asset per vendor and shard, each in its own pool (the pool caps concurrent calls)."""

from pathlib import Path

import dagster as dg
import pyarrow.compute as pc

from contact_pipelines.core import stages
from contact_pipelines.defs.metadata import counts, masked_preview, seconds
from contact_pipelines.defs.partitions import shards
from contact_pipelines.defs.resources import VENDOR_RESOURCES, PipelineResource

VENDOR_TITLES = {
    "reteno": "Reteno",
    "dotdigital": "Dotdigital",
    "pushtech": "Pushtech / Cendyn CRM",
}


class SyncConfig(dg.Config):
    dry_run: bool = False  # build and validate every payload, send nothing
    dry_run_dir: str | None = (
        None  # where dry-run payloads go (JSON Lines); default <warehouse>/_dry_run
    )


def build_sync_asset(vendor: str) -> dg.AssetsDefinition:
    title = VENDOR_TITLES[vendor]

    @dg.asset(
        name=f"{vendor}_sync",
        partitions_def=shards,
        deps=["contact_cards", "segment_memberships"],
        group_name="delivery",
        kinds={"python", vendor},
        owners=["team:data-engineering"],
        pool=vendor,
        required_resource_keys={"pipeline", vendor},
        check_specs=[
            dg.AssetCheckSpec(
                "delivery_accounting",
                asset=f"{vendor}_sync",
                blocking=True,
                description=f"Every card of the shard has exactly one {title} outcome in this run.",
            )
        ],
        description=(
            f"Send the shard's changed cards to {title}: compare each payload with the last one the "
            "vendor accepted (the delivery ledger), send only changes in batches within the vendor's "
            "limits, wait for the async import and record every contact's outcome in delivery_log."
        ),
    )
    def _sync(context: dg.AssetExecutionContext, config: SyncConfig):
        pipeline: PipelineResource = context.resources.pipeline
        vendor_resource = getattr(context.resources, vendor)
        shard = int(context.partition_key)
        warehouse = pipeline.warehouse()
        pipeline_config = pipeline.load_config()
        if not getattr(pipeline_config.vendors, vendor).enabled:
            context.log.info(
                f"{title} is disabled in the config (vendors.{vendor}.enabled); nothing sent"
            )
            yield dg.MaterializeResult(metadata={"disabled": True, "dagster/row_count": 0})
            yield dg.AssetCheckResult(
                check_name="delivery_accounting", passed=True, description="vendor disabled"
            )
            return
        dry_run_dir = Path(config.dry_run_dir or pipeline.state_dir() / "dry_run")
        result = stages.deliver_shard(
            vendor,
            shard,
            pipeline_config,
            warehouse,
            credentials=None if config.dry_run else vendor_resource.credentials(),
            ledger=pipeline.ledger(),
            run_id=context.run.run_id,
            dry_run=config.dry_run,
            dry_run_dir=dry_run_dir,
            logger=context.log,
        )
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.log.num_rows,
                "outcomes": counts(result.counts),
                "dry_run": config.dry_run,
                "dry_run_file": str(result.dry_run_file) if result.dry_run_file else "n/a",
                "resumed_batches": result.resumed_batches,
                "timings": counts({k: round(v, 3) for k, v in result.timings.items()}),
                "seconds": seconds(result.timings.get("total_seconds", 0.0)),
                "preview": masked_preview(result.log.slice(0, 5)),
            }
        )
        yield _accounting_result(vendor, shard, result.log, warehouse)

    return _sync


def _accounting_result(vendor, shard, log, warehouse) -> dg.AssetCheckResult:
    cards = warehouse.read(stages.CARDS, str(shard), columns=["contact_key"])
    logged = log["contact_key"]
    distinct_logged = pc.count_distinct(logged).as_py() if log.num_rows else 0
    missing = (
        cards.num_rows - pc.sum(pc.is_in(cards["contact_key"], value_set=logged)).as_py()
        if cards.num_rows
        else 0
    )
    passed = missing == 0 and distinct_logged == log.num_rows
    return dg.AssetCheckResult(
        check_name="delivery_accounting",
        asset_key=f"{vendor}_sync",
        passed=passed,
        metadata={
            "cards": cards.num_rows,
            "outcomes": log.num_rows,
            "cards_without_outcome": missing,
            "duplicate_outcomes": log.num_rows - distinct_logged,
        },
    )


reteno_sync, dotdigital_sync, pushtech_sync = (build_sync_asset(v) for v in VENDOR_RESOURCES)

import dagster as dg

SHARD_ASSETS = dg.AssetSelection.assets(
    "contact_cards", "segment_memberships", "reteno_sync", "dotdigital_sync", "pushtech_sync"
)

identity_job = dg.define_asset_job(
    name="identity_job",
    selection=dg.AssetSelection.assets("identity_graph"),
    description="Re-resolve who is who across the whole base (first step of the nightly CRM sync).",
)

shard_sync_job = dg.define_asset_job(
    name="shard_sync_job",
    selection=SHARD_ASSETS,
    description="Cards, segments and the vendor syncs for one shard. The nightly sync runs every "
    "shard after identity_job; a one-off migration is a backfill of this job over all shards.",
)

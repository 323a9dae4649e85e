"""The code location loads and holds every asset, check, job, sensor and schedule of the design."""

import dagster as dg

from contact_pipelines.definitions import defs as load_defs

ASSETS = {
    "raw_contacts",
    "validated_contacts",
    "rejected_contacts",
    "identity_graph",
    "contact_cards",
    "segment_memberships",
    "reteno_sync",
    "dotdigital_sync",
    "pushtech_sync",
}
CHECKS = {
    ("validated_contacts", "row_accounting"),
    ("validated_contacts", "reject_rate"),
    ("contact_cards", "one_card_per_person"),
    ("reteno_sync", "delivery_accounting"),
    ("dotdigital_sync", "delivery_accounting"),
    ("pushtech_sync", "delivery_accounting"),
}


def _defs() -> dg.Definitions:
    return load_defs() if callable(load_defs) else load_defs


def test_every_asset_is_there_with_description_kinds_group_and_owner():
    specs = {spec.key.to_user_string(): spec for spec in _defs().resolve_all_asset_specs()}
    assert set(specs) >= ASSETS
    for name in ASSETS:
        spec = specs[name]
        assert spec.description, name
        assert spec.kinds, name
        assert spec.group_name and spec.group_name != "default", name
        assert spec.owners, name


def test_vendor_syncs_each_have_their_own_pool():
    graph = _defs().resolve_asset_graph()
    pools = {
        vendor: graph.get(dg.AssetKey(f"{vendor}_sync")).pools
        for vendor in ("reteno", "dotdigital", "pushtech")
    }
    assert pools == {"reteno": {"reteno"}, "dotdigital": {"dotdigital"}, "pushtech": {"pushtech"}}


def test_checks_jobs_sensors_schedules():
    defs = _defs()
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert checks >= CHECKS
    blocking = {
        (spec.asset_key.to_user_string(), spec.name)
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if spec.blocking
    }
    assert ("validated_contacts", "row_accounting") in blocking
    for job in ("ingest_job", "identity_job", "shard_sync_job"):
        assert defs.resolve_job_def(job)
    assert defs.resolve_sensor_def("landing_sensor")
    assert defs.resolve_sensor_def("identity_updated_sensor")
    schedule = defs.resolve_schedule_def("nightly_crm_sync")
    assert schedule.cron_schedule == "0 2 * * *"


def test_partitions():
    graph = _defs().resolve_asset_graph()
    assert graph.get(dg.AssetKey("raw_contacts")).partitions_def.name == "landed_files"
    shard_keys = graph.get(dg.AssetKey("contact_cards")).partitions_def.get_partition_keys()
    assert shard_keys == [str(i) for i in range(8)]

"""Payloads built in worker processes (big shards) give exactly what the in-process build
gives: the same requests' contacts at the vendor, the same outcomes, hashes and ledger."""

from __future__ import annotations

import pytest

from contact_pipelines.core.delivery import PollPolicy, RetryPolicy, from_env, run_vendor_sync
from contact_pipelines.core.delivery import sync as sync_module
from contact_pipelines.core.delivery.ledger import Ledger

pytestmark = pytest.mark.slow

VENDORS = ("reteno", "dotdigital", "pushtech")
CONFIG = {
    "reteno": {"fields": {"plan_type": 12345}, "batch_size": 40},
    "dotdigital": {
        "data_fields": {"first_name": "FIRSTNAME", "plan_type": "PLAN"},
        "lists": {"Customers": 101},
        "batch_size": 40,
    },
    "pushtech": {"lists": {"Customers": "5f1c0a"}, "batch_size": 40},
}


def _sync(vendor, sandbox, cards, members, config, ledger):
    return run_vendor_sync(
        vendor,
        cards,
        members,
        config,
        from_env(vendor, sandbox.env()),
        ledger,
        run_id="run-1",
        shard=0,
        retry=RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=0.1),
        poll=PollPolicy(initial_interval=0.02, max_interval=0.1, timeout=20, webhook_timeout=5),
    )


def _delivered(vendor, sandbox, cards, members, config, ledger_path, monkeypatch, workers):
    monkeypatch.setattr(sync_module, "PARALLEL_BUILD_MIN_CARDS", 0 if workers else 10**9)
    monkeypatch.setenv(sync_module.BUILD_WORKERS_ENV, "2")
    monkeypatch.setattr(sync_module, "BUILD_CHUNK_CARDS", 64)  # several chunks in flight
    sandbox.reset()
    sandbox.seed_fields(
        reteno={12345: "plan_type"}, dotdigital=["FIRSTNAME", "PLAN"], pushtech=["plan_type"]
    )
    ledger = Ledger(f"sqlite:///{ledger_path}")
    try:
        result = _sync(vendor, sandbox, cards, members, config, ledger)
        keys = result.log.column("contact_key").to_pylist()
        entries = ledger.entries(vendor, keys)
    finally:
        ledger.close()
    log = result.log.drop_columns(["batch_id", "delivered_at", "vendor_id"])
    # the vendor's own ids and timestamps differ between two runs; the contacts must not
    contacts = [
        {k: v for k, v in c.items() if "id" not in k.lower() and "date" not in k.lower()}
        for c in sandbox.contacts(vendor)
    ]
    return log, result.counts, entries, sorted(contacts, key=repr)


@pytest.mark.parametrize("vendor", VENDORS)
def test_worker_build_equals_in_process_build(
    vendor, seeded_sandbox, generated_cards, make_config, tmp_path, monkeypatch
):
    cards, members = generated_cards(300)
    config = make_config(**CONFIG)
    args = (vendor, seeded_sandbox, cards, members, config)
    here = _delivered(*args, tmp_path / "a.db", monkeypatch, workers=False)
    assert sync_module.build_workers(cards.num_rows) == 0
    in_workers = _delivered(*args, tmp_path / "b.db", monkeypatch, workers=True)
    assert sync_module.build_workers(cards.num_rows) >= 1

    log, counts, entries, contacts = here
    assert counts["sent"] > 0
    assert in_workers[0].equals(log)
    assert in_workers[1] == counts
    assert {k: (e.payload_hash, e.input_hash, e.segments) for k, e in in_workers[2].items()} == {
        k: (e.payload_hash, e.input_hash, e.segments) for k, e in entries.items()
    }
    assert in_workers[3] == contacts

"""Payloads are built only for cards whose inputs changed since the vendor accepted them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contact_pipelines.core import vendors
from contact_pipelines.core.delivery.inputs import payload_input_hashes
from contact_pipelines.core.delivery.ledger import Ledger, LedgerRecord

from .test_delivery_sync import VENDOR_CONFIG, outcomes, people, sync

pytestmark = pytest.mark.slow


@pytest.fixture
def built(monkeypatch):
    """contact_keys passed to each vendor's build_payloads, per call."""
    calls: list[list[str]] = []
    for name in ("reteno", "dotdigital", "pushtech"):
        module = vendors.get_vendor(name)
        original = module.build_payloads

        def counting(cards, *args, _original=original, **kwargs):
            calls.append(cards.column("contact_key").to_pylist())
            return _original(cards, *args, **kwargs)

        monkeypatch.setattr(module, "build_payloads", counting)
    return calls


@pytest.mark.parametrize("vendor", ["reteno", "dotdigital", "pushtech"])
def test_only_cards_with_new_inputs_are_built(
    vendor, seeded_sandbox, ledger, make_cards, make_memberships, make_config, built
):
    sandbox = seeded_sandbox
    config = make_config(**VENDOR_CONFIG)
    members = make_memberships({"a1": ["Customers"], "c3": ["Customers"]})
    first = sync(vendor, sandbox, people(make_cards), members, config, ledger)
    assert sorted(k for call in built for k in call) == ["a1", "b2", "c3"]

    built.clear()
    second = sync(vendor, sandbox, people(make_cards), members, config, ledger, run_id="r2")
    assert built == []  # nothing rebuilt, nothing sent
    assert outcomes(second) == {"a1": "unchanged", "b2": "unchanged", "c3": "unchanged"}
    vendor_ids = dict(
        zip(*(second.log.column(c).to_pylist() for c in ("contact_key", "vendor_id")), strict=True)
    )
    first_ids = dict(
        zip(*(first.log.column(c).to_pylist() for c in ("contact_key", "vendor_id")), strict=True)
    )
    assert vendor_ids == first_ids

    # b2 joins a segment, c3 changes a field: only those two are built
    moved = make_memberships({"a1": ["Customers"], "b2": ["Customers"], "c3": ["Customers"]})
    changed = people(make_cards, c3={"first_name": "Catherine"})
    third = sync(vendor, sandbox, changed, moved, config, ledger, run_id="r3")
    assert sorted(k for call in built for k in call) == ["b2", "c3"]
    assert outcomes(third)["a1"] == "unchanged"
    assert outcomes(third)["c3"] == "updated"


def test_a_changed_vendor_config_rebuilds_every_payload(
    seeded_sandbox, sqlite_ledger, make_cards, make_memberships, make_config, built
):
    sandbox = seeded_sandbox
    members = make_memberships({"a1": ["Customers"]})
    sync(
        "reteno", sandbox, people(make_cards), members, make_config(**VENDOR_CONFIG), sqlite_ledger
    )
    built.clear()
    other = {**VENDOR_CONFIG, "reteno": {**VENDOR_CONFIG["reteno"], "batch_size": 3}}
    again = sync(
        "reteno",
        sandbox,
        people(make_cards),
        members,
        make_config(**other),
        sqlite_ledger,
        run_id="r2",
    )
    assert sorted(k for call in built for k in call) == ["a1", "b2", "c3"]
    assert again.counts["sent"] == 0  # rebuilt, and the payloads are the same: not sent


def test_input_hash_covers_card_segments_and_config(make_cards, make_memberships, make_config):
    module = vendors.get_vendor("reteno")
    cards = people(make_cards)
    config = make_config(**VENDOR_CONFIG).vendors.reteno
    base = payload_input_hashes(module, config, cards, make_memberships({"a1": ["Customers"]}))
    assert len(set(base.values())) == 3
    same = payload_input_hashes(module, config, cards, make_memberships({"a1": ["Customers"]}))
    assert same == base
    joined = payload_input_hashes(
        module, config, cards, make_memberships({"a1": ["Customers", "VIP"]})
    )
    assert joined["a1"] != base["a1"] and joined["b2"] == base["b2"]
    edited = payload_input_hashes(
        module,
        config,
        people(make_cards, b2={"last_name": "Brown"}),
        make_memberships({"a1": ["Customers"]}),
    )
    assert edited["b2"] != base["b2"] and edited["a1"] == base["a1"]
    other = make_config(reteno={**VENDOR_CONFIG["reteno"], "batch_size": 1}).vendors.reteno
    assert payload_input_hashes(module, other, cards, make_memberships({})) != base


def test_a_ledger_from_before_input_hash_gains_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the table as an earlier version created it
        conn.execute(
            sa.text(
                "CREATE TABLE delivery_ledger (vendor VARCHAR(32) NOT NULL, "
                "contact_key VARCHAR(64) NOT NULL, payload_hash VARCHAR(64), vendor_id VARCHAR(128), "
                "last_outcome VARCHAR(16) NOT NULL, last_error TEXT, segments TEXT NOT NULL, "
                "data_fields TEXT NOT NULL, updated_at VARCHAR(20) NOT NULL, "
                "PRIMARY KEY (vendor, contact_key))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO delivery_ledger VALUES "
                "('reteno', 'a1', 'h1', '7', 'created', NULL, '[]', '[]', '2026-01-01T00:00:00Z')"
            )
        )
    engine.dispose()
    ledger = Ledger(url)
    try:
        old = ledger.entries("reteno", ["a1"])["a1"]
        assert (old.payload_hash, old.input_hash) == ("h1", None)
        ledger.record("reteno", [LedgerRecord("a1", "updated", "h2", input_hash="i2")])
        assert ledger.entries("reteno", ["a1"])["a1"].input_hash == "i2"
    finally:
        ledger.close()

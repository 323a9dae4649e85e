"""run_vendor_sync end to end, over real HTTP against the vendor sandbox."""

from __future__ import annotations

import json

import pytest

from contact_pipelines.core.delivery import (
    MissingVendorFieldsError,
    PollPolicy,
    RetryPolicy,
    SyncAbortedError,
    from_env,
    run_vendor_sync,
)
from contact_pipelines.core.fields import DELIVERY_LOG_SCHEMA

pytestmark = pytest.mark.slow

VENDORS = ("reteno", "dotdigital", "pushtech")
FAST_RETRY = RetryPolicy(max_attempts=12, initial_wait=0.01, max_wait=0.2)
FAST_POLL = PollPolicy(initial_interval=0.02, max_interval=0.1, timeout=20, webhook_timeout=5)
VENDOR_CONFIG = {
    "reteno": {"fields": {"plan_type": 12345}, "batch_size": 2},
    "dotdigital": {
        "data_fields": {"first_name": "FIRSTNAME", "plan_type": "PLAN"},
        "lists": {"Customers": 101},
        "batch_size": 2,
    },
    "pushtech": {"lists": {"Customers": "5f1c0a"}, "batch_size": 2},
}


@pytest.fixture
def sandbox(seeded_sandbox):
    return seeded_sandbox


def people(make_cards, **changes):
    cards = [
        {
            "contact_key": "a1",
            "external_id": "EXT-1",
            "email": "ann@example.com",
            "first_name": "Ann",
            "fields": {"plan_type": "gold"},
        },
        {
            "contact_key": "b2",
            "external_id": "EXT-2",
            "email": "bob@example.com",
            "phone": "+447712345678",
            "phone_type": "mobile",
        },
        {
            "contact_key": "c3",
            "external_id": "EXT-3",
            "email": "cat@example.com",
            "first_name": "Cat",
            "gender": "female",
        },
    ]
    for card in cards:
        card.update(changes.get(card["contact_key"], {}))
    return make_cards(*cards)


def sync(vendor, sandbox, cards, members, config, ledger, run_id="run-1", **kwargs):
    return run_vendor_sync(
        vendor,
        cards,
        members,
        config,
        from_env(vendor, sandbox.env()),
        ledger,
        run_id=run_id,
        shard=0,
        retry=FAST_RETRY,
        poll=FAST_POLL,
        **kwargs,
    )


def column_by_key(result, column: str) -> dict:
    keys = result.log.column("contact_key").to_pylist()
    return dict(zip(keys, result.log.column(column).to_pylist(), strict=True))


def outcomes(result) -> dict[str, str]:
    return column_by_key(result, "outcome")


def errors(result) -> dict[str, str | None]:
    return column_by_key(result, "error")


@pytest.mark.parametrize("vendor", VENDORS)
def test_first_run_creates_second_is_unchanged_change_is_resent(
    vendor, sandbox, sqlite_ledger, make_cards, make_memberships, make_config
):
    config = make_config(**VENDOR_CONFIG)
    members = make_memberships({"a1": ["Customers"], "c3": ["Customers"]})
    first = sync(vendor, sandbox, people(make_cards), members, config, sqlite_ledger)
    assert first.log.schema == DELIVERY_LOG_SCHEMA
    assert outcomes(first) == {"a1": "created", "b2": "created", "c3": "created"}, errors(first)
    assert first.counts == {"sent": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert len(sandbox.contacts(vendor)) == 3
    requests_after_first = len(sandbox.requests(vendor))

    second = sync(
        vendor, sandbox, people(make_cards), members, config, sqlite_ledger, run_id="run-2"
    )
    assert second.counts == {"sent": 0, "created": 0, "updated": 0, "unchanged": 3, "rejected": 0}
    sent_again = [
        r
        for r in sandbox.requests(vendor)[requests_after_first:]
        if r.get("method") in ("POST", "PUT") and "field" not in r.get("path", "")
    ]
    assert sent_again == []

    changed = people(make_cards, c3={"first_name": "Catherine"})
    third = sync(vendor, sandbox, changed, members, config, sqlite_ledger, run_id="run-3")
    assert outcomes(third) == {"a1": "unchanged", "b2": "unchanged", "c3": "updated"}
    assert len(sandbox.contacts(vendor)) == 3
    assert "Catherine" in json.dumps(sandbox.contacts(vendor))


def test_reteno_holds_the_mapped_contacts(
    sandbox, sqlite_ledger, make_cards, make_memberships, make_config
):
    config = make_config(**VENDOR_CONFIG)
    result = sync(
        "reteno",
        sandbox,
        people(make_cards),
        make_memberships({"a1": ["Customers"]}),
        config,
        sqlite_ledger,
    )
    assert result.counts["created"] == 3
    stored = json.dumps(sandbox.contacts("reteno"))
    for expected in ("EXT-1", "ann@example.com", "447712345678", "gold", "Customers"):
        assert expected in stored
    assert all(result.log.column("vendor_id").to_pylist())


def test_dotdigital_and_pushtech_hold_the_mapped_contacts(
    sandbox, sqlite_ledger, make_cards, make_memberships, make_config
):
    config = make_config(**VENDOR_CONFIG)
    members = make_memberships({"a1": ["Customers"]})
    sync("dotdigital", sandbox, people(make_cards), members, config, sqlite_ledger)
    sync("pushtech", sandbox, people(make_cards), members, config, sqlite_ledger)
    dd = json.dumps(sandbox.contacts("dotdigital"))
    for expected in ("ann@example.com", "+447712345678", "gold", "101"):
        assert expected in dd
    pt = json.dumps(sandbox.contacts("pushtech"))
    for expected in ("EXT-1", "7712345678", "FEMALE", "5f1c0a", "gold"):
        assert expected in pt


@pytest.mark.parametrize("vendor", VENDORS)
def test_rejects_are_recorded_per_contact(
    vendor, sandbox, sqlite_ledger, make_cards, make_memberships, make_config
):
    config = make_config(**VENDOR_CONFIG)
    cards = make_cards(
        {"contact_key": "ok", "external_id": "EXT-OK", "email": "ok@example.com"},
        {
            "contact_key": "bad",
            "external_id": "EXT-BAD",
            "email": "not-an-email@",
        },  # the vendor refuses it
        {"contact_key": "none", "external_id": "EXT-NONE"},  # no channel: refused before sending
    )
    result = sync(vendor, sandbox, cards, make_memberships({}), config, sqlite_ledger)
    got = outcomes(result)
    assert got["ok"] == "created"
    assert got["bad"] == "rejected" and got["none"] == "rejected"
    reasons = errors(result)
    assert "none" in reasons["none"]
    assert reasons["bad"]
    assert result.counts["rejected"] == 2
    entry = sqlite_ledger.entries(vendor, ["bad"])["bad"]
    assert entry.last_outcome == "rejected" and entry.payload_hash is None


@pytest.mark.parametrize("vendor", VENDORS)
def test_faults_end_in_the_same_state(
    vendor, sandbox, sqlite_ledger, make_cards, make_memberships, make_config
):
    config = make_config(**VENDOR_CONFIG)
    cards = make_cards(
        *[
            {"contact_key": f"k{i:02d}", "external_id": f"EXT-{i}", "email": f"p{i}@example.com"}
            for i in range(12)
        ]
    )
    sandbox.set_faults("5xx:0.15,429:0.1,drop:0.05,retry_after:0.05")
    result = sync(vendor, sandbox, cards, make_memberships({}), config, sqlite_ledger)
    sandbox.set_faults(None)
    assert result.counts["created"] == 12, errors(result)
    assert len(sandbox.contacts(vendor)) == 12


def test_missing_fields_stop_before_any_contact_is_sent(
    sandbox, sqlite_ledger, make_cards, make_config
):
    config = make_config(reteno={"fields": {"plan_type": 12345, "tier": 999}})
    with pytest.raises(MissingVendorFieldsError, match=r"tier \(id 999\)"):
        sync("reteno", sandbox, people(make_cards), None, config, sqlite_ledger)
    assert sandbox.contacts("reteno") == []


def test_dotdigital_creates_missing_fields_when_asked(
    sandbox, sqlite_ledger, make_cards, make_config
):
    config = make_config(
        dotdigital={
            "data_fields": {"first_name": "FIRSTNAME", "plan_type": "TIER"},
            "create_missing_fields": True,
        }
    )
    result = sync("dotdigital", sandbox, people(make_cards), None, config, sqlite_ledger)
    assert result.counts["created"] == 3


def test_dry_run_writes_masked_payloads_and_sends_nothing(
    sandbox, sqlite_ledger, make_cards, make_config, tmp_path
):
    config = make_config(**VENDOR_CONFIG)
    result = sync(
        "pushtech",
        sandbox,
        people(make_cards),
        None,
        config,
        sqlite_ledger,
        dry_run=True,
        dry_run_dir=tmp_path,
    )
    assert sandbox.requests("pushtech") == []
    lines = [json.loads(line) for line in (tmp_path / "pushtech-0.jsonl").read_text().splitlines()]
    assert [line["action"] for line in lines] == ["send", "send", "send"]
    text = json.dumps(lines)
    assert "ann@example.com" not in text and "an***@example.com" in text
    assert "7712345678" not in text
    assert result.counts["sent"] == 0 and sqlite_ledger.entries("pushtech", ["a1"]) == {}


def test_killed_run_resends_only_its_in_flight_batch(sandbox, ledger, make_cards, make_config):
    config = make_config(**VENDOR_CONFIG)
    cards = people(make_cards)
    first = sync("reteno", sandbox, cards.slice(0, 2), None, config, ledger)
    assert first.counts["created"] == 2
    # a run that died after sending c3's batch, before recording it
    ledger.open_batch("reteno", 0, "dead-run", "dead-batch", ["c3"])
    resumed = sync("reteno", sandbox, cards, None, config, ledger, run_id="run-2")
    assert resumed.resumed_batches == 1
    assert outcomes(resumed) == {"a1": "unchanged", "b2": "unchanged", "c3": "created"}
    assert ledger.in_flight("reteno", 0) == []


def test_pushtech_without_webhook_counts_accepted_contacts_by_ledger_state(
    sandbox, sqlite_ledger, make_cards, make_config
):
    # a public webhook_url this process cannot see: results come from ledger state
    config = make_config(pushtech={"webhook_url": "http://127.0.0.1:9/hook"})
    first = sync("pushtech", sandbox, people(make_cards), None, config, sqlite_ledger)
    assert set(outcomes(first).values()) == {"created"}
    changed = people(make_cards, a1={"first_name": "Anna"})
    second = sync("pushtech", sandbox, changed, None, config, sqlite_ledger, run_id="run-2")
    assert outcomes(second) == {"a1": "updated", "b2": "unchanged", "c3": "unchanged"}
    assert json.dumps(sandbox.requests("pushtech")).count("/contact/bulk") >= 2


def test_aborted_run_records_what_finished_and_a_rerun_completes(
    sandbox, sqlite_ledger, make_cards, make_config
):
    config = make_config(reteno={"batch_size": 1, "max_in_flight": 1})  # no fields: no verify call
    cards = make_cards(
        *[
            {"contact_key": f"k{i}", "external_id": f"E{i}", "email": f"p{i}@x.org"}
            for i in range(4)
        ]
    )
    sandbox.set_faults("5xx:1")
    with pytest.raises(SyncAbortedError, match="re-run"):
        run_vendor_sync(
            "reteno",
            cards,
            None,
            config,
            from_env("reteno", sandbox.env()),
            sqlite_ledger,
            run_id="run-1",
            shard=0,
            retry=RetryPolicy(max_attempts=1),
            poll=FAST_POLL,
        )
    assert len(sqlite_ledger.in_flight("reteno", 0)) == 1
    sandbox.set_faults(None)
    rerun = sync("reteno", sandbox, cards, None, config, sqlite_ledger, run_id="run-2")
    assert rerun.resumed_batches == 1
    assert rerun.counts["created"] == 4
    assert len(sandbox.contacts("reteno")) == 4


@pytest.mark.parametrize("vendor", VENDORS)
def test_sync_on_either_ledger_backend(vendor, sandbox, ledger, make_cards, make_config):
    config = make_config(**VENDOR_CONFIG)
    first = sync(vendor, sandbox, people(make_cards), None, config, ledger)
    again = sync(vendor, sandbox, people(make_cards), None, config, ledger, run_id="run-2")
    assert first.counts["created"] == 3 and again.counts["unchanged"] == 3


def test_dotdigital_waits_out_too_many_active_imports(
    sandbox, sqlite_ledger, make_cards, make_config
):
    config = make_config(dotdigital={"batch_size": 1, "max_in_flight": 3})
    cards = make_cards(*[{"contact_key": f"k{i}", "email": f"p{i}@example.com"} for i in range(10)])
    # 10 imports at a 50% chance each: the odds of no 429 at all are 1 in 1024
    sandbox.set_faults("too_many_imports:0.5")
    result = sync("dotdigital", sandbox, cards, None, config, sqlite_ledger)
    sandbox.set_faults(None)
    assert result.counts["created"] == 10, errors(result)
    statuses = [r["status"] for r in sandbox.requests("dotdigital")]
    assert 429 in statuses or "429" in statuses


def test_reteno_several_failures_in_one_batch(sandbox, sqlite_ledger, make_cards, make_config):
    cards = make_cards(
        {"contact_key": "ok", "external_id": "E1", "email": "ok@example.com"},
        {"contact_key": "bad1", "external_id": "E2", "email": "bad1@"},
        {"contact_key": "bad2", "external_id": "E3", "email": "bad2@"},
    )
    result = sync("reteno", sandbox, cards, None, make_config(), sqlite_ledger)
    assert outcomes(result) == {"ok": "created", "bad1": "rejected", "bad2": "rejected"}
    assert "ba***@" in errors(result)["bad1"]  # the vendor's message, its email masked


def test_pushtech_creates_missing_custom_fields_when_asked(
    sandbox, sqlite_ledger, make_cards, make_config
):
    cards = make_cards({"contact_key": "k", "email": "t@example.com", "fields": {"tier": "2"}})
    refused = make_config(pushtech={"custom_fields": {"tier": "tier"}})
    with pytest.raises(MissingVendorFieldsError, match="tier"):
        sync("pushtech", sandbox, cards, None, refused, sqlite_ledger)
    allowed = make_config(
        pushtech={"custom_fields": {"tier": "tier"}, "create_missing_fields": True}
    )
    result = sync("pushtech", sandbox, cards, None, allowed, sqlite_ledger)
    assert result.counts["created"] == 1
    assert sandbox.contacts("pushtech")[0]["tier"] == "2"


def test_dotdigital_clears_a_field_that_vanished_at_the_source(
    sandbox, sqlite_ledger, make_cards, make_config
):
    config = make_config(
        dotdigital={"data_fields": {"plan_type": "PLAN"}, "clear_missing_fields": True}
    )
    with_plan = make_cards(
        {"contact_key": "k", "email": "t@example.com", "fields": {"plan_type": "gold"}}
    )
    without_plan = make_cards({"contact_key": "k", "email": "t@example.com", "first_name": "T"})
    sync("dotdigital", sandbox, with_plan, None, config, sqlite_ledger)
    assert sandbox.contacts("dotdigital")[0]["dataFields"].get("PLAN") == "gold"
    cleared = sync("dotdigital", sandbox, without_plan, None, config, sqlite_ledger, run_id="r2")
    assert outcomes(cleared) == {"k": "updated"}
    assert sandbox.contacts("dotdigital")[0]["dataFields"].get("PLAN") in (None, "")
    last_body = [r for r in sandbox.requests("dotdigital") if r["method"] == "PUT"][-1]
    assert last_body["n_contacts"] == 1


def test_empty_shard_sends_nothing(sandbox, sqlite_ledger, make_cards, make_config):
    result = sync("dotdigital", sandbox, make_cards(), None, make_config(), sqlite_ledger)
    assert result.log.num_rows == 0
    assert result.counts == {"sent": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}

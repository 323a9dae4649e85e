"""A person leaving a segment mapped to a Dotdigital list: the sync imports the contact
(without the list) and then removes it from that address book with the v2 call
POST /v2/address-books/{id}/contacts/delete, end to end against the sandbox."""

from __future__ import annotations

import logging

import pytest

from contact_pipelines.core.delivery import PollPolicy, RetryPolicy, from_env, run_vendor_sync
from contact_pipelines.core.delivery.ledger import LedgerEntry
from contact_pipelines.core.vendors import dotdigital
from contact_pipelines.core.vendors.base import ContactOutcome
from contact_pipelines.sandbox import SandboxServer

pytestmark = pytest.mark.slow

FAST_RETRY = RetryPolicy(max_attempts=12, initial_wait=0.01, max_wait=0.2)
FAST_POLL = PollPolicy(initial_interval=0.02, max_interval=0.1, timeout=20)
LISTS = {"Customers": 101, "VIP": 102}


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, seed=0) as server:
        server.seed_fields(dotdigital=["FIRSTNAME"])
        yield server


@pytest.fixture
def config(make_config):
    return make_config(
        dotdigital={"data_fields": {"first_name": "FIRSTNAME"}, "lists": LISTS, "batch_size": 2}
    )


@pytest.fixture
def cards(make_cards):
    return make_cards(
        {"contact_key": "a1", "email": "ann@example.com", "first_name": "Ann"},
        {"contact_key": "b2", "email": "bob@example.com"},
        {"contact_key": "c3", "email": "cat@example.com"},
    )


def sync(sandbox, cards, members, config, ledger, run_id, **kwargs):
    return run_vendor_sync(
        "dotdigital",
        cards,
        members,
        config,
        from_env("dotdigital", sandbox.env()),
        ledger,
        run_id=run_id,
        shard=0,
        retry=kwargs.pop("retry", FAST_RETRY),
        poll=FAST_POLL,
        **kwargs,
    )


def by_key(result, column: str) -> dict:
    keys = result.log.column("contact_key").to_pylist()
    return dict(zip(keys, result.log.column(column).to_pylist(), strict=True))


def lists_in_sandbox(sandbox) -> dict[str, list[int]]:
    return {c["identifiers"]["email"]: c["lists"] for c in sandbox.contacts("dotdigital")}


def removal_calls(sandbox, since: int = 0) -> list[dict]:
    return [r for r in sandbox.requests("dotdigital")[since:] if "/address-books/" in r["path"]]


def writes(sandbox, since: int) -> list[dict]:
    """Calls that could change the vendor's state (data-field reads excluded)."""
    return [r for r in sandbox.requests("dotdigital")[since:] if r["method"] != "GET"]


JOINED = {"a1": ["Customers", "VIP"], "b2": ["Customers"], "c3": ["VIP"]}
LEFT = {"a1": ["Customers"], "c3": ["VIP"]}  # a1 left VIP, b2 left Customers


def test_leaving_a_segment_removes_the_contact_from_its_address_book(
    sandbox, sqlite_ledger, cards, config, make_memberships
):
    first = sync(sandbox, cards, make_memberships(JOINED), config, sqlite_ledger, "run-1")
    assert set(by_key(first, "outcome").values()) == {"created"}
    assert lists_in_sandbox(sandbox) == {
        "ann@example.com": [101, 102],
        "bob@example.com": [101],
        "cat@example.com": [102],
    }
    assert removal_calls(sandbox) == []  # nobody left anything yet
    mark = len(sandbox.requests("dotdigital"))

    second = sync(sandbox, cards, make_memberships(LEFT), config, sqlite_ledger, "run-2")
    assert by_key(second, "outcome") == {"a1": "updated", "b2": "updated", "c3": "unchanged"}
    assert by_key(second, "error") == {"a1": None, "b2": None, "c3": None}
    assert lists_in_sandbox(sandbox) == {
        "ann@example.com": [101],
        "bob@example.com": [],
        "cat@example.com": [102],
    }
    assert len(sandbox.contacts("dotdigital")) == 3  # membership only: the contacts stay
    calls = removal_calls(sandbox, mark)
    assert {(c["path"], c["status"], c["n_contacts"]) for c in calls} == {
        ("/dotdigital/v2/address-books/101/contacts/delete", 204, 1),
        ("/dotdigital/v2/address-books/102/contacts/delete", 204, 1),
    }
    assert sqlite_ledger.entries("dotdigital", ["b2"])["b2"].segments == []
    mark = len(sandbox.requests("dotdigital"))

    third = sync(sandbox, cards, make_memberships(LEFT), config, sqlite_ledger, "run-3")
    assert third.counts["unchanged"] == 3 and third.counts["sent"] == 0
    assert writes(sandbox, mark) == []


def test_the_import_never_sends_the_left_list_nor_a_null(make_cards, make_memberships, config):
    cards = make_cards({"contact_key": "a1", "email": "ann@example.com"})
    previous = {"a1": ["Customers", "VIP"]}
    cfg = config.vendors.dotdigital
    [stayed] = dotdigital.build_payloads(cards, make_memberships(LEFT), cfg, previous)
    [left_all] = dotdigital.build_payloads(cards, make_memberships({}), cfg, previous)
    assert stayed.payload["lists"] == [101] and stayed.segments == ("Customers",)
    assert "lists" not in left_all.payload and left_all.segments == ()
    for item in (stayed, left_all):
        assert dotdigital.payload_problems(item.payload) == []
        assert None not in item.payload.get("dataFields", {}).values()
        assert b"null" not in item.wire_bytes()


def test_removals_are_chunked_per_address_book(
    sandbox, sqlite_ledger, make_cards, make_memberships, make_config, monkeypatch
):
    monkeypatch.setattr(dotdigital, "REMOVAL_CHUNK", 2)
    many = make_cards(*[{"contact_key": f"k{i}", "email": f"p{i}@example.com"} for i in range(5)])
    everyone = make_memberships({f"k{i}": ["Customers"] for i in range(5)})
    batch_all = make_config(dotdigital={"lists": LISTS, "batch_size": 5})  # one batch of 5
    sync(sandbox, many, everyone, batch_all, sqlite_ledger, "run-1")
    result = sync(sandbox, many, make_memberships({}), batch_all, sqlite_ledger, "run-2")
    assert set(by_key(result, "outcome").values()) == {"updated"}
    assert [c["n_contacts"] for c in removal_calls(sandbox)] == [2, 2, 1]
    assert all(lists == [] for lists in lists_in_sandbox(sandbox).values())


def test_throttling_and_server_errors_are_retried(
    sandbox, sqlite_ledger, cards, config, make_memberships
):
    sync(sandbox, cards, make_memberships(JOINED), config, sqlite_ledger, "run-1")
    sandbox.set_faults("5xx:0.3,429:0.2,retry_after:0.05")
    result = sync(sandbox, cards, make_memberships(LEFT), config, sqlite_ledger, "run-2")
    sandbox.set_faults(None)
    assert by_key(result, "error") == {"a1": None, "b2": None, "c3": None}
    assert lists_in_sandbox(sandbox)["ann@example.com"] == [101]
    assert lists_in_sandbox(sandbox)["bob@example.com"] == []


def test_a_server_without_the_route_completes_and_records_it_once(
    sandbox, sqlite_ledger, cards, config, make_memberships, caplog
):
    sync(sandbox, cards, make_memberships(JOINED), config, sqlite_ledger, "run-1")
    vendor = sandbox._vendor("dotdigital")  # a Dotdigital that does not offer the v2 route
    vendor.routes = [r for r in vendor.routes if "address-books" not in r.pattern.pattern]
    mark = len(sandbox.requests("dotdigital"))

    with caplog.at_level(logging.ERROR, logger=dotdigital.__name__):
        second = sync(sandbox, cards, make_memberships(LEFT), config, sqlite_ledger, "run-2")
    assert by_key(second, "outcome") == {"a1": "updated", "b2": "updated", "c3": "unchanged"}
    errors = by_key(second, "error")
    for key in ("a1", "b2"):
        assert "does not offer POST /v2/address-books/{id}/contacts/delete" in errors[key]
        assert "answered 404" in errors[key]
    assert errors["c3"] is None
    assert [r["status"] for r in removal_calls(sandbox, mark)] == [404]  # asked once, not retried
    assert len([r for r in caplog.records if "does not offer" in r.getMessage()]) == 1
    assert lists_in_sandbox(sandbox)["bob@example.com"] == [101]  # still there, as reported
    mark = len(sandbox.requests("dotdigital"))

    third = sync(sandbox, cards, make_memberships(LEFT), config, sqlite_ledger, "run-3")
    assert third.counts["unchanged"] == 3
    assert writes(sandbox, mark) == []  # not retried on every run either


def test_an_unknown_address_book_rejects_the_contact_and_it_is_offered_again(
    sandbox, sqlite_ledger, cards, config, make_memberships, make_config
):
    sync(sandbox, cards, make_memberships(JOINED), config, sqlite_ledger, "run-1")
    moved = make_config(  # VIP now maps to a list the account lacks
        dotdigital={"data_fields": {"first_name": "FIRSTNAME"}, "lists": {**LISTS, "VIP": 999}}
    )
    # nobody is in VIP any more (no import creates 999); b2 also left Customers
    members = make_memberships({"a1": ["Customers"]})
    second = sync(sandbox, cards, members, moved, sqlite_ledger, "run-2")
    outcomes, errors = by_key(second, "outcome"), by_key(second, "error")
    assert outcomes == {"a1": "rejected", "b2": "updated", "c3": "rejected"}
    for key in ("a1", "c3"):  # the vendor's 404, per contact
        assert "not removed from address book 999" in errors[key]
        assert "addressBookNotFound" in errors[key]
    assert errors["b2"] is None and lists_in_sandbox(sandbox)["bob@example.com"] == []
    entry = sqlite_ledger.entries("dotdigital", ["a1"])["a1"]
    assert entry.segments == ["Customers", "VIP"]  # kept, so the removal is tried again
    third = sync(sandbox, cards, members, moved, sqlite_ledger, "run-3")
    assert by_key(third, "outcome") == {"a1": "rejected", "b2": "unchanged", "c3": "rejected"}


def test_a_contact_without_a_known_vendor_id_is_skipped_with_the_reason(
    sandbox, make_cards, make_memberships, config
):
    cfg = config.vendors.dotdigital
    card = make_cards({"contact_key": "a1", "email": "ann@example.com"})
    [item] = dotdigital.build_payloads(card, make_memberships({}), cfg, {"a1": ["VIP"]})
    previous = {"a1": LedgerEntry("a1", "old-hash", None, "updated", ["VIP"], [])}
    session = dotdigital.make_session(from_env("dotdigital", sandbox.env()), cfg, retry=FAST_RETRY)
    try:
        got = dotdigital.remove_from_lists(
            session, [item], {"a1": ContactOutcome("updated")}, previous
        )
    finally:
        session.close()
    assert got["a1"].outcome == "rejected"
    assert "no Dotdigital contact id is known" in got["a1"].error
    assert "address book 102" in got["a1"].error
    assert sandbox.requests("dotdigital") == []  # nothing to send without an id

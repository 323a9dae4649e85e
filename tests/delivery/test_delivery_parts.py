"""Batching, credentials, the ledger and the webhook receiver."""

from __future__ import annotations

import json

import httpx
import pytest

from contact_pipelines.core.delivery.batching import ENVELOPE_BYTES, make_batches
from contact_pipelines.core.delivery.credentials import MissingSecretError, from_env
from contact_pipelines.core.delivery.ledger import LedgerRecord
from contact_pipelines.core.delivery.webhook import WebhookReceiver, signature
from contact_pipelines.core.vendors.base import ContactPayload, json_with_contacts


def payload(key: str, size: int = 10, group=None) -> ContactPayload:
    return ContactPayload(key, {"v": "x" * size}, payload_hash=key, batch_group=group)


# --- batching --------------------------------------------------------------


def test_batches_respect_count_limit():
    batches = list(make_batches([payload(str(i)) for i in range(7)], 3, None))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [p.contact_key for b in batches for p in b] == [str(i) for i in range(7)]


def test_batches_respect_byte_limit():
    items = [payload(str(i), size=1000) for i in range(10)]
    batches = list(make_batches(items, 100, ENVELOPE_BYTES + 3100))
    assert [len(b) for b in batches] == [3, 3, 3, 1]


def test_batches_never_mix_groups():
    items = [payload("a", group=("A",)), payload("b", group=("B",)), payload("c", group=("A",))]
    batches = [[p.contact_key for p in b] for b in make_batches(items, 10, None)]
    assert sorted(batches) == [["a", "c"], ["b"]]


def test_bodies_joined_from_wire_bytes_are_the_json_of_the_request():
    contacts = [{"email": "a@x.org", "name": "Zoë"}, {"email": "b@x.org", "tags": ["A", "B"]}]
    wires = [ContactPayload(str(i), c).wire_bytes() for i, c in enumerate(contacts)]
    body = json_with_contacts({"dedupeOn": "email", "groupNames": ["A"]}, wires)
    assert json.loads(body) == {"contacts": contacts, "dedupeOn": "email", "groupNames": ["A"]}
    assert json.loads(json_with_contacts({}, wires)) == {"contacts": contacts}
    assert "Zoë".encode() in body  # UTF-8 as is, the size batching measured


# --- credentials -----------------------------------------------------------


def test_credentials_name_missing_variables_and_mask_secrets():
    with pytest.raises(MissingSecretError) as err:
        from_env(
            "dotdigital", {"DOTDIGITAL_API_URL": "http://x", "DOTDIGITAL_API_PASSWORD": "s3cret"}
        )
    assert "DOTDIGITAL_API_USER" in str(err.value)
    assert "s3cret" not in str(err.value)
    creds = from_env(
        "pushtech",
        {
            "PUSHTECH_API_URL": "http://x/",
            "PUSHTECH_ACCOUNT_ID": "acc",
            "PUSHTECH_API_TOKEN": "tok-secret",
        },
    )
    assert creds.url == "http://x" and creds.api_token == "tok-secret"
    assert "tok-secret" not in repr(creds) and "tok-secret" not in str(creds)
    assert "acc" in repr(creds)


# --- ledger ----------------------------------------------------------------


def test_ledger_records_outcomes_in_bulk(ledger):
    keys = [f"k{i}" for i in range(1200)]  # more than one IN-list chunk
    ledger.record(
        "reteno", [LedgerRecord(k, "created", f"h-{k}", f"id-{k}", segments=["A"]) for k in keys]
    )
    entries = ledger.entries("reteno", keys + ["unknown"])
    assert len(entries) == 1200
    assert entries["k7"].payload_hash == "h-k7" and entries["k7"].vendor_id == "id-k7"
    assert entries["k7"].segments == ["A"] and entries["k7"].known_to_vendor
    assert ledger.entries("dotdigital", keys) == {}


def test_ledger_rejection_keeps_last_accepted_state(ledger):
    ledger.record("pushtech", [LedgerRecord("k", "created", "h1", "v1", segments=["A"])])
    ledger.record("pushtech", [LedgerRecord("k", "rejected", error="bad email")])
    entry = ledger.entries("pushtech", ["k"])["k"]
    assert (entry.last_outcome, entry.payload_hash, entry.vendor_id, entry.segments) == (
        "rejected",
        "h1",
        "v1",
        ["A"],
    )
    ledger.record("pushtech", [LedgerRecord("k", "updated", "h2", None)])
    entry = ledger.entries("pushtech", ["k"])["k"]
    assert (entry.payload_hash, entry.vendor_id) == ("h2", "v1")  # id kept when not re-reported


def test_ledger_journal_tracks_batches_in_flight(ledger):
    ledger.open_batch("reteno", 3, "run-1", "b1", ["k1", "k2"])
    ledger.open_batch("reteno", 3, "run-1", "b2", ["k3"])
    ledger.set_vendor_ref("b1", "session-1")
    ledger.record("reteno", [LedgerRecord("k3", "created", "h")], batch_id="b2")
    [open_batch] = ledger.in_flight("reteno", 3)
    assert open_batch == {
        "batch_id": "b1",
        "run_id": "run-1",
        "contact_keys": ["k1", "k2"],
        "vendor_ref": "session-1",
    }
    assert ledger.in_flight("reteno", 4) == []
    ledger.abandon(["b1"])
    assert ledger.in_flight("reteno", 3) == []


def test_ledger_applies_a_late_webhook(ledger):
    lookup = {"ok@example.com": "k1", "bad@example.com": "k2"}
    ledger.open_batch("pushtech", 0, "run-1", "b1", ["k1", "k2"], webhook_lookup=lookup)
    assert ledger.webhook_batch("b1") == ("pushtech", "in_flight", lookup)
    accepted = [LedgerRecord(k, "created", f"h-{k}") for k in ("k1", "k2")]
    ledger.record("pushtech", accepted, batch_id="b1")
    assert ledger.webhook_batch("b1")[1] == "done"
    ledger.apply_webhook("pushtech", "b1", {"k1": "pt-1"}, {"k2": "pushtech: invalid email"})
    ledger.apply_webhook("pushtech", "b1", {"k1": "pt-1"}, {"k2": "pushtech: invalid email"})
    entries = ledger.entries("pushtech", ["k1", "k2"])
    assert (entries["k1"].vendor_id, entries["k1"].payload_hash) == ("pt-1", "h-k1")
    assert (entries["k2"].last_outcome, entries["k2"].payload_hash) == ("rejected", None)
    assert ledger.webhook_batch("unknown") is None


def test_ledger_secret_not_in_repr(tmp_path):
    from contact_pipelines.core.delivery.ledger import Ledger, normalise_url

    assert normalise_url("postgresql://u:pw@h/db") == "postgresql+psycopg2://u:pw@h/db"
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    assert "l.db" in repr(ledger)


# --- webhook ---------------------------------------------------------------


def test_webhook_accepts_signed_delivery_and_refuses_bad_signature():
    body = {
        "account_id": "acc",
        "timestamp": 1700000000,
        "token": "t0k",
        "valid_contacts": [{"user_id": "u1"}],
    }
    raw = json.dumps(body)
    with WebhookReceiver("secret", "acc") as receiver:
        bad = httpx.post(f"{receiver.url}/b1", content=raw, headers={"Authorization": "00" * 32})
        assert bad.status_code == 406
        assert receiver.wait_for("b1", 0.1) is None
        wrong_key = signature("other", 1700000000, "t0k")
        assert (
            httpx.post(
                f"{receiver.url}/b1", content=raw, headers={"Authorization": wrong_key}
            ).status_code
            == 406
        )
        good = httpx.post(
            f"{receiver.url}/b1",
            content=raw,
            headers={"Authorization": signature("secret", 1700000000, "t0k")},
        )
        assert good.status_code == 200
        assert receiver.wait_for("b1", 1)["valid_contacts"] == [{"user_id": "u1"}]
        assert receiver.rejected == 2

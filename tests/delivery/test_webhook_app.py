"""The deployable Pushtech webhook receiver, and dry-run payload files."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from contact_pipelines.core.delivery import PollPolicy, RetryPolicy, from_env, run_vendor_sync
from contact_pipelines.core.delivery.webhook import signature
from contact_pipelines.core.vendors import get_vendor
from contact_pipelines.sandbox import SandboxServer
from contact_pipelines.webhook_app import WebhookApp, WebhookServer, build_app

pytestmark = pytest.mark.slow

SECRET = "sandbox-pushtech-token"  # the sandbox signs webhooks with the account's API token
FAST_POLL = PollPolicy(initial_interval=0.02, max_interval=0.1, timeout=20, webhook_timeout=5)


def sync(vendor, sandbox, cards, config, ledger, run_id="run-1", **kwargs):
    return run_vendor_sync(
        vendor,
        cards,
        None,
        config,
        from_env(vendor, sandbox.env()),
        ledger,
        run_id=run_id,
        shard=0,
        retry=RetryPolicy(initial_wait=0.01, max_wait=0.1),
        poll=FAST_POLL,
        **kwargs,
    )


def signed(body: dict, secret: str = SECRET) -> tuple[dict, bytes]:
    return {"Authorization": signature(secret, body["timestamp"], body["token"])}, json.dumps(
        body
    ).encode()


def test_public_webhook_feeds_rejections_and_ids_into_the_ledger(ledger, make_cards, make_config):
    cards = make_cards(
        {"contact_key": "ok", "external_id": "EXT-OK", "email": "ok@example.com"},
        {"contact_key": "bad", "external_id": "EXT-BAD", "email": "broken@"},
    )
    app = WebhookApp(ledger, SECRET, "sandbox-account")
    with SandboxServer(port=0) as sandbox, WebhookServer(app, "127.0.0.1", 0) as receiver:
        config = make_config(pushtech={"webhook_url": f"{receiver.url}/hooks/pushtech"})
        first = sync("pushtech", sandbox, cards, config, ledger)
        # the sync does not wait for a webhook it cannot see: both count as created for now
        assert first.counts["created"] == 2
        deadline = time.monotonic() + 15
        while not any(w["status"] == 200 for w in sandbox.webhooks()):
            assert time.monotonic() < deadline, sandbox.webhooks()
            time.sleep(0.05)
    entries = ledger.entries("pushtech", ["ok", "bad"])
    assert entries["ok"].vendor_id and entries["ok"].payload_hash
    assert entries["bad"].last_outcome == "rejected" and entries["bad"].payload_hash is None
    with SandboxServer(port=0) as sandbox:
        config = make_config(pushtech={"webhook_url": "http://127.0.0.1:9/unused"})
        again = sync("pushtech", sandbox, cards, config, ledger, run_id="run-2")
    # the rejected contact is offered again; the accepted one is unchanged
    outcomes = dict(
        zip(again.log["contact_key"].to_pylist(), again.log["outcome"].to_pylist(), strict=True)
    )
    assert outcomes["ok"] == "unchanged" and outcomes["bad"] != "unchanged"


def test_receiver_refuses_bad_signatures_and_defers_unrecorded_batches(sqlite_ledger):
    app = WebhookApp(sqlite_ledger, SECRET, "acc")
    body = {"account_id": "acc", "timestamp": "1700000000", "token": "t1", "valid_contacts": []}
    sqlite_ledger.open_batch("pushtech", 0, "run", "b1", ["k"], webhook_lookup={"e1": "k"})
    headers, raw = signed(body)
    with WebhookServer(app, "127.0.0.1", 0) as server:

        def post(path, headers, raw):
            return httpx.post(f"{server.url}{path}", headers=headers, content=raw).status_code

        assert post("/hook/b1", signed(body, "wrong-secret")[0], raw) == 406
        assert post("/hook/b1", {}, raw) == 406
        assert post("/hook/b1", *signed({**body, "account_id": "other"})) == 406
        assert post("/hook/unknown", headers, raw) == 406
        assert post("/hook/b1", headers, raw) == 503  # in flight: Pushtech retries later
        sqlite_ledger.record("pushtech", [], batch_id="b1")
        assert post("/hook/b1", headers, raw) == 200
        assert httpx.get(server.url).status_code == 200


def test_build_app_names_what_is_missing_never_the_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTACT_PIPELINES_LEDGER_URL", raising=False)
    monkeypatch.setenv("PUSHTECH_API_TOKEN", "s3cret-token")
    with pytest.raises(RuntimeError, match="CONTACT_PIPELINES_LEDGER_URL") as err:
        build_app()
    assert "s3cret-token" not in str(err.value)
    app = build_app(ledger_url=f"sqlite:///{tmp_path / 'l.db'}")
    assert "s3cret-token" not in repr(app)
    app.ledger.close()


# --- dry run ---------------------------------------------------------------

VENDOR_CONFIG = {
    "reteno": {"fields": {"plan_type": 12345}},
    "dotdigital": {"data_fields": {"first_name": "FIRSTNAME", "plan_type": "PLAN"}},
    "pushtech": {},
}


def _no_nulls(value) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


@pytest.mark.parametrize("vendor", ["reteno", "dotdigital", "pushtech"])
@pytest.mark.parametrize("masked", [True, False])
def test_dry_run_writes_contract_valid_payloads_and_sends_nothing(
    vendor, masked, sqlite_ledger, generated_cards, make_config, tmp_path
):
    cards, _ = generated_cards(30)
    emails = cards["email"].to_pylist()
    cards = cards.set_column(  # one card with no channel at all: a rejected line, not a payload
        cards.schema.get_field_index("email"), "email", [[None, *emails[1:]]]
    )
    cards = cards.set_column(
        cards.schema.get_field_index("phone"), "phone", [[None, *cards["phone"].to_pylist()[1:]]]
    )
    module = get_vendor(vendor)
    with SandboxServer(port=0) as sandbox:
        result = sync(
            vendor,
            sandbox,
            cards,
            make_config(**VENDOR_CONFIG),
            sqlite_ledger,
            dry_run=True,
            dry_run_dir=tmp_path,
            mask_dry_run=masked,
        )
        assert sandbox.requests(vendor) == []
    lines = [json.loads(line) for line in result.dry_run_file.read_text().splitlines()]
    assert len(lines) == 30 and result.counts["sent"] == 0
    by_action = {
        action: [x for x in lines if x["action"] == action] for action in ("send", "rejected")
    }
    if vendor != "pushtech":  # Pushtech needs an email or a phone; Reteno and Dotdigital too
        assert [x["contact_key"] for x in by_action["rejected"]] == [f"{0:016x}"]
        assert by_action["rejected"][0]["error"]
    for line in by_action["send"]:
        payload = line["payload"]
        assert _no_nulls(payload)
        assert module.payload_problems(payload) == [], line
    text = json.dumps(by_action["send"])
    assert ("person5@example.com" in text) is not masked
    assert sqlite_ledger.entries(vendor, [x["contact_key"] for x in lines]) == {}

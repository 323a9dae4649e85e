"""Pushtech's contract in the sandbox: bulk limits, strict shapes, the signed
completion webhook (received by a real HTTP server here) and its retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer


class WebhookReceiver:
    """A tiny webhook endpoint answering the scripted statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((body, self.headers.get("Authorization", "")))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., WebhookReceiver]]:
    made: list[WebhookReceiver] = []

    def make(statuses: list[int] | None = None) -> WebhookReceiver:
        made.append(WebhookReceiver(statuses or []))
        return made[-1]

    yield make
    for item in made:
        item.close()


def signature_ok(body: dict, authorization: str, secret: str) -> bool:
    expected = hmac.new(
        secret.encode(), (body["timestamp"] + body["token"]).encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, authorization)


def test_bulk_answers_201_and_the_webhook_arrives_signed(
    sandbox: SandboxServer, pushtech: httpx.Client, receiver, wait_until
) -> None:
    hook = receiver()
    answer = pushtech.post(
        "/contact/bulk",
        json={
            "contacts": [
                {"email": "a@example.com", "user_id": "U1", "plan_type": "gold", "tags": ["vip"]},
                {"phone_countrycode": "44", "phone_number": "7712345678", "name_first": "Bo"},
                {"name_first": "Nobody"},
            ],
            "webhook_url": hook.url,
            "contacts_webhook_extra_fields": ["name_first"],
        },
    )
    assert answer.status_code == 201
    info = answer.json()["bulk"]
    assert info["status"] == "queue"
    assert info["number_of_contacts"] == 3
    assert info["match_contact_user_id"] is False
    assert info["webhook_url"] == hook.url
    wait_until(lambda: hook.received)
    body, authorization = hook.received[0]
    assert signature_ok(body, authorization, sandbox.env()["PUSHTECH_API_TOKEN"])
    assert not signature_ok(body, authorization, "another-secret")
    assert body["account_id"] == "sandbox-account"
    assert (body["contacts_valid_count"], body["contacts_failed_count"]) == (2, 1)
    assert body["failed_contacts"][0]["contact"] == {"name_first": "Nobody"}
    assert "email or a phone" in body["failed_contacts"][0]["error"]
    valid = {c["user_id"] or c["phone_number"]: c for c in body["valid_contacts"]}
    assert valid["7712345678"]["name_first"] == "Bo"
    assert valid["U1"]["email"] == "a@example.com"
    stored = {c["_id"]: c for c in sandbox.contacts("pushtech")}
    assert stored[valid["U1"]["_id"]]["plan_type"] == "gold"
    status = pushtech.get(f"/contact/bulk/{info['_id']}").json()["bulk"]
    assert status["status"] == "finished"


def test_the_webhook_is_retried_until_accepted_and_stops_on_406(
    sandbox: SandboxServer, pushtech: httpx.Client, receiver, wait_until
) -> None:
    flaky = receiver([500, 503])
    pushtech.post(
        "/contact/bulk", json={"contacts": [{"email": "a@example.com"}], "webhook_url": flaky.url}
    )
    wait_until(lambda: len(flaky.received) == 3)
    refusing = receiver([406, 500])
    pushtech.post(
        "/contact/bulk",
        json={"contacts": [{"email": "b@example.com"}], "webhook_url": refusing.url},
    )
    wait_until(lambda: refusing.received)
    wait_until(lambda: len(sandbox.webhooks()) == 4)
    assert [w["status"] for w in sandbox.webhooks()] == [500, 503, 200, 406]
    assert len(refusing.received) == 1


def test_status_moves_from_queue_through_processing_to_finished() -> None:
    from contact_pipelines.sandbox import Timing

    with SandboxServer(timing=Timing(import_delay=60, import_polls=2)) as sandbox:
        env = sandbox.env()
        with httpx.Client(
            base_url=f"{env['PUSHTECH_API_URL']}/v2/account/{env['PUSHTECH_ACCOUNT_ID']}",
            headers={"Authorization": f"Token token={env['PUSHTECH_API_TOKEN']}"},
        ) as pushtech:
            bulk_id = pushtech.post(
                "/contact/bulk", json={"contacts": [{"email": "a@example.com"}]}
            ).json()["bulk"]["_id"]
            seen = [
                pushtech.get(f"/contact/bulk/{bulk_id}").json()["bulk"]["status"] for _ in range(3)
            ]
            assert seen == ["queue", "processing", "finished"]
            assert pushtech.get("/contact/bulk/unknown").status_code == 404


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        ({"email": "not an email"}, "email"),
        ({"phone_countrycode": "44", "phone_number": "07712345678"}, "phone"),  # trunk prefix
        ({"phone_countrycode": "44"}, "phone_number"),
        ({"phone": "+12"}, "phone"),
        ({"email": "a@example.com", "gender": "M"}, "gender"),
        ({"email": "a@example.com", "born_date": "1990-01-01"}, "born_date"),
        ({"email": "a@example.com", "language": "eng"}, "language"),
        (
            {
                "email": "a@example.com",
                "channel_subscriptions": [{"channel": "fax", "blacklisted": True}],
            },
            "fax",
        ),
        ({"user_id": "U9"}, "email or a phone"),
    ],
)
def test_bad_values_fail_per_contact_in_the_webhook(
    sandbox: SandboxServer, pushtech: httpx.Client, receiver, wait_until, contact: dict, reason: str
) -> None:
    hook = receiver()
    good = {"email": "ok@example.com", "gender": "FEMALE", "born_date": "1990-01-01T00:00:00Z"}
    answer = pushtech.post(
        "/contact/bulk", json={"contacts": [good, contact], "webhook_url": hook.url}
    )
    assert answer.status_code == 201
    wait_until(lambda: hook.received)
    body = hook.received[0][0]
    assert body["contacts_failed_count"] == 1
    assert reason in body["failed_contacts"][0]["error"]
    assert [c["email"] for c in sandbox.contacts("pushtech")] == ["ok@example.com"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"contacts": [{"email": "a@example.com", "plan": "x"}]}, "plan"),  # custom field missing
        ({"contacts": [{"email": "a@example.com", "name_first": None}]}, "name_first"),
        ({"contacts": [{"email": "a@example.com"}], "webhook_url": None}, "webhook_url"),
        ({"contacts": [{"email": "a@example.com"}], "priority": "high"}, "priority"),
        ({"contacts": [{"email": "a@example.com", "tags": "vip"}]}, "tags"),
        (
            {"contacts": [{"email": "a@example.com", "list_subscriptions": [{"list_id": "L"}]}]},
            "subscribed",
        ),
        (
            {"contacts": [{"email": "a@example.com"}], "match_contact_user_id": "yes"},
            "match_contact_user_id",
        ),
        ({"contacts": []}, "contacts"),
        ({"contacts": [{"email": "a@example.com"}] * 5001}, "5000"),
    ],
)
def test_contract_violations_are_400_with_no_effect(
    sandbox: SandboxServer, pushtech: httpx.Client, body: dict, named: str
) -> None:
    answer = pushtech.post("/contact/bulk", json=body)
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert sandbox.contacts("pushtech") == []


def test_5000_contacts_is_the_most_a_bulk_takes(
    sandbox: SandboxServer, pushtech: httpx.Client
) -> None:
    contacts = [{"email": f"c{i}@example.com"} for i in range(5000)]
    assert pushtech.post("/contact/bulk", json={"contacts": contacts}).status_code == 201
    assert len(sandbox.contacts("pushtech")) == 5000


def test_match_contact_user_id_updates_and_false_creates(
    sandbox: SandboxServer, pushtech: httpx.Client
) -> None:
    first = {
        "user_id": "U1",
        "email": "a@example.com",
        "tags": ["a"],
        "list_subscriptions": [{"list_id": "L1", "subscribed": True}],
    }
    pushtech.post("/contact/bulk", json={"contacts": [first], "match_contact_user_id": True})
    update = {
        "user_id": "U1",
        "email": "a@example.com",
        "tags": ["b"],
        "list_subscriptions": [{"list_id": "L1", "subscribed": False}],
    }
    pushtech.post("/contact/bulk", json={"contacts": [update], "match_contact_user_id": True})
    stored = sandbox.contacts("pushtech")
    assert len(stored) == 1
    assert stored[0]["tags"] == ["a", "b"]
    assert stored[0]["list_subscriptions"] == [{"list_id": "L1", "subscribed": False}]
    pushtech.post("/contact/bulk", json={"contacts": [update]})  # default false: creates
    assert len(sandbox.contacts("pushtech")) == 2


def test_custom_fields_are_created_by_api_and_typed(
    sandbox: SandboxServer, pushtech: httpx.Client, receiver, wait_until
) -> None:
    assert (
        pushtech.post("/custom_fields", json={"name": "score", "type": "integer"}).status_code
        == 400
    )
    assert (
        pushtech.post("/custom_fields", json={"name": "email", "type": "string"}).status_code == 400
    )
    created = pushtech.post(
        "/custom_fields", json={"name": "score", "label": "Score", "type": "number"}
    )
    assert created.status_code == 201
    assert (
        pushtech.post("/custom_fields", json={"name": "score", "type": "number"}).status_code == 422
    )
    names = {f["name"] for f in pushtech.get("/custom_fields").json()["custom_fields"]}
    assert names == {"plan_type", "score"}
    hook = receiver()
    contacts = [
        {"email": "a@example.com", "score": 3},
        {"email": "b@example.com", "score": "three"},
    ]
    pushtech.post("/contact/bulk", json={"contacts": contacts, "webhook_url": hook.url})
    wait_until(lambda: hook.received)
    assert "score" in hook.received[0][0]["failed_contacts"][0]["error"]
    assert [c["score"] for c in sandbox.contacts("pushtech")] == [3]

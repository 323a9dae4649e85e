"""Reteno's contract in the sandbox: limits, strict shapes, per-contact failures,
the async import status and the matching rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer, Timing


def email_contact(email: str, **extra) -> dict:
    return {"channels": [{"type": "email", "value": email}], **extra}


def bulk(*contacts: dict, **options) -> dict:
    return {"dedupeOn": "email", "contacts": list(contacts), **options}


def finish(reteno: httpx.Client, session: str) -> dict:
    for _ in range(10):
        status = reteno.get(f"/importstatus/{session}").json()
        if status["status"] == "FINISHED":
            return status
    raise AssertionError("the import never finished")


def test_bulk_import_creates_contacts_and_maps_ids(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    answer = reteno.post(
        "/contacts",
        json=bulk(
            email_contact(
                "ann@example.com", firstName="Ann", fields=[{"id": 12345, "value": "gold"}]
            ),
            {"channels": [{"type": "sms", "value": "+380672583691"}], "externalCustomerId": "C-2"},
            groupNames=["Customers", "VIP"],
        ),
    )
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["failedContacts"] == []
    status = finish(reteno, reply["asyncSessionId"])
    stored = {c["id"]: c for c in sandbox.contacts("reteno")}
    assert {m["dedupeValue"] for m in status["mapping"]} == {"ann@example.com", "C-2"}
    ann = stored[
        next(m["contactId"] for m in status["mapping"] if m["dedupeValue"] == "ann@example.com")
    ]
    assert ann["firstName"] == "Ann"
    assert ann["fields"] == [{"id": 12345, "value": "gold"}]
    assert ann["groups"] == ["Customers", "VIP"]


def test_more_than_3000_contacts_is_a_400_with_no_effect(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    contacts = [email_contact(f"c{i}@example.com") for i in range(3001)]
    answer = reteno.post("/contacts", json=bulk(*contacts))
    assert answer.status_code == 400
    assert "3000" in answer.json()["errorMessage"]
    assert sandbox.contacts("reteno") == []
    assert reteno.post("/contacts", json=bulk(*contacts[:3000])).status_code == 200
    assert len(sandbox.contacts("reteno")) == 3000


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (bulk(email_contact("a@example.com", middleName="X")), "middleName"),
        (bulk(email_contact("a@example.com", firstName=None)), "firstName"),
        (bulk(email_contact("a@example.com"), groupNames=None), "groupNames"),
        (bulk(email_contact("a@example.com"), upsert=True), "upsert"),
        (
            bulk({"channels": [{"type": "email", "value": "a@example.com", "primary": True}]}),
            "primary",
        ),
        (
            bulk(
                {"channels": [{"type": "mobilepush", "value": "t", "device": {"osVersion": "17"}}]}
            ),
            "osVersion",
        ),
        ({"contacts": [email_contact("a@example.com")]}, "dedupeOn"),
        (bulk(email_contact("a@example.com"), dedupeOn="phone"), "dedupeOn"),
        (bulk(email_contact("a@example.com", fields=[{"id": "12345", "value": "x"}])), "id"),
        (
            bulk(email_contact("a@example.com"), eventKeyForNewContacts="new,contact"),
            "eventKeyForNewContacts",
        ),
        (
            bulk(email_contact("a@example.com"), eventKeyForNewContacts="x" * 101),
            "eventKeyForNewContacts",
        ),
        (bulk(email_contact("a@example.com"), customFieldsIDs=[999]), "customFieldsIDs"),
        (bulk(), "contacts"),
        (bulk(email_contact("a@example.com"), dedupeOn="fieldId"), "fieldId"),
        (bulk(email_contact("a@example.com"), fieldId=12345), "fieldId"),
    ],
)
def test_contract_violations_are_400_naming_the_key(
    sandbox: SandboxServer, reteno: httpx.Client, body: dict, named: str
) -> None:
    answer = reteno.post("/contacts", json=body)
    assert answer.status_code == 400
    assert named in answer.json()["errorMessage"]
    assert sandbox.contacts("reteno") == []


def test_a_valid_event_key_is_accepted_and_fires_for_new_contacts_only(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    body = bulk(email_contact("a@example.com"), eventKeyForNewContacts="imported_contact")
    assert reteno.post("/contacts", json=body).status_code == 200
    assert reteno.post("/contacts", json=body).status_code == 200
    assert len(sandbox.state("reteno")["events"]) == 1


def test_a_single_failure_comes_back_as_an_object(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    answer = reteno.post(
        "/contacts", json=bulk(email_contact("good@example.com"), email_contact("not-an-email"))
    )
    failed = answer.json()["failedContacts"]
    assert isinstance(failed, dict)
    assert failed["channels"][0]["value"] == "not-an-email"
    assert "email" in failed["error"]
    assert [c["channels"][0]["value"] for c in sandbox.contacts("reteno")] == ["good@example.com"]


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (email_contact("bad@@example.com"), "email"),
        ({"channels": [{"type": "sms", "value": "4407712345678"}]}, "phone"),  # trunk 0 kept
        ({"channels": [{"type": "fax", "value": "123"}]}, "fax"),
        (email_contact("x@example.com", firstName="A" * 41), "firstName"),
        (email_contact("x@example.com", lastName="B" * 41), "lastName"),
        (email_contact("x@example.com", fields=[{"id": 777, "value": "x"}]), "777"),
        (email_contact("x@example.com", timeZone="Mars/Olympus"), "timeZone"),
        ({"firstName": "No channels"}, "channels"),
        ({"channels": [{"type": "sms", "value": "+447712345678"}]}, "dedupeOn=email"),
    ],
)
def test_per_contact_failures_are_listed_and_the_rest_goes_in(
    sandbox: SandboxServer, reteno: httpx.Client, contact: dict, reason: str
) -> None:
    other_bad = email_contact("also bad")
    answer = reteno.post(
        "/contacts", json=bulk(email_contact("ok@example.com"), contact, other_bad)
    )
    assert answer.status_code == 200
    failed = answer.json()["failedContacts"]
    assert isinstance(failed, list)
    assert len(failed) == 2
    assert reason in failed[0]["error"]
    assert len(sandbox.contacts("reteno")) == 1


def test_import_status_moves_from_started_through_importing_to_finished() -> None:
    timing = Timing(import_delay=60, import_polls=2)
    with SandboxServer(timing=timing) as sandbox:
        env = sandbox.env()
        with httpx.Client(
            base_url=env["RETENO_API_URL"], auth=("u", env["RETENO_API_KEY"])
        ) as reteno:
            session = reteno.post("/contacts", json=bulk(email_contact("a@example.com"))).json()[
                "asyncSessionId"
            ]
            seen = [reteno.get(f"/importstatus/{session}").json() for _ in range(4)]
            assert [s["status"] for s in seen] == ["STARTED", "IMPORTING", "FINISHED", "FINISHED"]
            assert seen[0]["mapping"] == []
            assert seen[2]["mapping"][0]["dedupeValue"] == "a@example.com"
            assert reteno.get("/importstatus/no-such-session").status_code == 404


def test_external_id_matches_first_and_dedupe_on_is_ignored(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    reteno.post("/contacts", json=bulk(email_contact("a@example.com", externalCustomerId="X1")))
    # Same external id, new email: an update of X1, not a new contact.
    reteno.post("/contacts", json=bulk(email_contact("b@example.com", externalCustomerId="X1")))
    # Same email as X1 now has, but another external id: a new contact.
    reteno.post("/contacts", json=bulk(email_contact("b@example.com", externalCustomerId="X2")))
    stored = sorted(sandbox.contacts("reteno"), key=lambda c: c["externalCustomerId"])
    assert [(c["externalCustomerId"], c["channels"][0]["value"]) for c in stored] == [
        ("X1", "b@example.com"),
        ("X2", "b@example.com"),
    ]


def test_dedupe_on_email_picks_the_most_recently_updated(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    reteno.post("/contacts", json=bulk(email_contact("a@example.com", externalCustomerId="X1")))
    reteno.post("/contacts", json=bulk(email_contact("a@example.com", externalCustomerId="X2")))
    answer = reteno.post("/contacts", json=bulk(email_contact("A@example.com", firstName="Newest")))
    mapping = finish(reteno, answer.json()["asyncSessionId"])["mapping"]
    by_id = {c["id"]: c for c in sandbox.contacts("reteno")}
    assert by_id[mapping[0]["contactId"]]["externalCustomerId"] == "X2"
    assert by_id[mapping[0]["contactId"]]["firstName"] == "Newest"
    assert len(by_id) == 2


def test_groups_are_added_and_removed(sandbox: SandboxServer, reteno: httpx.Client) -> None:
    contact = email_contact("a@example.com")
    reteno.post("/contacts", json=bulk(contact, groupNames=["A", "B"]))
    reteno.post("/contacts", json=bulk(contact, groupNames=["C"], groupNamesExclude=["A"]))
    assert sandbox.contacts("reteno")[0]["groups"] == ["B", "C"]


def test_contact_fields_clears_a_listed_field_sent_without_a_value(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    reteno.post("/contacts", json=bulk(email_contact("a@example.com", firstName="A", lastName="Z")))
    reteno.post(
        "/contacts",
        json=bulk(email_contact("a@example.com"), contactFields=["lastName"]),
    )
    stored = sandbox.contacts("reteno")[0]
    assert stored["firstName"] == "A"
    assert "lastName" not in stored


def test_single_contact_returns_an_id_and_409_on_a_quick_repeat(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    contact = email_contact("solo@example.com", firstName="Solo")
    first = reteno.post("/contact", json=contact)
    assert first.status_code == 200
    assert first.json()["id"] == sandbox.contacts("reteno")[0]["id"]
    assert reteno.post("/contact", json=contact).status_code == 409
    assert reteno.post("/contact", json={**contact, "bogus": 1}).status_code == 400


def test_addressbooks_lists_only_seeded_fields(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    groups = reteno.get("/addressbooks").json()["fieldGroups"]
    fields = [f for group in groups for f in group["fields"]]
    assert [(f["id"], f["name"]) for f in fields] == [(12345, "plan_type")]
    sandbox.seed_fields(reteno={777: "tier"})
    groups = reteno.get("/addressbooks").json()["fieldGroups"]
    assert {f["id"] for group in groups for f in group["fields"]} == {12345, 777}


def test_dedupe_on_a_field_matches_on_its_value(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    def with_plan(email: str) -> dict:
        return email_contact(email, fields=[{"id": 12345, "value": "P-1"}])

    reteno.post(
        "/contacts", json=bulk(with_plan("a@example.com"), dedupeOn="fieldId", fieldId=12345)
    )
    reteno.post(
        "/contacts", json=bulk(with_plan("b@example.com"), dedupeOn="fieldId", fieldId=12345)
    )
    stored = sandbox.contacts("reteno")
    assert [c["channels"][0]["value"] for c in stored] == ["b@example.com"]


def test_concurrent_batches_all_land_with_distinct_ids(sandbox: SandboxServer) -> None:
    env = sandbox.env()

    def send(start: int) -> int:
        contacts = [email_contact(f"c{i}@example.com") for i in range(start, start + 500)]
        answer = httpx.post(
            f"{env['RETENO_API_URL']}/contacts",
            json=bulk(*contacts),
            auth=("u", env["RETENO_API_KEY"]),
            timeout=30,
        )
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, range(0, 8000, 500))) == {200}
    stored = sandbox.contacts("reteno")
    assert len(stored) == len({c["id"] for c in stored}) == 8000

"""Dotdigital's contract in the sandbox: the v3 import, its report, the limits,
the null-clears rule and data fields."""

from __future__ import annotations

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer, Timing


def by_email(email: str, **extra) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}, **extra}


def report(dotdigital: httpx.Client, import_id: str) -> dict:
    for _ in range(10):
        answer = dotdigital.get(f"/contacts/v3/import/{import_id}")
        assert answer.status_code == 200
        if answer.json()["status"] == "Finished":
            return answer.json()
    raise AssertionError("the import never finished")


def run_import(dotdigital: httpx.Client, *contacts: dict, **options) -> dict:
    answer = dotdigital.put("/contacts/v3/import", json={"contacts": list(contacts), **options})
    assert answer.status_code == 202, answer.text
    return report(dotdigital, answer.json()["importId"])


def test_import_creates_then_updates_with_lists_kept(
    sandbox: SandboxServer, dotdigital: httpx.Client
) -> None:
    first = run_import(
        dotdigital, by_email("a@example.com", dataFields={"PLAN": "gold"}, lists=[101])
    )
    assert first["summary"]["newContacts"] == 1
    contact_id = first["created"][0]["contactId"]
    second = run_import(
        dotdigital,
        by_email("A@example.com", dataFields={"score": 7}, lists=[102]),
        {"matchIdentifier": "mobileNumber", "identifiers": {"mobileNumber": "+447712345678"}},
    )
    assert second["summary"] == {
        "newContacts": 1,
        "updatedContacts": 1,
        "globallySuppressed": 0,
        "invalidEntries": 0,
        "duplicateIdentifiers": 0,
    }
    assert second["updated"][0]["contactId"] == contact_id
    stored = {c["contactId"]: c for c in sandbox.contacts("dotdigital")}
    assert stored[contact_id]["lists"] == [101, 102]
    assert stored[contact_id]["dataFields"] == {"PLAN": "gold", "SCORE": 7}


def test_a_null_data_field_clears_it(sandbox: SandboxServer, dotdigital: httpx.Client) -> None:
    run_import(dotdigital, by_email("a@example.com", dataFields={"PLAN": "gold", "SCORE": 3}))
    run_import(dotdigital, by_email("a@example.com", dataFields={"PLAN": None}))
    assert sandbox.contacts("dotdigital")[0]["dataFields"] == {"SCORE": 3}


def test_merge_option_if_not_empty_keeps_values_a_null_would_clear(
    sandbox: SandboxServer, dotdigital: httpx.Client
) -> None:
    run_import(dotdigital, by_email("a@example.com", dataFields={"PLAN": "gold"}))
    run_import(
        dotdigital,
        by_email("a@example.com", dataFields={"PLAN": None}),
        mergeOption="overwriteIfNotEmpty",
    )
    assert sandbox.contacts("dotdigital")[0]["dataFields"] == {"PLAN": "gold"}


def test_invalid_records_fail_only_in_the_report(
    sandbox: SandboxServer, dotdigital: httpx.Client
) -> None:
    result = run_import(
        dotdigital,
        by_email("good@example.com"),
        by_email("no-at-sign.example.com"),
        {"matchIdentifier": "mobileNumber", "identifiers": {"mobileNumber": "+4407712345678"}},
        by_email("good@example.com"),
        by_email("b@example.com", dataFields={"SCORE": "seven"}),
    )
    codes = [f["failures"][0]["failureCode"] for f in result["failures"]]
    assert codes == [
        "invalidEmail",
        "invalidMobileNumber",
        "duplicateIdentifier",
        "invalidDataFieldValue",
    ]
    assert result["failures"][0]["identifiers"] == {"email": "no-at-sign.example.com"}
    assert result["summary"]["newContacts"] == 1
    assert result["summary"]["duplicateIdentifiers"] == 1
    assert [c["identifiers"]["email"] for c in sandbox.contacts("dotdigital")] == [
        "good@example.com"
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"contacts": []}, "contacts"),
        ({}, "contacts"),
        ({"contacts": [by_email("a@example.com", lists=[])]}, "lists"),
        ({"contacts": [by_email("a@example.com", lists=list(range(1, 102)))]}, "lists"),
        ({"contacts": [by_email("a@example.com", lists=["101"])]}, "lists"),
        ({"contacts": [by_email("a@example.com", consentRecords=[])]}, "consentRecords"),
        (
            {"contacts": [by_email("a@example.com", consentRecords=[{"text": "ok"}] * 6)]},
            "consentRecords",
        ),
        ({"contacts": [by_email("a@example.com", optIn=True)]}, "optIn"),
        ({"contacts": [by_email("a@example.com", lists=None)]}, "lists"),
        ({"contacts": [{"matchIdentifier": "email", "identifiers": {"email": None}}]}, "email"),
        ({"contacts": [by_email("a@example.com", dataFields={"NOPE": "x"})]}, "NOPE"),
        ({"contacts": [by_email("a@example.com", dataFields={"PLAN": {"x": 1}})]}, "PLAN"),
        ({"contacts": [by_email("a@example.com")], "mergeOption": "merge"}, "mergeOption"),
        (
            {
                "contacts": [
                    by_email("a@example.com", channelProperties={"email": {"status": "on"}})
                ]
            },
            "status",
        ),
    ],
)
def test_contract_violations_reject_the_whole_import(
    sandbox: SandboxServer, dotdigital: httpx.Client, body: dict, named: str
) -> None:
    answer = dotdigital.put("/contacts/v3/import", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["errorCode"].startswith("contacts:")
    assert named in error["description"]
    assert sandbox.contacts("dotdigital") == []


def test_a_body_over_50_mb_is_refused(sandbox: SandboxServer, dotdigital: httpx.Client) -> None:
    padding = "x" * 1000
    contacts = [by_email(f"c{i}@example.com", dataFields={"PLAN": padding}) for i in range(50_000)]
    answer = dotdigital.put("/contacts/v3/import", json={"contacts": contacts})
    assert answer.status_code == 413
    assert "errorCode" in answer.json()
    assert sandbox.contacts("dotdigital") == []
    assert sandbox.requests("dotdigital")[-1]["bytes"] == 0  # drained, never parsed


def test_at_most_25_imports_may_be_active() -> None:
    with SandboxServer(timing=Timing(import_delay=60, import_polls=None)) as sandbox:
        env = sandbox.env()
        with httpx.Client(
            base_url=env["DOTDIGITAL_API_URL"],
            auth=(env["DOTDIGITAL_API_USER"], env["DOTDIGITAL_API_PASSWORD"]),
        ) as dotdigital:
            body = {"contacts": [by_email("a@example.com")]}
            statuses = [
                dotdigital.put("/contacts/v3/import", json=body).status_code for _ in range(26)
            ]
            assert statuses == [202] * 25 + [429]
            refused = dotdigital.put("/contacts/v3/import", json=body)
            assert refused.json()["errorCode"] == "contacts:tooManyActiveImports"
            assert sandbox.state("dotdigital")["imports"] == 25


def test_an_unfinished_import_says_not_finished_and_an_unknown_one_is_404() -> None:
    with SandboxServer(timing=Timing(import_delay=60, import_polls=1)) as sandbox:
        env = sandbox.env()
        with httpx.Client(
            base_url=env["DOTDIGITAL_API_URL"],
            auth=(env["DOTDIGITAL_API_USER"], env["DOTDIGITAL_API_PASSWORD"]),
        ) as dotdigital:
            import_id = dotdigital.put(
                "/contacts/v3/import", json={"contacts": [by_email("a@example.com")]}
            ).json()["importId"]
            first = dotdigital.get(f"/contacts/v3/import/{import_id}").json()
            assert first == {"importId": import_id, "status": "NotFinished"}
            assert dotdigital.get(f"/contacts/v3/import/{import_id}").json()["status"] == "Finished"
            missing = dotdigital.get("/contacts/v3/import/nope")
            assert missing.status_code == 404
            assert missing.json()["errorCode"] == "contacts:importNotFound"


def test_data_fields_are_created_by_api_under_the_name_rule(
    sandbox: SandboxServer, dotdigital: httpx.Client
) -> None:
    assert (
        dotdigital.post("/v2/data-fields", json={"name": "A" * 21, "type": "String"}).status_code
        == 400
    )
    assert (
        dotdigital.post("/v2/data-fields", json={"name": "BAD NAME", "type": "String"}).status_code
        == 400
    )
    assert (
        dotdigital.post("/v2/data-fields", json={"name": "TIER", "type": "Text"}).status_code == 400
    )
    created = dotdigital.post(
        "/v2/data-fields", json={"name": "TIER_2-x", "type": "String", "visibility": "Private"}
    )
    assert created.status_code == 200
    assert (
        dotdigital.post("/v2/data-fields", json={"name": "tier_2-x", "type": "String"}).status_code
        == 400
    )
    names = {f["name"] for f in dotdigital.get("/v2/data-fields").json()}
    assert names == {"PLAN", "SCORE", "TIER_2-X"}
    run_import(dotdigital, by_email("a@example.com", dataFields={"TIER_2-x": "t2"}))
    assert sandbox.contacts("dotdigital")[0]["dataFields"] == {"TIER_2-X": "t2"}

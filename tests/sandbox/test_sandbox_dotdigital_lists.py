"""Dotdigital's v2 list removal in the sandbox: POST /v2/address-books/{id}/contacts/delete
("delete multiple contacts from an address book"; membership only, answered 204)."""

from __future__ import annotations

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer, Timing

REMOVE = "/v2/address-books/{}/contacts/delete"


def import_into_lists(dotdigital: httpx.Client, **lists_by_email: list[int]) -> dict[str, int]:
    """Import one contact per email into its lists; email -> contactId."""
    contacts = [
        {"matchIdentifier": "email", "identifiers": {"email": email}, "lists": lists}
        for email, lists in lists_by_email.items()
    ]
    answer = dotdigital.put("/contacts/v3/import", json={"contacts": contacts})
    assert answer.status_code == 202, answer.text
    import_id = answer.json()["importId"]
    for _ in range(10):
        report = dotdigital.get(f"/contacts/v3/import/{import_id}").json()
        if report["status"] == "Finished":
            return {c["identifiers"]["email"]: c["contactId"] for c in report["created"]}
    raise AssertionError("the import never finished")


def lists_of(sandbox: SandboxServer) -> dict[str, list[int]]:
    return {c["identifiers"]["email"]: c["lists"] for c in sandbox.contacts("dotdigital")}


@pytest.fixture
def two_contacts(dotdigital: httpx.Client) -> dict[str, int]:
    return import_into_lists(
        dotdigital, **{"a@example.com": [101, 102], "b@example.com": [101, 102]}
    )


def test_removes_membership_only_and_answers_204(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int]
) -> None:
    answer = dotdigital.post(REMOVE.format(101), json=[two_contacts["a@example.com"]])
    assert answer.status_code == 204
    assert answer.content == b""
    assert lists_of(sandbox) == {"a@example.com": [102], "b@example.com": [101, 102]}
    assert sandbox.state("dotdigital")["address_books"] == [101, 102]
    logged = sandbox.requests("dotdigital")[-1]
    assert (logged["method"], logged["status"], logged["n_contacts"]) == ("POST", 204, 1)


def test_ids_not_in_the_book_are_ignored_and_a_repeat_is_harmless(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int]
) -> None:
    ids = [two_contacts["a@example.com"], two_contacts["b@example.com"], 999_999]
    for _ in range(2):  # the keep-alive connection survives the body-less 204s
        assert dotdigital.post(REMOVE.format(102), json=ids).status_code == 204
    assert lists_of(sandbox) == {"a@example.com": [101], "b@example.com": [101]}
    assert len(sandbox.contacts("dotdigital")) == 2  # the contacts stay in the account


@pytest.mark.parametrize(
    "auth", [None, ("sandbox@example.com", "wrong"), ("someone@example.com", "sandbox-password")]
)
def test_needs_basic_auth(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int], auth
) -> None:
    with httpx.Client(base_url=str(dotdigital.base_url), auth=auth) as client:
        answer = client.post(REMOVE.format(101), json=[two_contacts["a@example.com"]])
    assert answer.status_code == 401
    assert set(answer.json()) == {"errorCode", "description"}
    assert lists_of(sandbox)["a@example.com"] == [101, 102]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"contacts": [5000001]}',
        b'["5000001"]',
        b"[true]",
        b"[1.5]",
        b"[null]",
        b"[]",
        b"null",
        ("[" + ",".join(["5000001"] * 1001) + "]").encode(),
    ],
)
def test_a_body_that_is_not_an_array_of_ids_is_refused(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int], body: bytes
) -> None:
    answer = dotdigital.post(
        REMOVE.format(101), content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    error = answer.json()
    assert error["errorCode"] == "contacts:badJson"
    assert error["description"]
    assert lists_of(sandbox)["a@example.com"] == [101, 102]


def test_a_body_that_is_not_json_typed_is_415(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int]
) -> None:
    answer = dotdigital.post(
        REMOVE.format(101), content=b"[5000001]", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415


@pytest.mark.parametrize("book", ["999", "abc"])
def test_an_unknown_address_book_is_404(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int], book: str
) -> None:
    answer = dotdigital.post(REMOVE.format(book), json=[two_contacts["a@example.com"]])
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "addressBookNotFound"
    assert book in answer.json()["description"]


def test_wrong_method_is_405(dotdigital: httpx.Client, two_contacts: dict[str, int]) -> None:
    answer = dotdigital.get(REMOVE.format(101))
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("faults", "status"), [("5xx:1", {500, 502, 503}), ("429:1,retry_after:2", {429})]
)
def test_injected_faults_apply_and_have_no_effect(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int], faults, status
) -> None:
    sandbox.set_faults(faults)
    answer = dotdigital.post(REMOVE.format(101), json=[two_contacts["a@example.com"]])
    sandbox.set_faults(None)
    assert answer.status_code in status
    assert set(answer.json()) == {"errorCode", "description"}
    if answer.status_code == 429:
        assert answer.headers["Retry-After"] == "2"
    assert lists_of(sandbox)["a@example.com"] == [101, 102]


def test_a_dropped_connection_has_no_effect(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int]
) -> None:
    sandbox.set_faults("drop:1")
    with pytest.raises(httpx.TransportError):
        dotdigital.post(REMOVE.format(101), json=[two_contacts["a@example.com"]])
    sandbox.set_faults(None)
    assert lists_of(sandbox)["a@example.com"] == [101, 102]


def test_the_rate_limit_counts_it() -> None:
    with SandboxServer(timing=Timing(dotdigital_calls_per_minute=2)) as sandbox:
        env = sandbox.env()
        auth = (env["DOTDIGITAL_API_USER"], env["DOTDIGITAL_API_PASSWORD"])
        with httpx.Client(base_url=env["DOTDIGITAL_API_URL"], auth=auth) as dotdigital:
            body = {"contacts": [{"matchIdentifier": "email", "identifiers": {"email": "a@x.org"}}]}
            assert dotdigital.put("/contacts/v3/import", json=body).status_code == 202
            assert dotdigital.post(REMOVE.format(101), json=[1]).status_code == 404
            limited = dotdigital.post(REMOVE.format(101), json=[1])
            assert limited.status_code == 429
            assert int(limited.headers["Retry-After"]) >= 1


def test_reset_forgets_address_books(
    sandbox: SandboxServer, dotdigital: httpx.Client, two_contacts: dict[str, int]
) -> None:
    sandbox.reset()
    assert sandbox.state("dotdigital")["address_books"] == []
    assert dotdigital.post(REMOVE.format(101), json=[1]).status_code == 404

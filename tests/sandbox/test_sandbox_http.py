"""Auth, content type, unknown routes and wrong methods, per vendor, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer

RETENO_BODY = {
    "dedupeOn": "email",
    "contacts": [{"channels": [{"type": "email", "value": "a@example.com"}]}],
}
DOTDIGITAL_BODY = {
    "contacts": [{"matchIdentifier": "email", "identifiers": {"email": "a@example.com"}}]
}
PUSHTECH_BODY = {"contacts": [{"email": "a@example.com"}]}


def test_env_points_every_vendor_at_this_server(sandbox: SandboxServer) -> None:
    env = sandbox.env()
    assert set(env) == {
        "RETENO_API_URL",
        "RETENO_API_KEY",
        "DOTDIGITAL_API_URL",
        "DOTDIGITAL_API_USER",
        "DOTDIGITAL_API_PASSWORD",
        "PUSHTECH_API_URL",
        "PUSHTECH_ACCOUNT_ID",
        "PUSHTECH_API_TOKEN",
    }
    assert env["RETENO_API_URL"] == f"{sandbox.url}/reteno/api/v1"
    assert env["DOTDIGITAL_API_URL"] == f"{sandbox.url}/dotdigital"
    assert env["PUSHTECH_API_URL"] == f"{sandbox.url}/pushtech"
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert "sandbox-" not in repr(sandbox)  # no credentials in the repr


@pytest.mark.parametrize("auth", [None, ("user", "wrong-key")])
def test_reteno_rejects_a_missing_or_wrong_key(sandbox: SandboxServer, auth) -> None:
    answer = httpx.post(f"{sandbox.env()['RETENO_API_URL']}/contacts", json=RETENO_BODY, auth=auth)
    assert answer.status_code == 401
    assert "errorMessage" in answer.json()
    assert "wrong-key" not in answer.text
    assert sandbox.contacts("reteno") == []


def test_reteno_ignores_the_basic_auth_username(sandbox: SandboxServer) -> None:
    key = sandbox.env()["RETENO_API_KEY"]
    for user in ("", "anything"):
        answer = httpx.get(f"{sandbox.env()['RETENO_API_URL']}/addressbooks", auth=(user, key))
        assert answer.status_code == 200


@pytest.mark.parametrize(
    "auth", [None, ("sandbox@example.com", "wrong"), ("other@example.com", "sandbox-password")]
)
def test_dotdigital_needs_its_user_and_password(sandbox: SandboxServer, auth) -> None:
    answer = httpx.put(
        f"{sandbox.env()['DOTDIGITAL_API_URL']}/contacts/v3/import", json=DOTDIGITAL_BODY, auth=auth
    )
    assert answer.status_code == 401
    assert set(answer.json()) >= {"errorCode", "description"}
    assert sandbox.contacts("dotdigital") == []


@pytest.mark.parametrize(
    ("account", "authorization"),
    [
        ("sandbox-account", None),
        ("sandbox-account", "Bearer sandbox-pushtech-token"),
        ("sandbox-account", "Token token=wrong"),
        ("other-account", "Token token=sandbox-pushtech-token"),
    ],
)
def test_pushtech_needs_the_token_header_and_its_own_account(
    sandbox: SandboxServer, account: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    url = f"{sandbox.env()['PUSHTECH_API_URL']}/v2/account/{account}/contact/bulk"
    answer = httpx.post(url, json=PUSHTECH_BODY, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": f"authorization failure for account: {account}"}
    assert sandbox.contacts("pushtech") == []


def test_reteno_answers_415_to_a_body_that_is_not_json(reteno: httpx.Client) -> None:
    answer = reteno.post(
        "/contacts", content=b"dedupeOn=email", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415
    assert "application/json" in answer.json()["errorMessage"]


def test_broken_json_is_a_400_in_each_vendors_shape(
    reteno: httpx.Client, dotdigital: httpx.Client, pushtech: httpx.Client
) -> None:
    headers = {"Content-Type": "application/json"}
    assert reteno.post("/contacts", content=b"{", headers=headers).status_code == 400
    answer = dotdigital.put("/contacts/v3/import", content=b"{", headers=headers)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "contacts:badJson"
    answer = pushtech.post("/contact/bulk", content=b"{", headers=headers)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_unknown_routes_answer_each_vendors_404(
    reteno: httpx.Client, dotdigital: httpx.Client, pushtech: httpx.Client
) -> None:
    answer = reteno.get("/nothing-here")
    assert answer.status_code == 404
    assert "errorMessage" in answer.json()
    answer = dotdigital.get("/v2/nothing-here")
    assert answer.status_code == 404
    assert "errorCode" in answer.json()
    answer = pushtech.get("/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("Route not found, ")


def test_wrong_methods_answer_405_with_allow(
    reteno: httpx.Client, dotdigital: httpx.Client, pushtech: httpx.Client
) -> None:
    answer = reteno.get("/contacts")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    # Dotdigital's import is a PUT, not a POST: the classic mistake.
    answer = dotdigital.post("/contacts/v3/import", json=DOTDIGITAL_BODY)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "PUT"
    assert pushtech.get("/contact/bulk").status_code == 405


def test_a_path_outside_every_vendor_is_404(sandbox: SandboxServer) -> None:
    answer = httpx.get(f"{sandbox.url}/api/v1/contacts")
    assert answer.status_code == 404
    assert "/reteno/api/v1" in answer.json()["error"]

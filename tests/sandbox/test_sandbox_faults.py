"""Fault injection (no effect on state, so a retry is safe) and the /_sandbox admin surface."""

from __future__ import annotations

import httpx
import pytest

from contact_pipelines.sandbox import FaultSpec, SandboxServer, Timing

RETENO_BODY = {
    "dedupeOn": "email",
    "contacts": [{"channels": [{"type": "email", "value": "a@example.com"}]}],
}
DOTDIGITAL_BODY = {
    "contacts": [{"matchIdentifier": "email", "identifiers": {"email": "a@example.com"}}]
}


def test_fault_specs_parse_and_bad_ones_are_refused() -> None:
    spec = FaultSpec.parse(
        "429:0.05,5xx:0.1,drop:0.02,timeout:0.01,too_many_imports:0.1,retry_after:1"
    )
    assert (spec.rate_limited, spec.server_error, spec.drop, spec.timeout) == (
        0.05,
        0.1,
        0.02,
        0.01,
    )
    assert spec.too_many_imports == 0.1
    assert FaultSpec.parse(str(spec)) == spec
    for bad in ("teapot:0.1", "429", "429:lots", "5xx:0.7,429:0.6", "drop:-0.1"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


def test_an_injected_429_carries_retry_after_and_changes_nothing(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    sandbox.set_faults("429:1,retry_after:2")
    answer = reteno.post("/contacts", json=RETENO_BODY)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert "errorMessage" in answer.json()
    assert sandbox.contacts("reteno") == []
    sandbox.set_faults(None)
    assert reteno.post("/contacts", json=RETENO_BODY).status_code == 200
    assert len(sandbox.contacts("reteno")) == 1


def test_injected_5xx_changes_nothing(sandbox: SandboxServer, dotdigital: httpx.Client) -> None:
    sandbox.set_faults("5xx:1")
    statuses = {
        dotdigital.put("/contacts/v3/import", json=DOTDIGITAL_BODY).status_code for _ in range(12)
    }
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1
    assert sandbox.contacts("dotdigital") == []
    assert sandbox.state("dotdigital")["imports"] == 0


def test_a_dropped_connection_gets_no_answer_and_changes_nothing(
    sandbox: SandboxServer, pushtech: httpx.Client
) -> None:
    sandbox.set_faults("drop:1")
    with pytest.raises(httpx.TransportError):
        pushtech.post("/contact/bulk", json={"contacts": [{"email": "a@example.com"}]})
    assert sandbox.contacts("pushtech") == []
    assert sandbox.requests("pushtech")[-1]["status"] is None
    assert sandbox.requests("pushtech")[-1]["fault"] == "drop"


def test_a_timeout_fault_stays_silent_past_the_clients_timeout(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    sandbox.set_faults("timeout:1,timeout_s:0.5")
    with pytest.raises(httpx.ReadTimeout):
        reteno.post("/contacts", json=RETENO_BODY, timeout=0.1)
    assert sandbox.contacts("reteno") == []


def test_too_many_imports_strikes_only_dotdigital_imports(
    sandbox: SandboxServer, dotdigital: httpx.Client, reteno: httpx.Client
) -> None:
    sandbox.set_faults("too_many_imports:1")
    answer = dotdigital.put("/contacts/v3/import", json=DOTDIGITAL_BODY)
    assert answer.status_code == 429
    assert answer.json()["errorCode"] == "contacts:tooManyActiveImports"
    assert dotdigital.get("/v2/data-fields").status_code == 200
    assert reteno.post("/contacts", json=RETENO_BODY).status_code == 200
    assert sandbox.contacts("dotdigital") == []


def test_mixed_faults_are_seeded_and_retries_converge_to_exactly_the_sent_contacts() -> None:
    faults = "429:0.2,5xx:0.2,drop:0.1,retry_after:0"
    outcomes = []
    for _ in range(2):  # the same seed gives the same sequence of faults
        with SandboxServer(faults=faults, seed=7) as sandbox:
            env = sandbox.env()
            transport = httpx.HTTPTransport(retries=0)
            with httpx.Client(
                base_url=env["RETENO_API_URL"],
                auth=("u", env["RETENO_API_KEY"]),
                transport=transport,
            ) as reteno:
                for index in range(20):
                    body = {
                        "dedupeOn": "email",
                        "contacts": [
                            {"channels": [{"type": "email", "value": f"c{index}@example.com"}]}
                        ],
                    }
                    while True:
                        try:
                            if reteno.post("/contacts", json=body).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
            emails = sorted(c["channels"][0]["value"] for c in sandbox.contacts("reteno"))
            assert emails == sorted(f"c{i}@example.com" for i in range(20))
            outcomes.append([r["fault"] for r in sandbox.requests("reteno")])
    assert outcomes[0] == outcomes[1]
    assert {"429", "5xx", "drop"} <= set(outcomes[0])


def test_admin_surface_is_never_faulted_and_seeds_and_reads_state(sandbox: SandboxServer) -> None:
    admin = httpx.Client(base_url=f"{sandbox.url}/_sandbox")
    assert admin.post("/faults", json={"faults": "5xx:1"}).json() == {
        "faults": str(FaultSpec.parse("5xx:1"))
    }
    assert admin.get("/health").status_code == 200  # never faulted
    assert admin.post("/faults", json={"faults": "bogus:1"}).status_code == 400
    admin.post("/faults", json={"faults": ""})
    seeded = {"reteno": {"777": "tier"}, "dotdigital": ["TIER"], "pushtech": {"tier": "string"}}
    assert admin.post("/fields", json=seeded).status_code == 200
    env = sandbox.env()
    answer = httpx.post(
        f"{env['RETENO_API_URL']}/contacts",
        auth=("u", env["RETENO_API_KEY"]),
        json={
            "dedupeOn": "email",
            "contacts": [
                {
                    "channels": [{"type": "email", "value": "a@example.com"}],
                    "fields": [{"id": 777, "value": "t1"}],
                }
            ],
        },
    )
    assert answer.json()["failedContacts"] == []
    state = admin.get("/state/reteno").json()
    assert state["contacts"][0]["fields"] == [{"id": 777, "value": "t1"}]
    assert state["fields"]["777"] == "tier"
    assert [r["status"] for r in state["requests"]] == [200]
    assert state["requests"][0]["n_contacts"] == 1
    assert admin.get("/contacts/reteno").json() == state["contacts"]
    assert {f["name"] for f in admin.get("/state/dotdigital").json()["data_fields"]} >= {"TIER"}
    assert "tier" in {f["name"] for f in admin.get("/state/pushtech").json()["custom_fields"]}
    assert admin.get("/state/mailchimp").status_code == 404
    assert admin.post("/reset").status_code == 200
    assert admin.get("/contacts/reteno").json() == []
    assert admin.get("/requests/reteno").json() == []


def test_requests_record_method_path_status_count_and_bytes(
    sandbox: SandboxServer, reteno: httpx.Client
) -> None:
    answer = reteno.post("/contacts", json=RETENO_BODY)
    reteno.get(f"/importstatus/{answer.json()['asyncSessionId']}")
    first, second = sandbox.requests("reteno")
    assert (first["method"], first["path"], first["status"]) == (
        "POST",
        "/reteno/api/v1/contacts",
        200,
    )
    assert first["n_contacts"] == 1
    assert first["bytes"] == len(answer.request.content)
    assert second["method"] == "GET"
    assert sandbox.requests("dotdigital") == []
    with pytest.raises(KeyError):
        sandbox.requests("mailchimp")


def test_rate_limits_answer_429_with_retry_after_and_no_effect() -> None:
    timing = Timing(reteno_calls_per_second=3, dotdigital_calls_per_minute=2)
    with SandboxServer(timing=timing) as sandbox:
        env = sandbox.env()
        reteno = httpx.Client(base_url=env["RETENO_API_URL"], auth=("u", env["RETENO_API_KEY"]))
        statuses = [reteno.post("/contacts", json=RETENO_BODY).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        dotdigital = httpx.Client(
            base_url=env["DOTDIGITAL_API_URL"],
            auth=(env["DOTDIGITAL_API_USER"], env["DOTDIGITAL_API_PASSWORD"]),
        )
        statuses = [dotdigital.get("/v2/data-fields").status_code for _ in range(2)]
        refused = dotdigital.put("/contacts/v3/import", json=DOTDIGITAL_BODY)
        assert (statuses, refused.status_code) == ([200, 200], 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert sandbox.contacts("dotdigital") == []

"""`contact-pipelines run` on the bundled samples against the sandbox, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core.config import load_config
from contact_pipelines.testing import clean_env, land_samples, run_cli, run_cli_with

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"
CONFIG = REPO / "data" / "config" / "pipeline.yaml"
SUMMARY_KEYS = {
    "rows_read",
    "rows_valid",
    "rows_rejected",
    "rejected_by_reason",
    "contacts",
    "segments",
    "vendors",
}
VENDOR_KEYS = {"sent", "created", "updated", "unchanged", "rejected"}

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded_sandbox(sandbox):
    seed_sandbox_fields(sandbox, load_config(CONFIG))
    return sandbox


def run_samples(tmp_path, sandbox, *extra_args, env_overrides=None, landing=None):
    landing = landing or land_samples(tmp_path / "landing")
    result = run_cli_with(tmp_path, sandbox, landing, *extra_args, env_overrides=env_overrides)
    summary_path = tmp_path / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return result, summary


def test_missing_vendor_secret_stops_that_vendor_before_any_call(tmp_path, seeded_sandbox):
    env = {k: v for k, v in seeded_sandbox.env().items()}
    result, summary = run_samples(
        tmp_path,
        seeded_sandbox,
        "--vendors",
        "reteno,dotdigital",
        env_overrides={"RETENO_API_KEY": ""},
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "RETENO_API_KEY" in result.stderr
    assert seeded_sandbox.requests("reteno") == []
    assert summary["vendors"]["dotdigital"]["sent"] > 0  # the other vendor went on
    assert env["DOTDIGITAL_API_PASSWORD"] not in result.stdout + result.stderr


def test_unreadable_file_fails_its_own_partition_only(tmp_path, seeded_sandbox):
    landing = land_samples(tmp_path / "landing")
    (landing / "broken_export.csv").write_bytes(bytes(range(256)) * 40)
    result, summary = run_samples(tmp_path, seeded_sandbox, "--vendors", "reteno", landing=landing)
    assert result.returncode == 1
    assert "broken_export.csv" in result.stderr
    assert summary["rows_read"] > 0 and summary["vendors"]["reteno"]["sent"] > 0


def test_dry_run_sends_nothing_and_needs_no_secrets(tmp_path, seeded_sandbox):
    result, summary = run_samples(
        tmp_path,
        seeded_sandbox,
        "--dry-run",
        env_overrides={
            "RETENO_API_KEY": "",
            "DOTDIGITAL_API_PASSWORD": "",
            "PUSHTECH_API_TOKEN": "",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(seeded_sandbox.requests(v) == [] for v in ("reteno", "dotdigital", "pushtech"))
    payload_files = list((tmp_path / "warehouse" / "_state" / "dry_run").glob("*.jsonl"))
    assert payload_files, "dry run wrote no payloads"
    lines = [json.loads(line) for f in payload_files for line in f.read_text().splitlines() if line]
    assert lines
    assert summary["contacts"] > 0


def test_cli_usage_errors_are_clear(tmp_path):
    result = run_cli(
        ["run", "--landing", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w")],
        clean_env({}),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "not a folder" in result.stderr
    result = run_cli(
        [
            "run",
            "--landing",
            str(tmp_path),
            "--warehouse",
            str(tmp_path / "w"),
            "--vendors",
            "mailchimp",
        ],
        clean_env({}),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "mailchimp" in result.stderr


def _by(contacts, predicate):
    found = [c for c in contacts if predicate(c)]
    assert len(found) == 1, f"expected exactly one match, found {len(found)}"
    return found[0]


def test_run_on_samples_puts_every_person_into_every_vendor(tmp_path, seeded_sandbox):
    result, summary = run_samples(tmp_path, seeded_sandbox)
    assert result.returncode == 0, result.stderr[-5000:]

    assert set(summary) == SUMMARY_KEYS
    assert (
        summary["rows_read"] == 71
    )  # 25 + 15 + 12 + 10 + 9 (8 JSON contacts, one with two devices)
    assert summary["rows_read"] == summary["rows_valid"] + summary["rows_rejected"]
    assert summary["rejected_by_reason"] == {
        "invalid_email": 2,
        "invalid_phone": 1,
        "no_identifier": 1,
    }
    assert 30 < summary["contacts"] < summary["rows_valid"]  # duplicates across files merged
    assert summary["segments"]["Customers"] > 0 and summary["segments"]["Ukraine"] > 0
    for vendor in ("reteno", "dotdigital", "pushtech"):
        counts = summary["vendors"][vendor]
        assert set(counts) == VENDOR_KEYS
        assert (
            counts["created"] + counts["updated"] + counts["unchanged"] + counts["rejected"]
            == summary["contacts"]
        )
        assert counts["sent"] == len(seeded_sandbox.contacts(vendor)) > 0

    reteno = _by(
        seeded_sandbox.contacts("reteno"), lambda c: c.get("externalCustomerId") == "C-10001"
    )
    channels = {(ch["type"], ch["value"]) for ch in reteno["channels"]}
    assert ("email", "olena.kovalenko@gmail.com") in channels
    assert ("sms", "380671234567") in channels  # international digits, from "067 123 45 67" in UA
    assert any(
        t == "mobilepush" for t, _ in channels
    )  # token from the JSON export, merged by external id
    assert {"id": 12345, "value": "gold"} in reteno["fields"]
    assert {"Customers", "VIP"} <= set(reteno["groups"])

    dotdigital = _by(
        seeded_sandbox.contacts("dotdigital"),
        lambda c: c["identifiers"].get("email") == "olena.kovalenko@gmail.com",
    )
    assert dotdigital["identifiers"]["mobileNumber"] == "+380671234567"  # E.164
    assert dotdigital["dataFields"]["PLAN"] == "gold"
    assert dotdigital["dataFields"]["FIRSTNAME"]
    assert {101, 102} <= set(dotdigital["lists"])

    pushtech = _by(seeded_sandbox.contacts("pushtech"), lambda c: c.get("user_id") == "C-10001")
    assert (pushtech["phone_countrycode"], pushtech["phone_number"]) == ("380", "671234567")
    assert pushtech["plan_type"] == "gold" and pushtech["gender"] == "FEMALE"
    assert pushtech["born_date"] == "1988-03-14T00:00:00Z"
    assert {"list_id": "5f1c0a", "subscribed": True} in pushtech["list_subscriptions"]

    # the person known as taras.melnyk in three files is one contact everywhere
    melnyk = [
        c
        for c in seeded_sandbox.contacts("dotdigital")
        if c["identifiers"].get("email") == "taras.melnyk@gmail.com"
    ]
    assert len(melnyk) == 1

    # a second run of the unchanged base sends nothing
    again, summary_again = run_samples(tmp_path, seeded_sandbox, landing=tmp_path / "landing")
    assert again.returncode == 0, again.stderr[-3000:]
    for vendor in ("reteno", "dotdigital", "pushtech"):
        assert summary_again["vendors"][vendor]["sent"] == 0
        assert summary_again["vendors"][vendor]["unchanged"] == summary["vendors"][vendor]["sent"]


def test_file_failing_a_blocking_check_is_quarantined(tmp_path, seeded_sandbox):
    landing = land_samples(tmp_path / "landing")
    bad_rows = "".join(f"not-an-email-{i},x\n" for i in range(20))
    (landing / "bad_batch.csv").write_text("Email,Note\n" + bad_rows + "ok@example.com,y\n")
    result, summary = run_samples(
        tmp_path, seeded_sandbox, "--vendors", "dotdigital", landing=landing
    )
    assert result.returncode == 1
    assert "bad_batch.csv" in result.stderr and "reject_rate" in result.stderr
    # its data is kept for inspection but reaches no vendor and no card
    assert summary["rows_read"] == 71
    emails = {c["identifiers"].get("email") for c in seeded_sandbox.contacts("dotdigital")}
    assert "ok@example.com" not in emails
    assert list((tmp_path / "warehouse" / "validation_quarantine").glob("bad_batch.csv@*.parquet"))

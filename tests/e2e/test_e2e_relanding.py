"""A corrected file landed again under the same name supersedes the old one downstream."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core.config import load_config
from contact_pipelines.core.warehouse import Warehouse
from contact_pipelines.runner import run_pipeline
from contact_pipelines.testing import SAMPLE_CONFIG, SAMPLES

pytestmark = pytest.mark.slow
CRM = "legacy_crm_2026-11.csv"


def test_relanded_file_supersedes_and_only_the_change_is_sent(tmp_path, sandbox, monkeypatch):
    seed_sandbox_fields(sandbox, load_config(SAMPLE_CONFIG))
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    landing = tmp_path / "landing"
    landing.mkdir()
    original = (SAMPLES / CRM).read_bytes()
    (landing / CRM).write_bytes(original)
    warehouse = str(tmp_path / "warehouse")

    with dg.instance_for_test() as instance:
        first = run_pipeline(landing, warehouse, str(SAMPLE_CONFIG), ("reteno",), instance=instance)
        assert first.ok, [str(f) for f in first.failures]
        sent_first = first.summary["vendors"]["reteno"]["sent"]

        corrected = original.replace(
            b"C-10003,iryna.bondar@ukr.net,Iryna,", b"C-10003,iryna.bondar@ukr.net,Irina,"
        )
        assert corrected != original
        (landing / CRM).write_bytes(corrected)
        second = run_pipeline(
            landing, warehouse, str(SAMPLE_CONFIG), ("reteno",), instance=instance
        )
        assert second.ok, [str(f) for f in second.failures]

    assert (
        second.summary["rows_read"] == first.summary["rows_read"]
    )  # the old version no longer counts
    assert second.summary["contacts"] == first.summary["contacts"]
    reteno = second.summary["vendors"]["reteno"]
    assert reteno["sent"] == 1 and reteno["updated"] == 1
    assert reteno["unchanged"] == sent_first - 1
    bondar = [c for c in sandbox.contacts("reteno") if c.get("externalCustomerId") == "C-10003"]
    assert len(bondar) == 1 and bondar[0]["firstName"] == "Irina"
    # both versions stay in the warehouse; the landing folder holds only what the user put there
    assert len(Warehouse(warehouse).partitions("raw_contacts")) == 2
    assert os.listdir(landing) == [CRM]

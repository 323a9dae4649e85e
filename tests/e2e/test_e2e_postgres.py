"""The pipeline on a Dagster instance configured by the repository's dagster.yaml, on PostgreSQL.

In CI (CI set) PostgreSQL must be there and this test fails without it; elsewhere it skips.
A fresh database per test keeps Dagster's storage and the delivery ledger independent of
earlier runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import pyarrow.parquet as pq
import pytest

from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core.config import load_config
from contact_pipelines.runner import run_pipeline

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "data" / "config" / "pipeline.yaml"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def fresh_database(postgres_url):
    name = f"cp_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_pipeline_on_postgres_instance(tmp_path, fresh_database, sandbox, monkeypatch):
    db_name, db_url = fresh_database
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    for var, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db_name,
        "DAGSTER_HOME": str(home),
        "CONTACT_PIPELINES_LEDGER_URL": db_url,
        **sandbox.env(),
    }.items():
        monkeypatch.setenv(var, value)
    seed_sandbox_fields(sandbox, load_config(CONFIG))
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(REPO / "data" / "samples" / "legacy_crm_2026-11.csv", landing)

    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    outcome = run_pipeline(landing, str(tmp_path / "warehouse"), str(CONFIG), instance=instance)

    assert outcome.ok, [str(f) for f in outcome.failures]
    assert (
        outcome.summary["rows_read"]
        == outcome.summary["rows_valid"] + outcome.summary["rows_rejected"]
    )
    assert outcome.summary["vendors"]["reteno"]["sent"] > 0
    runs = instance.get_runs()
    assert len(runs) == len(outcome.run_ids) and all(r.is_success for r in runs)
    materialized = instance.get_latest_materialization_event(dg.AssetKey("identity_graph"))
    assert materialized is not None
    # the ledger lives in the same PostgreSQL database
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema='public'")
        tables = {row[0] for row in cur.fetchall()}
    assert any("ledger" in t for t in tables), tables


def _postgres_instance_env(tmp_path, db_name: str, db_url: str, sandbox, monkeypatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    for var, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db_name,
        "DAGSTER_HOME": str(home),
        "CONTACT_PIPELINES_LEDGER_URL": db_url,
        **sandbox.env(),
    }.items():
        monkeypatch.setenv(var, value)


def _rerun_shard_like_the_runbook(shard: str) -> subprocess.CompletedProcess:
    """README, Journey 1 step 5: re-run one failed shard on its own from the command line."""
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "asset",
        "materialize",
        "-m",
        "contact_pipelines.definitions",
        "--partition",
        shard,
        "--select",
        "contact_cards,segment_memberships,reteno_sync",
    ]
    return subprocess.run(
        command, env=dict(os.environ), capture_output=True, text=True, timeout=600
    )


def test_failed_shards_rerun_alone_complete_the_job_on_postgres(
    tmp_path, fresh_database, sandbox, monkeypatch
):
    """Every shard's Reteno sync fails (a wrong API key); each failed shard is then re-run on
    its own, on the PostgreSQL instance, and sends only its own contacts; together they
    complete the job: every card has one outcome and the vendor holds every accepted one."""
    db_name, db_url = fresh_database
    _postgres_instance_env(tmp_path, db_name, db_url, sandbox, monkeypatch)
    seed_sandbox_fields(sandbox, load_config(CONFIG))
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(REPO / "data" / "samples" / "legacy_crm_2026-11.csv", landing)
    warehouse = tmp_path / "warehouse"
    monkeypatch.setenv("RETENO_API_KEY", "not-the-key")

    instance = dg.DagsterInstance.get()
    first = run_pipeline(
        landing, str(warehouse), str(CONFIG), vendors=("reteno",), instance=instance, parallel=1
    )
    failed = sorted({f.partition for f in first.failures if f.stage == "shard"}, key=int)
    assert failed == [str(s) for s in range(load_config(CONFIG).shards)], first.failures
    assert all("reteno_sync" in f.message for f in first.failures), first.failures
    assert sandbox.contacts("reteno") == []

    monkeypatch.setenv("RETENO_API_KEY", sandbox.env()["RETENO_API_KEY"])
    delivered = 0
    for shard in failed:
        rerun = _rerun_shard_like_the_runbook(shard)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        logs = list((warehouse / "delivery_log").glob(f"reteno-{shard}-*.parquet"))
        assert len(logs) == 1, logs  # the failed run wrote none; the re-run one
        log = pq.read_table(logs[0])
        cards = pq.read_table(warehouse / "contact_cards" / f"{shard}.parquet")
        assert log.num_rows == cards.num_rows  # one outcome per card of this shard
        delivered += sum(o in ("created", "updated") for o in log.column("outcome").to_pylist())
        # only this shard's contacts went out: the vendor holds exactly the ones so far
        assert len(sandbox.contacts("reteno")) == delivered

    runs = instance.get_runs(filters=dg.RunsFilter(job_name="shard_sync_job"))
    assert sum(r.is_success for r in runs) == 0  # the runbook's command runs __ASSET_JOB
    reruns = [r for r in instance.get_runs() if r.job_name != "shard_sync_job" and r.is_success]
    assert {r.tags.get("dagster/partition") for r in reruns} >= set(failed)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from delivery_ledger where vendor = 'reteno'")
        assert cur.fetchone()[0] >= delivered
        cur.execute("select count(*) from delivery_batches where status = 'in_flight'")
        assert cur.fetchone()[0] == 0

"""The pipeline on a Dagster instance configured by the repository's dagster.yaml, on PostgreSQL.

In CI (CI set) PostgreSQL must be there and this test fails without it; elsewhere it skips.
A fresh database per test keeps Dagster's storage and the delivery ledger independent of
earlier runs.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
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

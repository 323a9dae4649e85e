"""A generated base through the real pipeline (Dagster, the sandbox over HTTP), scored against truth."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from contact_pipelines import generate as gen
from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core import stages
from contact_pipelines.core.config import load_config
from contact_pipelines.core.warehouse import Warehouse
from contact_pipelines.runner import run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline_env(monkeypatch, sandbox):
    """The sandbox's endpoints, a temporary Dagster instance, and the runner's env vars restored."""
    for name in ("DAGSTER_HOME", "CONTACT_PIPELINES_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("LANDING", "WAREHOUSE", "CONFIG"):
        monkeypatch.setenv(f"CONTACT_PIPELINES_{name}", "")
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox


def test_generated_base_migrates_with_the_right_people(tmp_path, pipeline_env):
    base = gen.generate(600, tmp_path / "base", seed=11)
    seed_sandbox_fields(pipeline_env, load_config(base.config))
    warehouse = str(tmp_path / "warehouse")

    outcome = run_pipeline(base.landing, warehouse, str(base.config))

    assert outcome.ok, outcome.failures
    summary = outcome.summary
    assert summary["rows_read"] == base.rows
    assert summary["rows_rejected"] == base.rejected_rows
    assert summary["contacts"] == base.people
    identity = Warehouse(warehouse).read(stages.IDENTITY)
    score = gen.score_identity(pq.read_table(base.truth), identity)
    assert score.precision >= 0.99 and score.recall >= 0.99, score
    assert len(pipeline_env.contacts("reteno")) == base.people
